package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var netnsSeq atomic.Int32

// netnsDaemon starts govirtd inside a private network namespace, so the
// bridges, addresses, firewall rules and dnsmasq of the networks it
// starts never touch this machine's own networking. virsh reaches it
// through the unix socket, which works across network namespaces. When
// the test ends everything left in the namespace is killed and the
// namespace (with its bridges) deleted.
func netnsDaemon(t *testing.T) (*daemon, string) {
	t.Helper()
	return netnsDaemonEnv(t)
}

// netnsDaemonEnv is netnsDaemon with environment settings (NAME=VALUE)
// for govirtd.
func netnsDaemonEnv(t *testing.T, env ...string) (*daemon, string) {
	t.Helper()
	return netnsDaemonArgs(t, env)
}

// netnsDaemonArgs is netnsDaemonEnv with extra govirtd arguments, given
// last (so they win over the helper's own, e.g. --no-default-network=false).
func netnsDaemonArgs(t *testing.T, env []string, extra ...string) (*daemon, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("virtual networks need root (bridges, network namespaces)")
	}
	for _, bin := range []string{"ip", "dnsmasq", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh installs it)", bin)
		}
	}
	ns := fmt.Sprintf("govirt-it-%d-%d", os.Getpid(), netnsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, pid := range strings.Fields(string(out)) {
			exec.Command("kill", "-9", pid).Run()
		}
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	dir, err := os.MkdirTemp("", "gv")
	if err != nil {
		t.Fatal(err)
	}
	// dnsmasq reads its hosts files as nobody: the path must be searchable.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, dir: dir, Socket: filepath.Join(dir, "sock"), SockRO: filepath.Join(dir, "sock-ro"),
		prefix: append([]string{"ip", "netns", "exec", ns, "env"}, env...)}
	d.argv = []string{"--state-dir", filepath.Join(dir, "state"), "--run-dir", filepath.Join(dir, "run"),
		"--socket", d.Socket, "--socket-ro", d.SockRO, "--no-default-network"}
	d.argv = append(d.argv, extra...)
	d.launch()
	t.Cleanup(d.stop)
	return d, ns
}

