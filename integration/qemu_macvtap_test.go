package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQEMUDirectMacvtap starts a guest with <interface type='direct'> on
// a veth host interface (inside a private network namespace) through
// virsh: govirtd creates a macvtap device in bridge mode with the guest's
// MAC, QEMU gets its descriptor, the live XML names it, and it is deleted
// when the guest stops.
func TestQEMUDirectMacvtap(t *testing.T) {
	d, ns := netnsDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	if out, err := inNetns(ns, "sh", "-c", "ip link add gvdum0 type veth peer name gvdum1 && ip link set gvdum0 up"); err != nil {
		t.Skipf("no veth pair: %v %s", err, out)
	}
	uri := d.URI("qemu")
	consoleSock := filepath.Join(d.dir, "mv.console")
	xml := testGuestXML(t, "mv", "", fmt.Sprintf(`    <interface type='direct'>
      <mac address='52:54:00:bb:00:01'/>
      <source dev='gvdum0' mode='bridge'/>
      <model type='virtio'/>
    </interface>
    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
`, consoleSock))
	mustVirsh(t, uri, "define "+writeTemp(t, "mv.xml", xml))
	mustVirsh(t, uri, "start mv")
	waitState(t, d, "mv", "running (booted)", 10*time.Second)
	live := mustVirsh(t, uri, "dumpxml mv")
	if !strings.Contains(live, "<target dev='macvtap0'/>") {
		t.Errorf("live XML lacks the macvtap:\n%s", live)
	}
	out, err := inNetns(ns, "ip", "-d", "link", "show", "macvtap0")
	if err != nil || !strings.Contains(out, "macvtap0@gvdum0") || !strings.Contains(out, "52:54:00:bb:00:01") ||
		!strings.Contains(out, "macvtap mode bridge") {
		t.Errorf("macvtap0: %v\n%s", err, out)
	}
	mustVirsh(t, uri, "destroy mv")
	if out, err := inNetns(ns, "ip", "link", "show", "macvtap0"); err == nil {
		t.Errorf("macvtap0 left after destroy:\n%s", out)
	}
}
