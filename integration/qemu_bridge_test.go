package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pciInfo is the part of QMP query-pci's answer the bridge test reads:
// devices by id and the devices behind each bridge.
type pciInfo struct {
	Bus    int    `json:"bus"`
	Slot   int    `json:"slot"`
	QdevID string `json:"qdev_id"`
	Bridge *struct {
		Bus struct {
			Number int `json:"number"`
		} `json:"bus"`
		Devices []pciInfo `json:"devices"`
	} `json:"pci_bridge"`
}

// pciParent returns the qdev id of the bridge device id sits behind
// ("" on a root bus), and whether id was found at all.
func pciParent(devs []pciInfo, parent, id string) (string, bool) {
	for _, d := range devs {
		if d.QdevID == id {
			return parent, true
		}
		if d.Bridge != nil {
			if p, ok := pciParent(d.Bridge.Devices, d.QdevID, id); ok {
				return p, true
			}
		}
	}
	return "", false
}

// queryPCI returns every device of a running guest as QMP query-pci
// reports it.
func queryPCI(t *testing.T, uri, dom string) []pciInfo {
	t.Helper()
	var buses struct {
		Return []struct {
			Bus     int       `json:"bus"`
			Devices []pciInfo `json:"devices"`
		} `json:"return"`
	}
	qmpJSON(t, uri, dom, "query-pci", &buses)
	var all []pciInfo
	for _, b := range buses.Return {
		all = append(all, b.Devices...)
	}
	return all
}