// inNetns runs a command in the namespace and returns its output.
func inNetns(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

const natNetXML = `<network>
  <name>gvnat</name>
  <forward mode='nat'/>
  <ip address='192.168.150.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.150.2' end='192.168.150.254'/>
      <host mac='52:54:00:11:22:33' name='g1' ip='192.168.150.10'/>
    </dhcp>
  </ip>
</network>
`

func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// dnsmasqPid reads the pid dnsmasq wrote and checks it runs with the
// network's configuration.
func dnsmasqPid(t *testing.T, d *daemon, name string) (int, bool) {
	t.Helper()
	var pid int
	data, err := os.ReadFile(filepath.Join(d.dir, "run", "network", name+".pid"))
	if err != nil {
		return 0, false
	}
	fmt.Sscan(string(data), &pid)
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	conf := filepath.Join(d.dir, "state", "network", "dnsmasq", name+".conf")
	return pid, strings.Contains(string(cmdline), "--conf-file="+conf)
}

func TestQEMUNetworkNAT(t *testing.T) {
	d, ns := netnsDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	mustVirsh(t, uri, "net-define "+writeTemp(t, "net.xml", natNetXML))

	// Defined: libvirt fills in the bridge name and MAC.
	info := mustVirsh(t, uri, "net-info gvnat")
	if !regexp.MustCompile(`(?m)^Active:\s+no$`).MatchString(info) || !regexp.MustCompile(`(?m)^Bridge:\s+virbr0$`).MatchString(info) {
		t.Fatalf("net-info:\n%s", info)
	}
	xml := mustVirsh(t, uri, "net-dumpxml gvnat")
	for _, want := range []string{"<bridge name='virbr0' stp='on' delay='0'/>", "<mac address='52:54:00:", "<uuid>"} {
		if !strings.Contains(xml, want) {
			t.Fatalf("net-dumpxml lacks %q:\n%s", want, xml)
		}
	}
	u := strings.TrimSpace(mustVirsh(t, uri, "net-uuid gvnat"))
	if got := strings.TrimSpace(mustVirsh(t, uri, "net-name "+u)); got != "gvnat" {
		t.Fatalf("net-name %s = %q", u, got)
	}

	mustVirsh(t, uri, "net-start gvnat")
	if out, err := inNetns(ns, "ip", "-o", "addr", "show", "dev", "virbr0"); err != nil || !strings.Contains(out, "inet 192.168.150.1/24") {
		t.Fatalf("bridge address: %v\n%s", err, out)
	}
	pid, ok := dnsmasqPid(t, d, "gvnat")
	if !ok {
		t.Fatalf("dnsmasq not running (pid %d)\n%s", pid, d.Log())
	}
	conf, _ := os.ReadFile(filepath.Join(d.dir, "state", "network", "dnsmasq", "gvnat.conf"))
	for _, want := range []string{"interface=virbr0\n", "dhcp-range=192.168.150.2,192.168.150.254,255.255.255.0\n", "dhcp-lease-max=253\n"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("dnsmasq conf lacks %q:\n%s", want, conf)
		}
	}
	hosts, _ := os.ReadFile(filepath.Join(d.dir, "state", "network", "dnsmasq", "gvnat.hostsfile"))
	if string(hosts) != "52:54:00:11:22:33,192.168.150.10,g1\n" {
		t.Errorf("hostsfile: %q", hosts)
	}
	if out, _ := inNetns(ns, "iptables", "-w", "-t", "nat", "-S", "LIBVIRT_PRT"); !strings.Contains(out, "-s 192.168.150.0/24 ! -d 192.168.150.0/24 -j MASQUERADE") {
		t.Errorf("no masquerade rule:\n%s", out)
	}
	list := mustVirsh(t, uri, "net-list")
	if !regexp.MustCompile(`gvnat\s+active\s+no\s+yes`).MatchString(list) {
		t.Fatalf("net-list:\n%s", list)
	}
	if xml := mustVirsh(t, uri, "net-dumpxml gvnat"); !strings.Contains(xml, "<port start='1024' end='65535'/>") {
		t.Errorf("live XML lacks the NAT port range:\n%s", xml)
	}

	// net-update adds a static host live and persistently: the hosts file
	// is rewritten and the running dnsmasq told (SIGHUP), not restarted.
	mustVirsh(t, uri, `net-update gvnat add ip-dhcp-host "<host mac='52:54:00:11:22:55' name='g2' ip='192.168.150.11'/>" --live --config`)
	hosts, _ = os.ReadFile(filepath.Join(d.dir, "state", "network", "dnsmasq", "gvnat.hostsfile"))
	if !strings.Contains(string(hosts), "52:54:00:11:22:55,192.168.150.11,g2\n") {
		t.Errorf("hostsfile after net-update: %q", hosts)
	}
	for _, flag := range []string{"", "--inactive"} {
		if xml := mustVirsh(t, uri, "net-dumpxml gvnat "+flag); !strings.Contains(xml, "<host mac='52:54:00:11:22:55' name='g2' ip='192.168.150.11'/>") {
			t.Errorf("net-dumpxml %s after net-update:\n%s", flag, xml)
		}
	}
	if pid2, ok := dnsmasqPid(t, d, "gvnat"); !ok || pid2 != pid {
		t.Errorf("dnsmasq after net-update: pid %d (was %d), running %v", pid2, pid, ok)
	}
	_, errOut, rc := virsh(t, uri, "net-update gvnat add dns-host \"<host ip='192.168.150.3'><hostname>x</hostname></host>\"")
	if rc == 0 || !strings.Contains(errOut, "can't update 'dns-host' section of network 'gvnat'") {
		t.Errorf("net-update dns-host: rc=%d %s", rc, errOut)
	}

	// A daemon killed and restarted finds the network still active.
	d.crashRestart()
	if list := mustVirsh(t, uri, "net-list"); !regexp.MustCompile(`gvnat\s+active`).MatchString(list) {
		t.Fatalf("after restart net-list:\n%s\n%s", list, d.Log())
	}
	if pid2, ok := dnsmasqPid(t, d, "gvnat"); !ok || pid2 != pid {
		t.Fatalf("dnsmasq after restart: pid %d (was %d), running %v", pid2, pid, ok)
	}
	// Its firewall rules were reloaded, not doubled.
	if out, _ := inNetns(ns, "iptables", "-w", "-t", "nat", "-S", "LIBVIRT_PRT"); strings.Count(out, "MASQUERADE") != 3 {
		t.Errorf("NAT rules after restart:\n%s", out)
	}

	// A guest on the network gets a tap in its bridge, and its address
	// from dnsmasq (the static host entry of its MAC).
	consoleSock := filepath.Join(d.dir, "netguest.console")
	dom := testGuestXML(t, "netguest", "", fmt.Sprintf(`    <serial type='unix'>
      <source mode='bind' path='%s'/>
      <target port='0'/>
    </serial>
    <interface type='network'>
      <mac address='52:54:00:11:22:33'/>
      <source network='gvnat'/>
      <model type='virtio'/>
    </interface>
`, consoleSock))
	mustVirsh(t, uri, "define "+writeTemp(t, "dom.xml", dom))
	mustVirsh(t, uri, "start netguest")
	live := mustVirsh(t, uri, "dumpxml netguest")
	m := regexp.MustCompile(`<target dev='([^']+)'/>`).FindStringSubmatch(live)
	if m == nil || !regexp.MustCompile(`<source network='gvnat' portid='[0-9a-f-]{36}' bridge='virbr0'/>`).MatchString(live) {
		t.Fatalf("live interface:\n%s", live)
	}
	if out, err := inNetns(ns, "ls", "/sys/class/net/virbr0/brif"); err != nil || !strings.Contains(out, m[1]) {
		t.Fatalf("tap %s not in virbr0: %v %s", m[1], err, out)
	}
	con := console(t, consoleSock)
	if _, err := con.Expect("GOVIRT-GUEST-READY", bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, con.Output())
	}
	con.Send("ip link set eth0 up; udhcpc -i eth0 -n -q -t 10 -s /bin/true")
	if _, err := con.Expect("lease of 192.168.150.10 obtained", 60*time.Second); err != nil {
		t.Fatalf("no DHCP lease: %v\n%s", err, con.Output())
	}
	leases := mustVirsh(t, uri, "net-dhcp-leases gvnat")
	if !regexp.MustCompile(`52:54:00:11:22:33\s+ipv4\s+192\.168\.150\.10/24\s+g1`).MatchString(leases) {
		t.Errorf("net-dhcp-leases:\n%s", leases)
	}
	if other := mustVirsh(t, uri, "net-dhcp-leases gvnat --mac 52:54:00:00:00:01"); strings.Contains(other, "192.168.150.10") {
		t.Errorf("net-dhcp-leases --mac of another MAC:\n%s", other)
	}
	// domifaddr reads the same lease, and, once the guest has talked to
	// the host, the host's ARP table.
	if out := mustVirsh(t, uri, "domifaddr netguest"); !regexp.MustCompile(regexp.QuoteMeta(m[1]) + `\s+52:54:00:11:22:33\s+ipv4\s+192\.168\.150\.10/24`).MatchString(out) {
		t.Errorf("domifaddr (lease):\n%s", out)
	}
	con.Send("ping -c 1 -W 2 192.168.150.1")
	arpDeadline := time.Now().Add(20 * time.Second)
	for {
		out := mustVirsh(t, uri, "domifaddr netguest --source arp")
		if regexp.MustCompile(regexp.QuoteMeta(m[1]) + `\s+52:54:00:11:22:33\s+ipv4\s+192\.168\.150\.10/0`).MatchString(out) {
			break
		}
		if time.Now().After(arpDeadline) {
			t.Errorf("domifaddr --source arp:\n%s", out)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, e, rc := virsh(t, uri, "domifaddr netguest --source agent"); rc == 0 || !strings.Contains(e, "argument unsupported: QEMU guest agent is not configured") {
		t.Errorf("domifaddr --source agent: rc=%d %s", rc, e)
	}
	// A NIC hotplugged onto the network joins the bridge too.
	mustVirsh(t, uri, "attach-interface netguest network gvnat --model virtio --mac 52:54:00:11:22:44")
	brif, _ := inNetns(ns, "ls", "/sys/class/net/virbr0/brif")
	if len(strings.Fields(brif)) != 2 {
		t.Errorf("after attach-interface the bridge has: %s", brif)
	}
	mustVirsh(t, uri, "destroy netguest")

	// A dnsmasq that died while govirtd was down is started again.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.crashRestart()
	mustVirsh(t, uri, "net-list") // returns once the networks are reconnected
	pid3, ok := dnsmasqPid(t, d, "gvnat")
	if !ok || pid3 == pid {
		t.Fatalf("dnsmasq not restarted: pid %d (was %d)\n%s", pid3, pid, d.Log())
	}
	pid = pid3

	// net-destroy removes the bridge and dnsmasq.
	mustVirsh(t, uri, "net-destroy gvnat")
	if _, err := inNetns(ns, "test", "-e", "/sys/class/net/virbr0"); err == nil {
		t.Error("bridge virbr0 still exists after net-destroy")
	}
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); len(cmdline) > 0 {
		t.Errorf("dnsmasq %d still running after net-destroy", pid)
	}
	if out, _ := inNetns(ns, "iptables", "-w", "-t", "nat", "-S", "LIBVIRT_PRT"); strings.Contains(out, "192.168.150.0/24") {
		t.Errorf("NAT rules left after net-destroy:\n%s", out)
	}

	// A guest on an inactive network fails clearly.
	_, errOut, rc = virsh(t, uri, "start netguest")
	if rc == 0 || !strings.Contains(errOut, "network 'gvnat' is not active") {
		t.Fatalf("start on inactive network: rc=%d %s", rc, errOut)
	}

	mustVirsh(t, uri, "net-undefine gvnat")
	if list := mustVirsh(t, uri, "net-list --all"); strings.Contains(list, "gvnat") {
		t.Fatalf("net-list after undefine:\n%s", list)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "state", "network", "gvnat.xml")); !os.IsNotExist(err) {
		t.Errorf("config file left after undefine: %v", err)
	}
}

