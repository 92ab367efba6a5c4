package integration

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestVirtInstallDefaultNetwork (issue 17): on a fresh state directory
// govirtd defines libvirt's 'default' network, and `virt-install
// --network default` boots a guest on it that gets a DHCP lease from the
// network's dnsmasq, seen by net-dhcp-leases and domifaddr; the NIC holds
// a port of the network while the guest runs.
//
// The default network is virbr0 on 192.168.122.0/24, which libvirtd on
// this host may use too: govirtd runs in a network namespace of its own
// (netnsDaemonArgs), so its virbr0, firewall rules and dnsmasq never meet
// the host's, whatever libvirtd does there.
func TestVirtInstallDefaultNetwork(t *testing.T) {
	needTool(t, "virt-install", "virtinst")
	needQEMU(t)
	d, ns := netnsDaemonArgs(t, nil, "--no-default-network=false")
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	if out := mustVirsh(t, uri, "net-list --all"); !regexp.MustCompile(`default\s+inactive\s+no\s+yes`).MatchString(out) {
		t.Fatalf("no inactive default network on a fresh state directory:\n%s", out)
	}
	mustVirsh(t, uri, "net-start default")
	if out, err := inNetns(ns, "ip", "-o", "addr", "show", "dev", "virbr0"); err != nil || !strings.Contains(out, "inet 192.168.122.1/24") {
		t.Fatalf("virbr0: %v %s", err, out)
	}

	kernel, initrd := testguest.Ensure(t)
	dir := t.TempDir()
	disk := qcow2Disk(t, dir, "vinet.qcow2")
	sock := filepath.Join(d.dir, "vinet.console")
	out, rc := runTool(t, 3*time.Minute, nil, "virt-install", "--connect", uri, "--name", "vinet",
		"--memory", "128", "--vcpus", "1", "--virt-type", virtType(), "--osinfo", "linux2022",
		"--import", "--disk", disk,
		"--boot", "kernel="+kernel+",initrd="+initrd+",kernel_args="+testguest.Cmdline,
		"--network", "default", "--graphics", "none",
		"--serial", "unix,path="+sock+",mode=bind", "--noautoconsole")
	if rc != 0 {
		t.Fatalf("virt-install: rc=%d\n%s\ndaemon log:\n%s", rc, out, d.Log())
	}
	live := guestXMLOf(t, d, "vinet")
	m := regexp.MustCompile(`<source network='default' portid='([0-9a-f-]{36})' bridge='virbr0'/>`).FindStringSubmatch(live)
	mm := regexp.MustCompile(`<mac address='([0-9a-f:]{17})'/>`).FindStringSubmatch(live)
	if m == nil || mm == nil {
		t.Fatalf("live XML has no NIC on the default network:\n%s", live)
	}
	mac, port := mm[1], m[1]
	if ports := strings.Fields(mustVirsh(t, uri, "net-port-list default --uuid")); len(ports) != 1 || ports[0] != port {
		t.Errorf("net-port-list default: %v, want %s", ports, port)
	}

	con := console(t, sock)
	if _, err := con.Expect("GOVIRT-GUEST-READY", bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, con.Output())
	}
	con.Send("gv-dhcp")
	ms, err := con.ExpectRegexp(regexp.MustCompile(`GV-DHCP eth0 \S+`), 90*time.Second)
	got := ""
	if err == nil {
		got = ms[0]
	}
	if err != nil || !strings.Contains(got, "GV-DHCP eth0 192.168.122.") {
		t.Fatalf("no DHCP lease from the default network: %v %q\n%s", err, got, con.Output())
	}
	addr := regexp.MustCompile(`192\.168\.122\.\d+`).FindString(got)
	leases := mustVirsh(t, uri, "net-dhcp-leases default")
	if !regexp.MustCompile(regexp.QuoteMeta(mac) + `\s+ipv4\s+` + regexp.QuoteMeta(addr) + `/24`).MatchString(leases) {
		t.Errorf("net-dhcp-leases default lacks %s %s:\n%s", mac, addr, leases)
	}
	if out := mustVirsh(t, uri, "domifaddr vinet"); !regexp.MustCompile(regexp.QuoteMeta(mac) + `\s+ipv4\s+` + regexp.QuoteMeta(addr) + `/24`).MatchString(out) {
		t.Errorf("domifaddr vinet lacks %s %s:\n%s", mac, addr, out)
	}
	mustVirsh(t, uri, "destroy vinet")
	if ports := strings.TrimSpace(mustVirsh(t, uri, "net-port-list default --uuid")); ports != "" {
		t.Errorf("ports left after destroy: %s", ports)
	}
}
