package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQEMUPasst starts a guest whose user interface has the passt
// backend through virsh: govirtd starts passt on the interface's socket
// before QEMU, the guest gets its address from passt's DHCP, and passt
// is gone once the guest is destroyed.
func TestQEMUPasst(t *testing.T) {
	if _, err := exec.LookPath("passt"); err != nil {
		t.Skip("passt not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	consoleSock := filepath.Join(d.dir, "pt.console")
	xml := testGuestXML(t, "pt", "", fmt.Sprintf(`    <interface type='user'>
      <mac address='52:54:00:cc:00:01'/>
      <ip address='10.77.0.5' family='ipv4' prefix='24'/>
      <model type='virtio'/>
      <backend type='passt'/>
      <portForward proto='tcp'>
        <range start='20222' to='22'/>
      </portForward>
    </interface>
    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
`, consoleSock))
	mustVirsh(t, uri, "define "+writeTemp(t, "pt.xml", xml))
	mustVirsh(t, uri, "start pt")
	if len(procsWithArg("52:54:00:cc:00:01")) == 0 {
		t.Fatalf("no passt for the guest's MAC\n%s", d.Log())
	}
	con := console(t, consoleSock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, d.Log())
	}
	con.Send("ip link set eth0 up; udhcpc -i eth0 -n -q -t 10 -s /bin/true")
	if _, err := con.Expect("lease of 10.77.0.5 obtained", 60*time.Second); err != nil {
		t.Errorf("no DHCP lease from passt: %v\n%s", err, con.Output())
	}
	mustVirsh(t, uri, "destroy pt")
	deadline := time.Now().Add(15 * time.Second)
	for len(procsWithArg("52:54:00:cc:00:01")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("passt still running after destroy")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
