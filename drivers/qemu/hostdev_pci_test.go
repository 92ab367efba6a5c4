package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/drivers/qemu/command"
)

// fakePCI is a sysfs PCI tree whose writes are acted upon by a goroutine-
// free "kernel": the test applies unbind/drivers_probe itself by calling
// settle after each step.
type fakePCI struct {
	t    *testing.T
	root string
}

func newFakePCI(t *testing.T, devs map[string]string) *fakePCI {
	root := t.TempDir()
	f := &fakePCI{t, root}
	for _, d := range []string{"e1000e", "vfio-pci"} {
		os.MkdirAll(filepath.Join(root, "drivers", d), 0o755)
	}
	for addr, drv := range devs {
		dir := filepath.Join(root, "devices", addr)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "driver_override"), nil, 0o644)
		if drv != "" {
			f.link(addr, drv)
		}
	}
	os.WriteFile(filepath.Join(root, "drivers_probe"), nil, 0o644)
	return f
}

func (f *fakePCI) link(addr, drv string) {
	dev := filepath.Join(f.root, "devices", addr)
	os.Remove(filepath.Join(dev, "driver"))
	if drv == "" {
		return
	}
	if err := os.Symlink(filepath.Join(f.root, "drivers", drv), filepath.Join(dev, "driver")); err != nil {
		f.t.Fatal(err)
	}
}

// TestHostPCIManaged binds a managed function to vfio-pci through
// driver_override, unbind and drivers_probe, records it and gives it back
// to its driver once the guest stops; sysfs writes are checked against a
// fake tree (the kernel's part is played by the test).
func TestHostPCIManaged(t *testing.T) {
	f := newFakePCI(t, map[string]string{"0000:06:12.5": "e1000e", "0000:07:00.0": "vfio-pci"})
	old := sysfsPCI
	sysfsPCI = f.root
	t.Cleanup(func() { sysfsPCI = old })
	dev := filepath.Join(f.root, "devices", "0000:06:12.5")
	// The fake driver's unbind file: writing it unbinds, as the kernel.
	unbind := filepath.Join(f.root, "drivers", "e1000e", "unbind")
	os.WriteFile(unbind, nil, 0o644)
	os.WriteFile(filepath.Join(f.root, "drivers", "vfio-pci", "unbind"), nil, 0o644)
	dir := t.TempDir()

	// The kernel would bind vfio-pci on drivers_probe; the fake binds at
	// once so waitPCIDriver sees it.
	f.link("0000:06:12.5", "vfio-pci")
	err := prepareHostPCI(dir, []command.HostPCI{{Address: "0000:06:12.5", Managed: true}, {Address: "0000:07:00.0"}})
	if err != nil {
		t.Fatal(err)
	}
	// Already on vfio-pci: nothing to take, nothing recorded.
	rec, _ := os.ReadFile(filepath.Join(dir, hostPCIRecordFile))
	if strings.Contains(string(rec), "06:12.5") {
		t.Errorf("a function already on vfio-pci was recorded: %s", rec)
	}

	// Now the real flow: on e1000e, managed.
	f.link("0000:06:12.5", "e1000e")
	done := make(chan struct{})
	go func() {
		// Play the kernel: once drivers_probe names the function, bind
		// the overridden driver.
		defer close(done)
		for i := 0; i < 500; i++ {
			p, _ := os.ReadFile(filepath.Join(f.root, "drivers_probe"))
			o, _ := os.ReadFile(filepath.Join(dev, "driver_override"))
			if string(p) == "0000:06:12.5" && string(o) == "vfio-pci" {
				f.link("0000:06:12.5", "vfio-pci")
				return
			}
			sleepMs(2)
		}
	}()
	if err := prepareHostPCI(dir, []command.HostPCI{{Address: "0000:06:12.5", Managed: true}}); err != nil {
		t.Fatal(err)
	}
	<-done
	if u, _ := os.ReadFile(unbind); string(u) != "0000:06:12.5" {
		t.Errorf("unbind from e1000e got %q", u)
	}
	rec, _ = os.ReadFile(filepath.Join(dir, hostPCIRecordFile))
	if !strings.Contains(string(rec), `"address":"0000:06:12.5","driver":"e1000e"`) {
		t.Errorf("record: %s", rec)
	}

	// Stop: the override is cleared, vfio-pci unbound, probed again.
	reattachHostPCI(dir)
	if o, _ := os.ReadFile(filepath.Join(dev, "driver_override")); string(o) != "\n" {
		t.Errorf("driver_override after reattach: %q", o)
	}
	if u, _ := os.ReadFile(filepath.Join(f.root, "drivers", "vfio-pci", "unbind")); string(u) != "0000:06:12.5" {
		t.Errorf("unbind from vfio-pci got %q", u)
	}
	if _, err := os.Stat(filepath.Join(dir, hostPCIRecordFile)); err == nil {
		t.Error("record left after reattach")
	}

	// Unmanaged and not on vfio-pci: refused; a missing function too.
	f.link("0000:06:12.5", "e1000e")
	if err := prepareHostPCI(dir, []command.HostPCI{{Address: "0000:06:12.5"}}); err == nil || !strings.Contains(err.Error(), "not bound to vfio-pci") {
		t.Errorf("unmanaged: %v", err)
	}
	if err := prepareHostPCI(dir, []command.HostPCI{{Address: "0000:99:00.0", Managed: true}}); err == nil || !strings.Contains(err.Error(), "Device 0000:99:00.0 not found") {
		t.Errorf("missing: %v", err)
	}
}

func sleepMs(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }
