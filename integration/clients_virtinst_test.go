package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVirtInstallProfiles imports a disk with virt-install 4.1's defaults
// for several OS profiles and displays, as a user would, and checks each
// guest is defined and running on govirtd's QEMU driver. The profiles
// cover what virt-install writes: index-less controllers and 14 root
// ports on q35, USB2 companion controllers, qxl and IDE on a generic
// i440fx guest, SPICE with port/tlsPort -1, image compression, spicevmc
// channels, USB redirection and sound, VNC, and a headless guest with a
// guest agent channel.
func TestVirtInstallProfiles(t *testing.T) {
	needTool(t, "virt-install", "virtinst")
	needQEMU(t)
	d := startClientsDaemon(t)
	dir := t.TempDir()
	profiles := []struct {
		name  string
		args  []string
		check []string // in the live XML
	}{
		{"debian11-q35-spice", []string{"--osinfo", "debian11"},
			[]string{"<graphics type='spice'", "<sound model='ich9'>", "<redirdev bus='usb' type='spicevmc'>", "model='pcie-root-port'"}},
		{"fedora-q35-vnc", []string{"--osinfo", "fedora37", "--graphics", "vnc"},
			[]string{"<graphics type='vnc'", "autoport='yes'", "model='qemu-xhci' ports='15'"}},
		{"generic-pc", []string{"--osinfo", "generic", "--machine", "pc"},
			[]string{"model='ich9-uhci3'", "<model type='qxl'", "bus='ide'", "<sound model='ich6'>"}},
		{"linux2022-pc-spice", []string{"--osinfo", "linux2022", "--machine", "pc", "--graphics", "spice"},
			[]string{"<graphics type='spice'", "machine='pc-i440fx-"}},
		{"headless-agent", []string{"--osinfo", "linux2022", "--graphics", "none",
			"--channel", "unix,target.type=virtio,target.name=org.qemu.guest_agent.0"},
			[]string{"name='org.qemu.guest_agent.0'"}},
	}
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			disk := qcow2Disk(t, dir, p.name+".qcow2")
			virtInstall(t, d, p.name, disk, p.args...)
			if st := domState(t, d, p.name); st != "running (booted)" {
				t.Fatalf("state %q after virt-install, want running\n%s", st, d.Log())
			}
			live := guestXMLOf(t, d, p.name)
			for _, want := range p.check {
				if !strings.Contains(live, want) {
					t.Errorf("live XML lacks %q:\n%s", want, live)
				}
			}
			// The persistent definition is there too (virt-install
			// defines, then starts).
			if !strings.Contains(mustVirsh(t, d.URI("qemu"), "list --all --persistent --name"), p.name) {
				t.Errorf("%s is not persistent", p.name)
			}
			// One guest at a time: TCG guests are heavy on a shared host.
			mustVirsh(t, d.URI("qemu"), "destroy "+p.name)
		})
	}
}

// TestVirtClone clones a guest virt-install defined (virt-clone copies the
// disk through the storage pool API and defines the copy) and starts the
// clone.
func TestVirtClone(t *testing.T) {
	needTool(t, "virt-install", "virtinst")
	needTool(t, "virt-clone", "virtinst")
	needQEMU(t)
	d := startClientsDaemon(t)
	dir := t.TempDir()
	disk := qcow2Disk(t, dir, "orig.qcow2")
	// Define only (--print-xml piped into define): virt-clone wants the
	// original shut off.
	xml, rc := runTool(t, 2*time.Minute, nil, "virt-install", "--connect", d.URI("qemu"), "--name", "orig",
		"--memory", "256", "--vcpus", "1", "--import", "--disk", disk, "--virt-type", virtType(),
		"--network", "user", "--osinfo", "linux2022", "--graphics", "vnc", "--print-xml")
	if rc != 0 {
		t.Fatalf("virt-install --print-xml: rc=%d\n%s", rc, xml)
	}
	path := filepath.Join(dir, "orig.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, d.URI("qemu"), "define "+path)
	clone := filepath.Join(dir, "clone.qcow2")
	out, rc := runTool(t, 2*time.Minute, nil, "virt-clone", "--connect", d.URI("qemu"),
		"--original", "orig", "--name", "orig-clone", "--file", clone)
	if rc != 0 {
		t.Fatalf("virt-clone: rc=%d\n%s\n%s", rc, out, d.Log())
	}
	if _, err := os.Stat(clone); err != nil {
		t.Fatalf("clone disk: %v", err)
	}
	mustVirsh(t, d.URI("qemu"), "start orig-clone")
	if st := domState(t, d, "orig-clone"); st != "running (booted)" {
		t.Fatalf("clone state %q, want running", st)
	}
	cx := guestXMLOf(t, d, "orig-clone")
	ox := guestXMLOf(t, d, "orig", "--inactive")
	if !strings.Contains(cx, clone) {
		t.Errorf("clone does not use its own disk %s:\n%s", clone, cx)
	}
	if uuidOf(cx) == uuidOf(ox) || uuidOf(cx) == "" {
		t.Errorf("clone has the original's uuid %q", uuidOf(cx))
	}
	mustVirsh(t, d.URI("qemu"), "destroy orig-clone")
}

func uuidOf(xml string) string {
	_, rest, ok := strings.Cut(xml, "<uuid>")
	if !ok {
		return ""
	}
	u, _, _ := strings.Cut(rest, "</uuid>")
	return u
}
