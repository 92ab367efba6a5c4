package integration

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestQEMUNWFilterUpdateDevice changes the <filterref> of a running
// guest's NIC with virsh update-device, as libvirt's qemuDomainChangeNet
// (qemuDomainChangeNetFilter): the binding of the same tap is replaced
// and its rules re-applied (the guest's traffic follows the new filter),
// a filter that cannot be instantiated fails with libvirt's message and
// leaves the old binding, and a NIC without <filterref> loses its
// binding and chains.
func TestQEMUNWFilterUpdateDevice(t *testing.T) {
	d, ns, uri := nwfilterNATDaemon(t)
	// Drops the guest's IPv4 packets to $DST (a parameter of the
	// filterref).
	mustVirsh(t, uri, "nwfilter-define "+writeTemp(t, "f.xml", `<filter name='gvupd' chain='root'>
  <rule action='drop' direction='out'><ip dstipaddr='$DST'/></rule>
</filter>`))

	nicXML := func(filterref string) string {
		return fmt.Sprintf(`<interface type='network'>
  <mac address='52:54:00:11:22:55'/>
  <source network='gvnat'/>
  <model type='virtio'/>
  %s
</interface>`, filterref)
	}
	consoleSock := filepath.Join(d.dir, "nwfu.console")
	dom := testGuestXML(t, "nwfupd", "", fmt.Sprintf(`    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
%s
`, consoleSock, nicXML("<filterref filter='no-mac-spoofing'/>")))
	mustVirsh(t, uri, "define "+writeTemp(t, "dom.xml", dom))
	mustVirsh(t, uri, "start nwfupd")
	live := mustVirsh(t, uri, "dumpxml nwfupd")
	m := regexp.MustCompile(`<target dev='([^']+)'/>`).FindStringSubmatch(live)
	if m == nil {
		t.Fatalf("live interface:\n%s", live)
	}
	tap := m[1]
	chains := func() string {
		out, err := inNetns(ns, "ebtables", "--concurrent", "-t", "nat", "-L")
		if err != nil {
			t.Fatalf("ebtables -t nat -L: %v\n%s", err, out)
		}
		return out
	}
	if rules := chains(); !strings.Contains(rules, "Bridge chain: I-"+tap+"-mac") {
		t.Fatalf("no-mac-spoofing chains:\n%s", rules)
	}
	con := console(t, consoleSock)
	if _, err := con.Expect("GOVIRT-GUEST-READY", bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, con.Output())
	}
	con.Send("ip link set eth0 up; ip addr add 192.168.150.20/24 dev eth0; ping -c 2 -W 2 192.168.150.1 && echo PING-OK-1")
	if _, err := con.Expect("PING-OK-1", 30*time.Second); err != nil {
		t.Fatalf("guest cannot reach the host: %v\n%s", err, con.Output())
	}
	update := func(filterref string) (string, int) {
		_, e, rc := virsh(t, uri, "update-device", "nwfupd", writeTemp(t, "nic.xml", nicXML(filterref)), "--live")
		return e, rc
	}

	// Another filter with a parameter: same tap, new binding and rules.
	if e, rc := update(`<filterref filter='gvupd'><parameter name='DST' value='192.168.150.1'/></filterref>`); rc != 0 {
		t.Fatalf("update-device to gvupd: %s\n%s", e, d.Log())
	}
	bx := mustVirsh(t, uri, "nwfilter-binding-dumpxml "+tap)
	for _, want := range []string{"<filterref filter='gvupd'>", "<parameter name='DST' value='192.168.150.1'/>", "<parameter name='MAC' value='52:54:00:11:22:55'/>"} {
		if !strings.Contains(bx, want) {
			t.Errorf("binding lacks %q:\n%s", want, bx)
		}
	}
	rules := chains()
	if !strings.Contains(rules, "--ip-dst 192.168.150.1 -j DROP") || strings.Contains(rules, "-s 52:54:00:11:22:55 -j RETURN") ||
		strings.Contains(rules, "I-"+tap+"-mac") {
		t.Errorf("rules after the update to gvupd:\n%s", rules)
	}
	if live := mustVirsh(t, uri, "dumpxml nwfupd"); !strings.Contains(live, "<filterref filter='gvupd'>") ||
		!strings.Contains(live, "<parameter name='DST' value='192.168.150.1'/>") || !strings.Contains(live, "<target dev='"+tap+"'/>") {
		t.Errorf("live XML after the update:\n%s", live)
	}
	con.Send("ping -c 2 -W 2 192.168.150.1 || echo PING-BLOCKED")
	if _, err := con.Expect("PING-BLOCKED", 30*time.Second); err != nil {
		t.Fatalf("the new filter does not drop: %v\n%s", err, con.Output())
	}

	// A filter that does not exist: libvirt's error, the old binding back.
	if e, rc := update(`<filterref filter='gvnosuch'/>`); rc == 0 || !strings.Contains(e, "failed to add new filter rules to '"+tap+"' - attempting to restore old rules") {
		t.Errorf("update-device to a missing filter: rc %d %s", rc, e)
	}
	if out := mustVirsh(t, uri, "nwfilter-binding-list"); !regexp.MustCompile(`(?m)^ ` + tap + `\s+gvupd\s*$`).MatchString(out) {
		t.Errorf("binding after the failed update:\n%s", out)
	}
	if live := mustVirsh(t, uri, "dumpxml nwfupd"); !strings.Contains(live, "<filterref filter='gvupd'>") {
		t.Errorf("live XML after the failed update:\n%s", live)
	}

	// No <filterref>: the binding and its chains go, traffic flows.
	if e, rc := update(""); rc != 0 {
		t.Fatalf("update-device without filterref: %s", e)
	}
	if out := mustVirsh(t, uri, "nwfilter-binding-list"); strings.Contains(out, tap) {
		t.Errorf("binding left:\n%s", out)
	}
	if rules := chains(); strings.Contains(rules, tap) {
		t.Errorf("chains left:\n%s", rules)
	}
	if live := mustVirsh(t, uri, "dumpxml nwfupd"); strings.Contains(live, "<filterref") {
		t.Errorf("live XML keeps a filterref:\n%s", live)
	}
	con.Send("ping -c 2 -W 2 192.168.150.1 && echo PING-OK-2")
	if _, err := con.Expect("PING-OK-2", 30*time.Second); err != nil {
		t.Fatalf("traffic blocked without a filter: %v\n%s", err, con.Output())
	}

	// And a filter added to a NIC that had none.
	if e, rc := update(`<filterref filter='no-mac-spoofing'/>`); rc != 0 {
		t.Fatalf("update-device adding a filter: %s", e)
	}
	if rules := chains(); !strings.Contains(rules, "Bridge chain: I-"+tap+"-mac") {
		t.Errorf("rules of the added filter:\n%s", rules)
	}
	mustVirsh(t, uri, "destroy nwfupd")
	if rules := chains(); strings.Contains(rules, tap) {
		t.Errorf("chains of %s left after destroy:\n%s", tap, rules)
	}
}

