package nwfilter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// commonRules are the command blocks libvirt's nwfilterxml2firewalltest
// removes from the output before comparing (tests/nwfilterxml2firewalltest.c).
var commonRules = func() []string {
	eb := func(args ...string) string {
		return cmd(append([]string{"ebtables", "--concurrent", "-t", "nat"}, args...))
	}
	ipt := func(prog string) func(args ...string) string {
		return func(args ...string) string { return cmd(append([]string{prog, "-w"}, args...)) }
	}
	out := []string{
		eb("-D", "PREROUTING", "-i", "vnet0", "-j", "libvirt-J-vnet0") + eb("-D", "POSTROUTING", "-o", "vnet0", "-j", "libvirt-P-vnet0") +
			eb("-L", "libvirt-J-vnet0") + eb("-L", "libvirt-P-vnet0") + eb("-F", "libvirt-J-vnet0") + eb("-X", "libvirt-J-vnet0") +
			eb("-F", "libvirt-P-vnet0") + eb("-X", "libvirt-P-vnet0"),
		eb("-N", "libvirt-J-vnet0") + eb("-N", "libvirt-P-vnet0"),
	}
	for _, prog := range []string{"iptables", "ip6tables"} {
		i := ipt(prog)
		drop := i("-D", "libvirt-out", "-m", "physdev", "--physdev-is-bridged", "--physdev-out", "vnet0", "-g", "FP-vnet0") +
			i("-D", "libvirt-out", "-m", "physdev", "--physdev-out", "vnet0", "-g", "FP-vnet0") +
			i("-D", "libvirt-in", "-m", "physdev", "--physdev-in", "vnet0", "-g", "FJ-vnet0") +
			i("-D", "libvirt-host-in", "-m", "physdev", "--physdev-in", "vnet0", "-g", "HJ-vnet0") +
			i("-F", "FP-vnet0") + i("-X", "FP-vnet0") + i("-F", "FJ-vnet0") + i("-X", "FJ-vnet0") + i("-F", "HJ-vnet0") + i("-X", "HJ-vnet0")
		create := i("-N", "libvirt-in") + i("-N", "libvirt-out") + i("-N", "libvirt-in-post") + i("-N", "libvirt-host-in") +
			i("-D", "FORWARD", "-j", "libvirt-in") + i("-D", "FORWARD", "-j", "libvirt-out") + i("-D", "FORWARD", "-j", "libvirt-in-post") +
			i("-D", "INPUT", "-j", "libvirt-host-in") + i("-I", "FORWARD", "1", "-j", "libvirt-in") + i("-I", "FORWARD", "2", "-j", "libvirt-out") +
			i("-I", "FORWARD", "3", "-j", "libvirt-in-post") + i("-I", "INPUT", "1", "-j", "libvirt-host-in") +
			i("-N", "FP-vnet0") + i("-N", "FJ-vnet0") + i("-N", "HJ-vnet0") +
			i("-A", "libvirt-out", "-m", "physdev", "--physdev-is-bridged", "--physdev-out", "vnet0", "-g", "FP-vnet0") +
			i("-A", "libvirt-in", "-m", "physdev", "--physdev-in", "vnet0", "-g", "FJ-vnet0") +
			i("-A", "libvirt-host-in", "-m", "physdev", "--physdev-in", "vnet0", "-g", "HJ-vnet0") +
			i("-D", "libvirt-in-post", "-m", "physdev", "--physdev-in", "vnet0", "-j", "ACCEPT") +
			i("-A", "libvirt-in-post", "-m", "physdev", "--physdev-in", "vnet0", "-j", "ACCEPT")
		out = append(out, drop, create)
	}
	out = append(out, eb("-A", "PREROUTING", "-i", "vnet0", "-j", "libvirt-J-vnet0")+eb("-A", "POSTROUTING", "-o", "vnet0", "-j", "libvirt-P-vnet0"))
	return out
}()

func cmd(argv []string) string {
	var b strings.Builder
	dryRun(&b)(argv)
	return b.String()
}

// firewallTests are libvirt's DO_TEST list.
var firewallTests = []string{"ah", "ah-ipv6", "all", "all-ipv6", "arp", "comment", "conntrack", "esp", "esp-ipv6",
	"example-1", "example-2", "hex-data", "icmp-direction2", "icmp-direction3", "icmp-direction", "icmp", "icmpv6",
	"igmp", "ip", "ipset", "ipt-no-macspoof", "ipv6", "iter1", "iter2", "iter3", "mac", "rarp", "sctp", "sctp-ipv6",
	"stp", "target2", "target", "tcp", "tcp-ipv6", "udp", "udp-ipv6", "udplite", "udplite-ipv6", "vlan"}

// defToInst is the test's virNWFilterDefToInst: referenced filters are
// files next to the filter.
func defToInst(t *testing.T, path string, vars Params, out *[]*InstRule) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFilter(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f.Entries {
		if e.Rule != nil {
			*out = append(*out, &InstRule{ChainSuffix: f.Chain, ChainPriority: f.ChainPriority, Rule: e.Rule, Priority: e.Rule.Priority, Vars: vars.Clone()})
		} else {
			defToInst(t, filepath.Join(filepath.Dir(path), e.Ref.Filter+".xml"), merged(e.Ref.Params, vars), out)
		}
	}
}

// TestXML2Firewall renders libvirt's nwfilterxml2firewalldata filters
// for vnet0 and compares with its .args files, as its test does.
//
// The data is libvirt's tests/nwfilterxml2firewalldata: read from
// $GOVIRT_LIBVIRT_SRC when set (as the network firewall goldens), else
// from the copy in testdata.
func TestXML2Firewall(t *testing.T) {
	dir := "testdata/xml2firewall"
	if src := os.Getenv("GOVIRT_LIBVIRT_SRC"); src != "" {
		dir = filepath.Join(src, "tests", "nwfilterxml2firewalldata")
		if _, err := os.Stat(dir); err != nil {
			t.Skipf("libvirt's nwfilterxml2firewalldata not found (%s)", dir)
		}
	}
	for _, name := range firewallTests {
		t.Run(name, func(t *testing.T) {
			vars := Params{
				"IPSETNAME": {"tck_test"},
				"A":         {"1.1.1.1", "2.2.2.2", "3.3.3.3", "3.3.3.3"},
				"B":         {"80", "90", "80", "80"},
				"C":         {"1080", "1090", "1100", "1110"},
			}
			var rules []*InstRule
			defToInst(t, filepath.Join(dir, name+".xml"), vars, &rules)
			fw, err := applyNewRules("vnet0", rules)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := fw.apply(dryRun(&b)); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			off := 0
			for _, c := range commonRules {
				if i := strings.Index(got[off:], c); i >= 0 {
					got = got[:off+i] + got[off+i+len(c):]
					off += i
				}
			}
			want, err := os.ReadFile(filepath.Join(dir, name+"-linux.args"))
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
