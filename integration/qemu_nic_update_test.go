package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQemuNICUpdate: virsh domif-setlink (update-device of an
// <interface> with a new <link state>) takes the guest's carrier down
// and up over QMP set_link, domif-getlink reads it back, --config
// changes only the persistent definition, and a model change is refused
// with libvirt's error.
func TestQemuNICUpdate(t *testing.T) {
	d, _ := netnsDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	mustVirsh(t, uri, "net-create "+writeTemp(t, "nicnet.xml", `<network>
  <name>nicnet</name>
  <bridge name='gvnic0'/>
  <ip address='10.78.0.1' prefix='24'/>
</network>
`))
	const netMAC = "52:54:00:aa:bb:02"
	dir := t.TempDir()
	conSock := filepath.Join(dir, "con.sock")
	const mac = "52:54:00:aa:bb:01"
	xml := testGuestXML(t, "nic1", "", `    <serial type='unix'>
      <source mode='bind' path='`+conSock+`'/>
      <target port='0'/>
    </serial>
    <interface type='user'>
      <mac address='`+mac+`'/>
      <model type='virtio'/>
    </interface>
    <interface type='network'>
      <mac address='`+netMAC+`'/>
      <source network='nicnet'/>
      <model type='virtio'/>
    </interface>
`)
	path := filepath.Join(dir, "nic1.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start nic1")
	con := console(t, conSock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, con.Output())
	}
	carrier := func(want string) {
		t.Helper()
		if err := con.Send(`ip link set eth0 up; sleep 1; echo GV-CARRIER-$(cat /sys/class/net/eth0/carrier)`); err != nil {
			t.Fatal(err)
		}
		if _, err := con.Expect("GV-CARRIER-"+want, 30*time.Second); err != nil {
			t.Fatalf("guest carrier is not %s: %v\n%s", want, err, con.Output())
		}
	}
	carrier("1")

	if out := mustVirsh(t, uri, "domif-setlink nic1 "+mac+" down"); !strings.Contains(out, "Device updated successfully") {
		t.Errorf("domif-setlink down: %q", out)
	}
	carrier("0")
	if out := mustVirsh(t, uri, "domif-getlink nic1 "+mac); !strings.Contains(out, mac+" down") {
		t.Errorf("domif-getlink after down: %q", out)
	}
	if x := mustVirsh(t, uri, "dumpxml nic1"); !strings.Contains(x, "<link state='down'/>") {
		t.Errorf("live XML lacks the link state:\n%s", x)
	}
	if x := mustVirsh(t, uri, "dumpxml --inactive nic1"); strings.Contains(x, "<link ") {
		t.Errorf("a live link change reached the persistent definition:\n%s", x)
	}
	mustVirsh(t, uri, "domif-setlink nic1 "+mac+" up")
	carrier("1")
	if out := mustVirsh(t, uri, "domif-getlink nic1 "+mac); !strings.Contains(out, mac+" up") {
		t.Errorf("domif-getlink after up: %q", out)
	}

	// --config: the persistent definition only.
	mustVirsh(t, uri, "domif-setlink nic1 "+mac+" down --config")
	if x := mustVirsh(t, uri, "dumpxml --inactive nic1"); !strings.Contains(x, "<link state='down'/>") {
		t.Errorf("--config did not reach the persistent definition:\n%s", x)
	}
	if out := mustVirsh(t, uri, "domif-getlink nic1 "+mac); !strings.Contains(out, mac+" up") {
		t.Errorf("--config changed the live link: %q", out)
	}

	// A model change cannot be done live (qemuDomainChangeNet).
	upd := filepath.Join(dir, "nic-model.xml")
	os.WriteFile(upd, []byte(`<interface type='user'><mac address='`+mac+`'/><model type='e1000'/></interface>`), 0o644)
	_, errOut, rc := virsh(t, uri, "update-device nic1 "+upd+" --live")
	if rc == 0 || !strings.Contains(errOut, "error: Operation not supported: cannot modify network device model from virtio to e1000") {
		t.Errorf("live model change: rc=%d %q", rc, errOut)
	}
	// A network interface written by hand (no bridge, alias or target,
	// as virsh's coverage template): only the link changes.
	os.WriteFile(upd, []byte(`<interface type='network'><mac address='`+netMAC+`'/><source network='nicnet'/><model type='virtio'/><link state='down'/></interface>`), 0o644)
	if out := mustVirsh(t, uri, "update-device nic1 "+upd+" --live"); !strings.Contains(out, "Device updated successfully") {
		t.Errorf("update-device of the network NIC: %q", out)
	}
	if out := mustVirsh(t, uri, "domif-getlink nic1 "+netMAC); !strings.Contains(out, netMAC+" down") {
		t.Errorf("domif-getlink of the network NIC: %q", out)
	}
	// Bandwidth: the tap is reshaped with tc, or tc's error where the
	// kernel lacks act_police (this host); a user NIC has no tap.
	os.WriteFile(upd, []byte(`<interface type='network'><mac address='`+netMAC+`'/><source network='nicnet'/><model type='virtio'/><link state='down'/><bandwidth><outbound average='100'/></bandwidth></interface>`), 0o644)
	_, errOut, rc = virsh(t, uri, "update-device nic1 "+upd+" --live")
	x := mustVirsh(t, uri, "dumpxml nic1")
	if rc == 0 && !strings.Contains(x, "<outbound average='100'/>") {
		t.Errorf("bandwidth update not in the live XML:\n%s", x)
	}
	if rc != 0 && (!strings.Contains(errOut, "Child process (tc filter add dev ") || strings.Contains(x, "<outbound")) {
		t.Errorf("bandwidth update: rc=%d %q\n%s", rc, errOut, x)
	}
	os.WriteFile(upd, []byte(`<interface type='user'><mac address='`+mac+`'/><model type='virtio'/><bandwidth><outbound average='100'/></bandwidth></interface>`), 0o644)
	_, errOut, rc = virsh(t, uri, "update-device nic1 "+upd+" --live")
	if rc == 0 || !strings.Contains(errOut, "error: Operation not supported: Unable to set bandwidth for interface because device name is unknown") {
		t.Errorf("bandwidth on a user NIC: rc=%d %q", rc, errOut)
	}

	// Another network is a reconnect, which is refused.
	os.WriteFile(upd, []byte(`<interface type='network'><mac address='`+netMAC+`'/><source network='other'/><model type='virtio'/></interface>`), 0o644)
	_, errOut, rc = virsh(t, uri, "update-device nic1 "+upd+" --live")
	if rc == 0 || !strings.Contains(errOut, "error: Operation not supported: unable to change config on 'network' network type") {
		t.Errorf("network change: rc=%d %q", rc, errOut)
	}

	// An unknown MAC: virDomainNetFindIdx's error.
	os.WriteFile(upd, []byte(`<interface type='user'><mac address='52:54:00:aa:bb:99'/><model type='virtio'/></interface>`), 0o644)
	_, errOut, rc = virsh(t, uri, "update-device nic1 "+upd+" --live")
	if rc == 0 || !strings.Contains(errOut, "error: device not found: no device found at address '(<null>)' matching MAC address '52:54:00:aa:bb:99' and alias '(<null>)'") {
		t.Errorf("unknown MAC: rc=%d %q", rc, errOut)
	}
}
