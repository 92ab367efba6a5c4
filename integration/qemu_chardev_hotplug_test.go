package integration

import (
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestQEMUChannelBackendsHotplug hot-plugs virtio channels on backends
// QEMU opens itself (qemuDomainAttachChrDevice's chardev-add): a pty,
// whose allocated path becomes the source, null, tcp client and udp;
// each then detaches again with DEVICE_REMOVED and leaves the live XML,
// and a channel on a kind of target govirt does not hot-plug is refused.
func TestQEMUChannelBackendsHotplug(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("qemu:///system needs root")
	}
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	defineGuestDevices(t, d, "chb", "<controller type='virtio-serial' index='0'/>\n")
	mustVirsh(t, uri, "start chb")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cases := []struct{ name, xml, source string }{
		{"pty", "<channel type='pty'><target type='virtio' name='org.example.pty'/></channel>", `<source path='/dev/pts/\d+'/>`},
		{"null", "<channel type='null'><target type='virtio' name='org.example.null'/></channel>", ""},
		{"tcp", "<channel type='tcp'><source mode='connect' host='127.0.0.1' service='" + port + "'/><protocol type='raw'/><target type='virtio' name='org.example.tcp'/></channel>", `<source mode='connect' host='127.0.0.1' service='` + port + `'/>`},
		{"udp", "<channel type='udp'><source mode='bind' host='127.0.0.1' service='0'/><source mode='connect' host='127.0.0.1' service='9'/><target type='virtio' name='org.example.udp'/></channel>", ""},
	}
	rm := watchAgentEvents(t, uri, "device-removed")
	for _, c := range cases {
		mustVirsh(t, uri, "attach-device chb "+writeTemp(t, c.name+".xml", c.xml)+" --live")
		live := mustVirsh(t, uri, "dumpxml chb")
		re := regexp.MustCompile(`(?s)<channel type='` + c.name + `'>\s*` + c.source + `.*?<target type='virtio' name='org.example.` + c.name + `'/>\s*<alias name='(channel\d+)'/>\s*` +
			`<address type='virtio-serial' controller='0' bus='0' port='\d+'/>\s*</channel>`)
		m := re.FindStringSubmatch(live)
		if m == nil {
			t.Fatalf("%s: live XML after the attach:\n%s", c.name, live)
		}
		// Detach with the channel as the live XML shows it: libvirt
		// matches the source too, so a pty without its path is not found.
		if c.name == "pty" {
			virshFails(t, uri, "detach-device chb "+writeTemp(t, "pty-np.xml", c.xml)+" --live",
				"device not found: chr type 'channel' device not present in domain configuration")
		}
		chXML := regexp.MustCompile(`(?s)<channel type='` + c.name + `'>.*?</channel>`).FindString(live)
		n := rm.mark()
		mustVirsh(t, uri, "detach-device chb "+writeTemp(t, c.name+"-d.xml", chXML)+" --live")
		rm.wait(t, n, "event 'device-removed' for domain 'chb': "+m[1], 10*time.Second)
		if out := mustVirsh(t, uri, "dumpxml chb"); strings.Contains(out, "org.example."+c.name) {
			t.Errorf("%s: still in the live XML after the detach:\n%s", c.name, out)
		}
	}
	// A virtio console: the next console index as port and alias, no
	// address, as libvirtd shows it.
	mustVirsh(t, uri, "attach-device chb "+writeTemp(t, "vc.xml", "<console type='pty'><target type='virtio'/></console>")+" --live")
	live := mustVirsh(t, uri, "dumpxml chb")
	vc := regexp.MustCompile(`<console type='pty'>\s*<source path='/dev/pts/\d+'/>\s*<target type='virtio' port='(\d+)'/>\s*<alias name='console(\d+)'/>\s*</console>`)
	m := vc.FindStringSubmatch(live)
	if m == nil || m[1] != m[2] {
		t.Fatalf("live XML after attaching a virtio console:\n%s", live)
	}
	n := rm.mark()
	mustVirsh(t, uri, "detach-device chb "+writeTemp(t, "vc-d.xml", m[0])+" --live")
	rm.wait(t, n, "event 'device-removed' for domain 'chb': console"+m[2], 10*time.Second)
	if out := mustVirsh(t, uri, "dumpxml chb"); strings.Contains(out, "type='virtio' port=") {
		t.Errorf("the virtio console is still in the live XML:\n%s", out)
	}
	// The persistent definition (qemuDomainChrRemove): a matching
	// channel goes, a serial console is refused by name.
	nullXML := writeTemp(t, "null-c.xml", cases[1].xml)
	mustVirsh(t, uri, "attach-device chb "+nullXML+" --config")
	if out := mustVirsh(t, uri, "dumpxml chb --inactive"); !strings.Contains(out, "org.example.null") {
		t.Fatalf("inactive XML after attach --config:\n%s", out)
	}
	mustVirsh(t, uri, "detach-device chb "+nullXML+" --config")
	if out := mustVirsh(t, uri, "dumpxml chb --inactive"); strings.Contains(out, "org.example.null") {
		t.Errorf("inactive XML after detach --config:\n%s", out)
	}
	virshFails(t, uri, "detach-device chb "+nullXML+" --config", "invalid argument: device not present in domain configuration")
	virshFails(t, uri, "detach-device chb "+writeTemp(t, "sc.xml", "<console type='pty'><target type='serial' port='0'/></console>")+" --config",
		"Requested operation is not valid: detaching serial console is not supported")
	virshFails(t, uri, "attach-device chb "+writeTemp(t, "file.xml", "<channel type='file'><source path='/tmp/x'/><target type='virtio' name='org.example.file'/></channel>")+" --live",
		"live attach of a virtio channel of type file is not supported")
	mustVirsh(t, uri, "destroy chb")
}
