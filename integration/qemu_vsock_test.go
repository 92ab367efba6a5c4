package integration

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQEMUVsock starts a guest with <vsock> and an automatic CID through
// virsh: where the host has /dev/vhost-vsock govirtd opens it, acquires
// a free CID from 3 and records it in the live XML; without the device
// the start fails with libvirt's error before QEMU runs.
func TestQEMUVsock(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("vhost-vsock needs root")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	xml := testGuestXML(t, "vs1", "", `    <vsock model='virtio'>
      <cid auto='yes'/>
    </vsock>
`)
	mustVirsh(t, uri, "define "+writeTemp(t, "vs1.xml", xml))
	_, errOut, rc := virsh(t, uri, "start vs1")
	if _, err := os.Stat("/dev/vhost-vsock"); err != nil {
		if rc == 0 || !strings.Contains(errOut, "unsupported configuration: unable to open vhost-vsock device") {
			t.Fatalf("start without /dev/vhost-vsock: rc=%d %s", rc, errOut)
		}
		waitState(t, d, "vs1", "shut off (unknown)", 5*time.Second)
		return
	}
	if rc != 0 {
		t.Fatalf("start: %s", errOut)
	}
	live := mustVirsh(t, uri, "dumpxml vs1")
	m := regexp.MustCompile(`<cid auto='yes' address='(\d+)'/>`).FindStringSubmatch(live)
	if m == nil {
		t.Fatalf("live XML has no acquired CID:\n%s", live)
	}
	if cid, _ := strconv.Atoi(m[1]); cid < 3 {
		t.Errorf("CID %d < 3", cid)
	}
	mustVirsh(t, uri, "destroy vs1")
}