// TestQEMUNetworkIsolatedTransient creates a transient isolated network:
// its dnsmasq refuses to route, it goes away on destroy.
func TestQEMUNetworkIsolatedTransient(t *testing.T) {
	d, ns := netnsDaemon(t)
	uri := d.URI("qemu")
	// Lifecycle events reach clients.
	ev := exec.Command("virsh", "-c", uri, "net-event", "--event", "lifecycle", "--loop", "--timeout", "20")
	ev.Env = append(os.Environ(), "LC_ALL=C")
	evOut := &syncBuffer{}
	ev.Stdout = evOut
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	defer ev.Process.Kill()
	time.Sleep(time.Second) // let it register its callback
	mustVirsh(t, uri, "net-create "+writeTemp(t, "iso.xml", `<network>
  <name>iso</name>
  <bridge name='gviso0'/>
  <ip address='10.77.0.1' prefix='24'/>
</network>
`))
	if out, err := inNetns(ns, "ip", "-o", "addr", "show", "dev", "gviso0"); err != nil || !strings.Contains(out, "10.77.0.1/24") {
		t.Fatalf("bridge: %v %s", err, out)
	}
	conf, _ := os.ReadFile(filepath.Join(d.dir, "state", "network", "dnsmasq", "iso.conf"))
	if !strings.Contains(string(conf), "dhcp-option=3\nno-resolv\nra-param=*,0,0\n") {
		t.Errorf("isolated dnsmasq conf:\n%s", conf)
	}
	if list := mustVirsh(t, uri, "net-list --all"); !regexp.MustCompile(`iso\s+active\s+no\s+no`).MatchString(list) {
		t.Fatalf("net-list:\n%s", list)
	}
	_, errOut, rc := virsh(t, uri, "net-autostart iso")
	if rc == 0 || !strings.Contains(errOut, "cannot set autostart for transient network") {
		t.Errorf("net-autostart of a transient network: rc=%d %s", rc, errOut)
	}
	mustVirsh(t, uri, "net-destroy iso")
	if list := mustVirsh(t, uri, "net-list --all"); strings.Contains(list, "iso") {
		t.Fatalf("transient network left after destroy:\n%s", list)
	}
	if _, err := inNetns(ns, "test", "-e", "/sys/class/net/gviso0"); err == nil {
		t.Error("bridge left after destroy")
	}
	deadline := time.Now().Add(10 * time.Second)
	want := "event 'lifecycle' for network iso: Started\nevent 'lifecycle' for network iso: Stopped\n"
	for !strings.Contains(evOut.String(), want) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	ev.Process.Kill()
	ev.Wait()
	if !strings.Contains(evOut.String(), want) {
		t.Errorf("net-event printed:\n%s", evOut.String())
	}
}
