package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// postparseGuest is a minimal guest as a user or a tool writes it: one
// disk, one NIC, VNC, nothing libvirt fills in.
func postparseGuest(name, machine, img, nicModel string) string {
	model := ""
	if nicModel != "" {
		model = fmt.Sprintf("<model type='%s'/>", nicModel)
	}
	return fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='%s'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'>%s</interface>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
  </devices>
</domain>
`, name, machine, img, model)
}

func pciAddr(bus, slot, fn int) string {
	return fmt.Sprintf("<address type='pci' domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x%x'", bus, slot, fn)
}

// TestPostParseDefaults defines minimal i440fx and q35 guests through
// virsh and checks that dumpxml of the inactive guest shows what libvirtd
// shows for them (the machine type resolved, the default CPU, the
// implicit controllers, PCI addresses, MAC, inputs, video, audio and
// balloon), then starts each under TCG and checks the running guest kept
// those addresses: the command line builder accepts its own defaults.
func TestPostParseDefaults(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, machine, nic string
		want               []string
	}{
		{"pp-i440fx", "pc", "", []string{
			"<type arch='x86_64' machine='pc-i440fx-",
			"<cpu mode='custom' match='exact' check='none'>",
			"<model fallback='forbid'>qemu64</model>",
			"<driver name='qemu' type='raw'/>",
			"<target dev='vda' bus='virtio'/>\n      " + pciAddr(0, 4, 0),
			"<controller type='usb' index='0' model='piix3-uhci'>\n      " + pciAddr(0, 1, 2),
			"<controller type='pci' index='0' model='pci-root'/>",
			"<mac address='52:54:00:",
			"<model type='rtl8139'/>\n      " + pciAddr(0, 3, 0),
			"<input type='mouse' bus='ps2'/>\n    <input type='keyboard' bus='ps2'/>",
			"<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'>\n      <listen type='address' address='127.0.0.1'/>",
			"<audio id='1' type='none'/>",
			"<model type='cirrus' vram='16384' heads='1' primary='yes'/>\n      " + pciAddr(0, 2, 0),
			"<memballoon model='virtio'>\n      " + pciAddr(0, 5, 0),
		}},
		{"pp-q35", "q35", "virtio", []string{
			"<type arch='x86_64' machine='pc-q35-",
			"<cpu mode='custom' match='exact' check='none'>",
			"<target dev='vda' bus='virtio'/>\n      " + pciAddr(3, 0, 0),
			"<controller type='usb' index='0' model='qemu-xhci'>\n      " + pciAddr(2, 0, 0),
			"<controller type='sata' index='0'>\n      " + pciAddr(0, 0x1f, 2),
			"<controller type='pci' index='0' model='pcie-root'/>",
			"<controller type='pci' index='1' model='pcie-root-port'>\n      <model name='pcie-root-port'/>\n      <target chassis='1' port='0x10'/>\n      " + pciAddr(0, 2, 0) + " multifunction='on'/>",
			"<controller type='pci' index='4' model='pcie-root-port'>\n      <model name='pcie-root-port'/>\n      <target chassis='4' port='0x13'/>\n      " + pciAddr(0, 2, 3) + "/>",
			// libvirt's spare root port for hotplug.
			"<controller type='pci' index='5' model='pcie-root-port'>\n      <model name='pcie-root-port'/>\n      <target chassis='5' port='0x14'/>\n      " + pciAddr(0, 2, 4) + "/>",
			"<mac address='52:54:00:",
			"<model type='virtio'/>\n      " + pciAddr(1, 0, 0),
			"<input type='mouse' bus='ps2'/>\n    <input type='keyboard' bus='ps2'/>",
			"<audio id='1' type='none'/>",
			"<model type='cirrus' vram='16384' heads='1' primary='yes'/>\n      " + pciAddr(0, 1, 0),
			"<memballoon model='virtio'>\n      " + pciAddr(4, 0, 0),
		}},
	}
	for _, c := range cases {
		t.Run(c.machine, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".xml")
			if err := os.WriteFile(path, []byte(postparseGuest(c.name, c.machine, img, c.nic)), 0o644); err != nil {
				t.Fatal(err)
			}
			mustVirsh(t, uri, "define "+path)
			inactive := mustVirsh(t, uri, "dumpxml --inactive "+c.name)
			for _, w := range c.want {
				if !strings.Contains(inactive, w) {
					t.Errorf("inactive dumpxml lacks\n%s\n---\n%s", w, inactive)
				}
			}
			if n := strings.Count(inactive, "model='pcie-root-port'"); c.machine == "q35" && n != 5 {
				t.Errorf("%d pcie-root-ports, want 5 (4 used, 1 spare)", n)
			}
			// The definition is stable: defining what dumpxml shows
			// changes nothing (the MAC stays, no second set of ports).
			again := filepath.Join(dir, c.name+"-again.xml")
			os.WriteFile(again, []byte(inactive), 0o644)
			mustVirsh(t, uri, "define "+again)
			if got := mustVirsh(t, uri, "dumpxml --inactive "+c.name); got != inactive {
				t.Errorf("redefining dumpxml's output changed it:\n%s\n---\n%s", inactive, got)
			}
			mustVirsh(t, uri, "start "+c.name)
			defer virsh(t, uri, "destroy "+c.name)
			live := mustVirsh(t, uri, "dumpxml "+c.name)
			addr := regexp.MustCompile(`<address type='pci'[^>]*>`)
			for _, a := range addr.FindAllString(inactive, -1) {
				if !strings.Contains(live, a) {
					t.Errorf("running guest lost address %s:\n%s", a, live)
				}
			}
			mac := regexp.MustCompile(`<mac address='[^']*'/>`).FindString(inactive)
			if mac == "" || !strings.Contains(live, mac) {
				t.Errorf("running guest has another MAC than %q:\n%s", mac, live)
			}
		})
	}
}