// TestQ35PCIBridges defines, through virsh, q35 guests whose NICs are
// conventional PCI devices: one with only a user NIC of the default
// model (rtl8139), which the define-time step puts behind a
// pcie-to-pci-bridge on a root port it adds; one with a user-written
// dmi-to-pci-bridge and pci-bridge and an e1000 the user placed on the
// pci-bridge. dumpxml shows the bridges, each guest starts under TCG, and
// QEMU's own view (query-pci) has each NIC behind the bridge the
// definition names.
func TestQ35PCIBridges(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	define := func(name, devices string) string {
		xml := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
%s  </devices>
</domain>
`, name, devices)
		path := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
			t.Fatal(err)
		}
		mustVirsh(t, uri, "define "+path)
		t.Cleanup(func() { virsh(t, uri, "undefine "+name) })
		return mustVirsh(t, uri, "dumpxml --inactive "+name)
	}
	// QEMU lists the devices behind a bridge once the guest's firmware
	// has numbered the bridge's bus, so query-pci is asked until id is
	// there.
	start := func(name, id string) []pciInfo {
		mustVirsh(t, uri, "start "+name)
		t.Cleanup(func() { virsh(t, uri, "destroy "+name) })
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			all := queryPCI(t, uri, name)
			if _, ok := pciParent(all, "", id); ok || time.Now().After(deadline) {
				return all
			}
		}
	}
	behind := func(t *testing.T, all []pciInfo, id, want string) {
		t.Helper()
		got, ok := pciParent(all, "", id)
		if !ok {
			t.Errorf("query-pci lacks %s: %+v", id, all)
		} else if got != want {
			t.Errorf("%s is behind %q, want %q", id, got, want)
		}
	}

	t.Run("default-nic", func(t *testing.T) {
		inactive := define("bridge-auto", "    <interface type='user'/>\n")
		m := regexp.MustCompile(`<controller type='pci' index='(\d+)' model='pcie-to-pci-bridge'>\n      <model name='pcie-pci-bridge'/>\n      <address type='pci' domain='0x0000' bus='0x(\w+)'`).FindStringSubmatch(inactive)
		if m == nil {
			t.Fatalf("no pcie-to-pci-bridge:\n%s", inactive)
		}
		var idx, port int
		fmt.Sscan(m[1], &idx)
		fmt.Sscanf(m[2], "%x", &port)
		if !strings.Contains(inactive, fmt.Sprintf("<controller type='pci' index='%d' model='pcie-root-port'>", port)) {
			t.Errorf("the pcie-to-pci-bridge is not on a pcie-root-port:\n%s", inactive)
		}
		nic := "<model type='rtl8139'/>\n      " + pciAddr(idx, 1, 0) + "/>"
		if !strings.Contains(inactive, nic) {
			t.Errorf("inactive dumpxml lacks\n%s\n---\n%s", nic, inactive)
		}
		all := start("bridge-auto", "net0")
		behind(t, all, "net0", fmt.Sprintf("pci.%d", idx))
		behind(t, all, fmt.Sprintf("pci.%d", idx), fmt.Sprintf("pci.%d", port))
	})

	t.Run("pci-bridge", func(t *testing.T) {
		inactive := define("bridge-user", `    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='dmi-to-pci-bridge'/>
    <controller type='pci' index='2' model='pci-bridge'/>
    <interface type='user'/>
    <interface type='user'>
      <model type='e1000'/>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x03' function='0x0'/>
    </interface>
`)
		for _, w := range []string{
			"<controller type='pci' index='1' model='dmi-to-pci-bridge'>\n      <model name='i82801b11-bridge'/>\n      " + pciAddr(0, 0x1e, 0) + "/>",
			"<controller type='pci' index='2' model='pci-bridge'>\n      <model name='pci-bridge'/>\n      <target chassisNr='2'/>\n      " + pciAddr(1, 0, 0) + "/>",
			"<model type='rtl8139'/>\n      " + pciAddr(2, 1, 0) + "/>",
			"<model type='e1000'/>\n      " + pciAddr(2, 3, 0) + "/>",
		} {
			if !strings.Contains(inactive, w) {
				t.Errorf("inactive dumpxml lacks\n%s\n---\n%s", w, inactive)
			}
		}
		all := start("bridge-user", "net1")
		behind(t, all, "net0", "pci.2")
		behind(t, all, "net1", "pci.2")
		behind(t, all, "pci.2", "pci.1")
		behind(t, all, "pci.1", "")
	})
}

// TestLoadPostParse writes definitions as govirt saved them before it had
// the define-time post-parse step (no addresses, no implicit
// controllers) into the daemon's state directory and restarts the
// daemon: like libvirtd, it post-parses what it loads, so dumpxml shows
// the bridge and addresses; a definition the step refuses is kept as
// written.
func TestLoadPostParse(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	defs := filepath.Join(d.dir, "state", "qemu")
	old := func(name, machine, devices string) {
		xml := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <uuid>%s</uuid>
  <memory unit='KiB'>65536</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='%s'>hvm</type>
  </os>
  <devices>
%s  </devices>
</domain>
`, name, map[string]string{"old-q35": "5b1e0a3c-55a4-4b8e-9d0e-6a8f0b1c2d3e", "old-microvm": "5b1e0a3c-55a4-4b8e-9d0e-6a8f0b1c2d3f"}[name], machine, devices)
		if err := os.WriteFile(filepath.Join(defs, name+".xml"), []byte(xml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old("old-q35", "q35", "    <interface type='user'>\n      <mac address='52:54:00:12:34:56'/>\n    </interface>\n")
	old("old-microvm", "microvm", "")
	d.crashRestart()
	got := mustVirsh(t, uri, "dumpxml --inactive old-q35")
	for _, w := range []string{
		"<type arch='x86_64' machine='pc-q35-",
		"model='pcie-to-pci-bridge'>",
		"<mac address='52:54:00:12:34:56'/>\n      <model type='rtl8139'/>\n      <address type='pci'",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("loaded definition lacks\n%s\n---\n%s", w, got)
		}
	}
	mustVirsh(t, uri, "start old-q35")
	virsh(t, uri, "destroy old-q35")
	// The post-parse step does not model the microvm machine: the
	// definition is there as written (libvirt would take it).
	got = mustVirsh(t, uri, "dumpxml --inactive old-microvm")
	if !strings.Contains(got, "<type arch='x86_64' machine='microvm'>") || strings.Contains(got, "<controller") {
		t.Errorf("old-microvm not kept as written:\n%s", got)
	}
	if !strings.Contains(d.Log(), "definition kept without post-parse defaults") {
		t.Errorf("the kept definition was not logged:\n%s", d.Log())
	}
}
