package integration

import (
	"fmt"
	"path/filepath"
	"testing"

	"govirt/testguest"
)

// TestQEMUNetLinkDown starts a guest whose virtio NIC has <link
// state='down'/> through virsh: govirtd sets the link down before the
// vCPUs run, so the guest sees no carrier, while the NIC with its link up
// has one.
func TestQEMUNetLinkDown(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	consoleSock := filepath.Join(d.dir, "ld.console")
	xml := testGuestXML(t, "ld", "", fmt.Sprintf(`    <interface type='user'>
      <mac address='52:54:00:aa:00:01'/>
      <model type='virtio'/>
      <link state='down'/>
    </interface>
    <interface type='user'>
      <mac address='52:54:00:aa:00:02'/>
      <model type='virtio'/>
    </interface>
    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
`, consoleSock))
	mustVirsh(t, uri, "define "+writeTemp(t, "ld.xml", xml))
	mustVirsh(t, uri, "start ld")
	con := console(t, consoleSock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, d.Log())
	}
	con.Send("for i in /sys/class/net/eth*; do ip link set ${i##*/} up; done; sleep 1; " +
		"for i in /sys/class/net/eth*; do echo CARRIER $(cat $i/address) $(cat $i/carrier); done")
	for _, want := range []string{"CARRIER 52:54:00:aa:00:01 0", "CARRIER 52:54:00:aa:00:02 1"} {
		if _, err := con.Expect(want, 30e9); err != nil {
			t.Errorf("guest lacks %q: %v\n%s", want, err, con.Output())
		}
	}
	mustVirsh(t, uri, "destroy ld")
}
