package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestQEMUNWFilterCleanTraffic boots a TCG guest on a NAT network (in a
// network namespace, so the host's firewall is never touched) with
// libvirt's clean-traffic filter on its NIC and no IP parameter: the
// binding appears; once the guest has its DHCP lease the address is
// learned, the binding gets IP and the tap libvirt's ebtables chains
// (libvirt-I-TAP, libvirt-O-TAP and the sub-chains of the filter tree);
// the guest reaches the host, a spoofed source MAC is dropped, a
// restarted daemon keeps the binding and rules, a hot-plugged NIC with a
// filter gets and loses its own, and destroy removes everything.
func TestQEMUNWFilterCleanTraffic(t *testing.T) {
	d, ns, uri := nwfilterNATDaemon(t)

	consoleSock := filepath.Join(d.dir, "nwf.console")
	dom := testGuestXML(t, "nwfguest", "", fmt.Sprintf(`    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
    <interface type='network'>
      <mac address='52:54:00:11:22:33'/>
      <source network='gvnat'/>
      <model type='virtio'/>
      <filterref filter='clean-traffic'/>
    </interface>
`, consoleSock))
	mustVirsh(t, uri, "define "+writeTemp(t, "dom.xml", dom))
	mustVirsh(t, uri, "start nwfguest")
	live := mustVirsh(t, uri, "dumpxml nwfguest")
	m := regexp.MustCompile(`<target dev='([^']+)'/>`).FindStringSubmatch(live)
	if m == nil || !strings.Contains(live, "<filterref filter='clean-traffic'/>") {
		t.Fatalf("live interface:\n%s", live)
	}
	tap := m[1]

	// The filter lets the guest's own traffic through.
	con := console(t, consoleSock)
	if _, err := con.Expect("GOVIRT-GUEST-READY", bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, con.Output())
	}
	if rules, _ := inNetns(ns, "ebtables", "--concurrent", "-t", "nat", "-L"); strings.Contains(rules, tap) {
		t.Errorf("rules before the guest's IP is known:\n%s", rules)
	}
	con.Send("ip link set eth0 up; udhcpc -i eth0 -n -q -t 10 -s /bin/true; ip addr add 192.168.150.10/24 dev eth0")
	if _, err := con.Expect("lease of 192.168.150.10 obtained", 60*time.Second); err != nil {
		t.Fatalf("no DHCP lease through clean-traffic: %v\n%s", err, con.Output())
	}
	if out := mustVirsh(t, uri, "nwfilter-binding-list"); !regexp.MustCompile(`(?m)^ ` + tap + `\s+clean-traffic\s*$`).MatchString(out) {
		t.Fatalf("nwfilter-binding-list:\n%s", out)
	}
	// clean-traffic needs the guest's IP: learned from its DHCP lease.
	var bx string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		bx = mustVirsh(t, uri, "nwfilter-binding-dumpxml "+tap)
		if strings.Contains(bx, "<parameter name='IP'") || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{"<name>nwfguest</name>", "<portdev name='" + tap + "'/>", "<mac address='52:54:00:11:22:33'/>",
		"<parameter name='IP' value='192.168.150.10'/>", "<parameter name='MAC' value='52:54:00:11:22:33'/>"} {
		if !strings.Contains(bx, want) {
			t.Errorf("binding lacks %q:\n%s", want, bx)
		}
	}
	chains := func() string {
		out, err := inNetns(ns, "ebtables", "--concurrent", "-t", "nat", "-L")
		if err != nil {
			t.Fatalf("ebtables -t nat -L: %v\n%s", err, out)
		}
		return out
	}
	rules := chains()
	for _, want := range []string{
		"-i " + tap + " -j libvirt-I-" + tap, "-o " + tap + " -j libvirt-O-" + tap,
		"Bridge chain: libvirt-I-" + tap, "Bridge chain: libvirt-O-" + tap,
		"Bridge chain: I-" + tap + "-mac", "Bridge chain: I-" + tap + "-ipv4-ip", "Bridge chain: I-" + tap + "-arp-mac",
		"Bridge chain: I-" + tap + "-arp-ip", "Bridge chain: O-" + tap + "-ipv4",
		"-s 52:54:00:11:22:33 -j RETURN", "-p IPv4 --ip-src 192.168.150.10 -j RETURN", "-p ARP --arp-ip-src 192.168.150.10 -j RETURN",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("ebtables nat lacks %q:\n%s", want, rules)
		}
	}
	if strings.Contains(rules, "libvirt-J-") || strings.Contains(rules, "libvirt-P-") {
		t.Errorf("temporary chains left:\n%s", rules)
	}

	con.Send("ping -c 2 -W 2 192.168.150.1 && echo PING-OK-1")
	if _, err := con.Expect("PING-OK-1", 30*time.Second); err != nil {
		t.Fatalf("guest cannot reach the host through clean-traffic: %v\n%s", err, con.Output())
	}
	// A spoofed source MAC is dropped.
	con.Send("ip neigh flush dev eth0; ip link set eth0 address 52:54:00:99:99:99; ping -c 2 -W 2 192.168.150.1 || echo PING-BLOCKED")
	if _, err := con.Expect("PING-BLOCKED", 30*time.Second); err != nil {
		t.Fatalf("spoofed MAC not blocked: %v\n%s", err, con.Output())
	}
	con.Send("ip neigh flush dev eth0; ip link set eth0 address 52:54:00:11:22:33; ping -c 2 -W 2 192.168.150.1 && echo PING-OK-2")
	if _, err := con.Expect("PING-OK-2", 30*time.Second); err != nil {
		t.Fatalf("own MAC blocked after the spoof: %v\n%s", err, con.Output())
	}

	// A restarted daemon keeps the binding and applies it again.
	d.crashRestart()
	if out := mustVirsh(t, uri, "nwfilter-binding-list"); !strings.Contains(out, tap) {
		t.Fatalf("after restart nwfilter-binding-list:\n%s\n%s", out, d.Log())
	}
	if rules := chains(); !strings.Contains(rules, "Bridge chain: libvirt-I-"+tap) || !strings.Contains(rules, "Bridge chain: I-"+tap+"-mac") ||
		strings.Contains(rules, "J-"+tap) || strings.Contains(rules, "P-"+tap) {
		t.Fatalf("after restart (rules applied again, temporary chains renamed):\n%s", rules)
	}
	// Undefining a filter the running guest uses is refused.
	if _, e, rc := virsh(t, uri, "nwfilter-undefine", "no-mac-spoofing"); rc == 0 || !strings.Contains(e, "nwfilter is in use") {
		t.Errorf("nwfilter-undefine of a filter in use: rc %d %s", rc, e)
	}

	// A hot-plugged NIC with a filter gets its binding; unplugged, it
	// loses it with its chains.
	func() {
		nic := writeTemp(t, "nic.xml", `<interface type='network'>
	  <mac address='52:54:00:11:22:44'/>
	  <source network='gvnat'/>
	  <model type='virtio'/>
	  <filterref filter='no-mac-spoofing'/>
	</interface>`)
		if _, e, rc := virsh(t, uri, "attach-device", "nwfguest", nic); rc != 0 {
			t.Fatalf("attach-device: %s", e)
		}
		live := mustVirsh(t, uri, "dumpxml nwfguest")
		m2 := regexp.MustCompile(`(?s)<mac address='52:54:00:11:22:44'/>.*?<target dev='([^']+)'/>`).FindStringSubmatch(live)
		if m2 == nil {
			t.Fatalf("hot-plugged NIC:\n%s", live)
		}
		tap2 := m2[1]
		if out := mustVirsh(t, uri, "nwfilter-binding-list"); !regexp.MustCompile(`(?m)^ ` + tap2 + `\s+no-mac-spoofing\s*$`).MatchString(out) {
			t.Errorf("binding of the hot-plugged NIC:\n%s", out)
		}
		if rules := chains(); !strings.Contains(rules, "Bridge chain: I-"+tap2+"-mac") || !strings.Contains(rules, "-s 52:54:00:11:22:44 -j RETURN") {
			t.Errorf("chains of the hot-plugged NIC:\n%s", rules)
		}
		mustVirsh(t, uri, "detach-device nwfguest "+nic)
		deadline := time.Now().Add(30 * time.Second)
		for {
			out := mustVirsh(t, uri, "nwfilter-binding-list")
			rules := chains()
			if !strings.Contains(out, tap2) && !strings.Contains(rules, tap2) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("binding or chains of the unplugged NIC left:\n%s\n%s", out, rules)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()

	mustVirsh(t, uri, "destroy nwfguest")
	if out := mustVirsh(t, uri, "nwfilter-binding-list"); strings.Contains(out, tap) {
		t.Errorf("binding left after destroy:\n%s", out)
	}
	if rules := chains(); strings.Contains(rules, tap) {
		t.Errorf("chains of %s left after destroy:\n%s", tap, rules)
	}
}

// TestQEMUNWFilterIPTablesBinding binds a filter with IPv4 and IPv6
// rules to a tap made in a network namespace (govirtd runs there): the
// iptables and ip6tables chains FI-, FO- and HI-TAP appear, linked from
// libvirt-in, libvirt-out and libvirt-host-in, then go with the
// binding.
func TestQEMUNWFilterIPTablesBinding(t *testing.T) {
	if _, err := exec.LookPath("ip6tables"); err != nil {
		t.Skip("ip6tables not installed")
	}
	d, ns := netnsDaemon(t)
	uri := d.URI("qemu")
	if out, err := inNetns(ns, "ip", "tuntap", "add", "gvnwf0", "mode", "tap"); err != nil {
		t.Skipf("cannot make a tap: %v %s", err, out)
	}
	mustVirsh(t, uri, "nwfilter-define "+writeTemp(t, "f.xml", `<filter name='gvipt' chain='root'>
  <rule action='accept' direction='in'><tcp dstportstart='22'/></rule>
  <rule action='drop' direction='out' statematch='false'><udp srcipaddr='$IP' dstportstart='53'/></rule>
  <rule action='accept' direction='inout'><icmpv6/></rule>
</filter>`))
	mustVirsh(t, uri, "nwfilter-binding-create "+writeTemp(t, "b.xml", `<filterbinding>
  <owner><name>x</name><uuid>6e0c6a0e-6b1e-4c65-9a58-2f1a43b1c0aa</uuid></owner>
  <portdev name='gvnwf0'/>
  <mac address='52:54:00:aa:bb:cc'/>
  <filterref filter='gvipt'><parameter name='IP' value='10.1.1.1'/></filterref>
</filterbinding>`))
	v4, _ := inNetns(ns, "iptables", "-w", "-S")
	for _, want := range []string{
		"-N FI-gvnwf0", "-N FO-gvnwf0", "-N HI-gvnwf0",
		"-A FORWARD -j libvirt-in", "-A INPUT -j libvirt-host-in",
		"-A libvirt-in -m physdev --physdev-in gvnwf0 -g FI-gvnwf0",
		"-A libvirt-out -m physdev --physdev-out gvnwf0 --physdev-is-bridged -g FO-gvnwf0",
		"-A libvirt-host-in -m physdev --physdev-in gvnwf0 -g HI-gvnwf0",
		"-A FO-gvnwf0 -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW,ESTABLISHED -m conntrack --ctdir ORIGINAL -j ACCEPT",
		"-A FI-gvnwf0 -s 10.1.1.1/32 -p udp -m udp --dport 53 -j DROP",
	} {
		if !strings.Contains(v4, want) {
			t.Errorf("iptables lacks %q:\n%s", want, v4)
		}
	}
	if strings.Contains(v4, "FJ-gvnwf0") || strings.Contains(v4, "FP-gvnwf0") {
		t.Errorf("temporary chains left:\n%s", v4)
	}
	if v6, _ := inNetns(ns, "ip6tables", "-w", "-S"); !strings.Contains(v6, "-N FI-gvnwf0") || !strings.Contains(v6, "-p ipv6-icmp") {
		t.Errorf("ip6tables:\n%s", v6)
	}
	mustVirsh(t, uri, "nwfilter-binding-delete gvnwf0")
	for _, tool := range []string{"iptables", "ip6tables"} {
		if out, _ := inNetns(ns, tool, "-w", "-S"); strings.Contains(out, "gvnwf0") {
			t.Errorf("%s rules of the tap left after binding-delete:\n%s", tool, out)
		}
	}
}

// nwfilterNATDaemon starts a govirtd in a network namespace of its own
// (the host's firewall is never touched) with the NAT network gvnat
// running, for the filter tests on real guests; skipped without ebtables.
func nwfilterNATDaemon(t *testing.T) (*daemon, string, string) {
	t.Helper()
	if _, err := exec.LookPath("ebtables"); err != nil {
		t.Skip("ebtables not installed")
	}
	d, ns := netnsDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	mustVirsh(t, uri, "net-define "+writeTemp(t, "net.xml", natNetXML))
	mustVirsh(t, uri, "net-start gvnat")
	return d, ns, uri
}
