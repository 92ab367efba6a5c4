package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQEMUInterfaceLinkUpdate drives virsh domif-setlink and update-device
// on a running guest's NIC: the link goes down and up in QEMU (set_link,
// seen by the guest as its NIC's carrier), the live and persistent <link state=”>
// follow separately, and a change libvirt cannot make to a live NIC is
// refused with its message.
func TestQEMUInterfaceLinkUpdate(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	const mac = "52:54:00:aa:00:01"
	consoleSock := filepath.Join(d.dir, "lnk.console")
	xml := testGuestXML(t, "lnk", "", `    <serial type='unix'>
      <source mode='bind' path='`+consoleSock+`'/>
      <target port='0'/>
    </serial>
    <interface type='user'>
      <mac address='`+mac+`'/>
      <model type='virtio'/>
    </interface>
`)
	path := filepath.Join(t.TempDir(), "lnk.xml")
	os.WriteFile(path, []byte(xml), 0o644)
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start lnk")
	// QEMU does not show a NIC's link state; the guest sees it as the
	// carrier of its eth0.
	var con *testguest.Console
	boot := func() {
		con = console(t, consoleSock)
		if _, err := con.Expect("GOVIRT-GUEST-READY", bootTimeout()); err != nil {
			t.Fatalf("guest did not boot: %v\n%s", err, con.Output())
		}
		con.Send("ip link set eth0 up")
	}
	carrier := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			con.Send("echo carrier=$(cat /sys/class/net/eth0/carrier)")
			if _, err := con.Expect("carrier="+want, 2*time.Second); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("the guest's eth0 never had carrier %s\n%s", want, con.Output())
				return
			}
		}
	}
	boot()
	carrier("1")
	mustVirsh(t, uri, "domif-setlink lnk "+mac+" down")
	carrier("0")
	if out := strings.TrimSpace(mustVirsh(t, uri, "domif-getlink lnk "+mac)); !strings.HasSuffix(out, "down") {
		t.Errorf("domif-getlink: %q", out)
	}
	if x := mustVirsh(t, uri, "dumpxml lnk"); !strings.Contains(x, "<link state='down'/>") {
		t.Errorf("live XML:\n%s", x)
	}
	if x := mustVirsh(t, uri, "dumpxml --inactive lnk"); strings.Contains(x, "<link state=") {
		t.Errorf("a live change reached the persistent definition:\n%s", x)
	}
	mustVirsh(t, uri, "domif-setlink lnk "+mac+" up")
	carrier("1")
	mustVirsh(t, uri, "domif-setlink lnk "+mac+" down --config")
	if x := mustVirsh(t, uri, "dumpxml --inactive lnk"); !strings.Contains(x, "<link state='down'/>") {
		t.Errorf("persistent XML:\n%s", x)
	}
	model := filepath.Join(t.TempDir(), "nic.xml")
	os.WriteFile(model, []byte("<interface type='user'><mac address='"+mac+"'/><model type='e1000'/></interface>"), 0o644)
	if _, e, rc := virsh(t, uri, "update-device lnk "+model+" --live"); rc == 0 || !strings.Contains(e, "error: Operation not supported: cannot modify network device model from virtio to e1000") {
		t.Errorf("update-device changing the model: rc=%d %s", rc, e)
	}
	other := filepath.Join(t.TempDir(), "nic2.xml")
	os.WriteFile(other, []byte("<interface type='user'><mac address='52:54:00:aa:00:99'/><model type='virtio'/></interface>"), 0o644)
	if _, e, rc := virsh(t, uri, "update-device lnk "+other+" --live"); rc == 0 || !strings.Contains(e, "no device found at address '(<null>)' matching MAC address '52:54:00:aa:00:99' and alias '(<null>)'") {
		t.Errorf("update-device of an unknown NIC: rc=%d %s", rc, e)
	}
	mustVirsh(t, uri, "destroy lnk")
	// The persistent link state applies at the next start.
	mustVirsh(t, uri, "start lnk")
	boot()
	carrier("0")
	mustVirsh(t, uri, "destroy lnk")
}