// TestQEMUNWFilterSniffIP gives a guest with a static address (no DHCP
// lease govirt's networks know) clean-traffic without IP: as libvirt's
// learnIPAddressThread, the address is learned from the first IPv4
// packet the guest sends on its tap, becomes the binding's IP and the
// rules use it.
func TestQEMUNWFilterSniffIP(t *testing.T) {
	d, ns, uri := nwfilterNATDaemon(t)
	consoleSock := filepath.Join(d.dir, "nwfs.console")
	dom := testGuestXML(t, "nwfsniff", "", fmt.Sprintf(`    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
    <interface type='network'>
      <mac address='52:54:00:11:22:77'/>
      <source network='gvnat'/>
      <model type='virtio'/>
      <filterref filter='clean-traffic'/>
    </interface>
`, consoleSock))
	mustVirsh(t, uri, "define "+writeTemp(t, "dom.xml", dom))
	mustVirsh(t, uri, "start nwfsniff")
	m := regexp.MustCompile(`<target dev='([^']+)'/>`).FindStringSubmatch(mustVirsh(t, uri, "dumpxml nwfsniff"))
	if m == nil {
		t.Fatal("no tap")
	}
	tap := m[1]
	con := console(t, consoleSock)
	if _, err := con.Expect("GOVIRT-GUEST-READY", bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, con.Output())
	}
	con.Send("ip link set eth0 up; ip addr add 192.168.150.40/24 dev eth0; ping -c 2 -W 2 192.168.150.1 && echo PING-OK-1")
	if _, err := con.Expect("PING-OK-1", 30*time.Second); err != nil {
		t.Fatalf("guest cannot reach the host: %v\n%s", err, con.Output())
	}
	var bx string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		bx = mustVirsh(t, uri, "nwfilter-binding-dumpxml "+tap)
		if strings.Contains(bx, "<parameter name='IP'") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(bx, "<parameter name='IP' value='192.168.150.40'/>") {
		t.Fatalf("address not learned from the tap:\n%s\n%s", bx, d.Log())
	}
	if rules, _ := inNetns(ns, "ebtables", "--concurrent", "-t", "nat", "-L"); !strings.Contains(rules, "-p IPv4 --ip-src 192.168.150.40 -j RETURN") {
		t.Errorf("rules with the learned address:\n%s", rules)
	}
	con.Send("ping -c 2 -W 2 192.168.150.1 && echo PING-OK-2")
	if _, err := con.Expect("PING-OK-2", 30*time.Second); err != nil {
		t.Fatalf("guest's own traffic blocked with the learned address: %v\n%s", err, con.Output())
	}
	mustVirsh(t, uri, "destroy nwfsniff")
}
