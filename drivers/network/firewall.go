package network

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// The firewall rules are libvirt 9.0's iptables rules
// (bridge_driver_linux.c, viriptables.c): its private chains hooked into
// INPUT, OUTPUT, FORWARD and POSTROUTING, and per network rules inserted
// in them. A rule is its command line, "iptables" or "ip6tables" first.

type rule []string

// privateChains are libvirt's chains and the built-in chains they hang
// from, per table.
var privateChains = []struct{ table, chain, parent string }{
	{"filter", "LIBVIRT_INP", "INPUT"},
	{"filter", "LIBVIRT_OUT", "OUTPUT"},
	{"filter", "LIBVIRT_FWO", "FORWARD"},
	{"filter", "LIBVIRT_FWI", "FORWARD"},
	{"filter", "LIBVIRT_FWX", "FORWARD"},
	{"nat", "LIBVIRT_PRT", "POSTROUTING"},
	{"mangle", "LIBVIRT_PRT", "POSTROUTING"},
}

func ipt(v6 bool, table, chain string, args ...string) rule {
	bin := "iptables"
	if v6 {
		bin = "ip6tables"
	}
	return append(rule{bin, "-w", "--table", table, "--insert", chain}, args...)
}

func portRule(v6 bool, in bool, bridge, proto string, port int) rule {
	if in {
		return ipt(v6, "filter", "LIBVIRT_INP", "--in-interface", bridge, "--protocol", proto,
			"--destination-port", strconv.Itoa(port), "--jump", "ACCEPT")
	}
	return ipt(v6, "filter", "LIBVIRT_OUT", "--out-interface", bridge, "--protocol", proto,
		"--destination-port", strconv.Itoa(port), "--jump", "ACCEPT")
}

func rejectRules(v6 bool, bridge string) []rule {
	return []rule{
		ipt(v6, "filter", "LIBVIRT_FWO", "--in-interface", bridge, "--jump", "REJECT"),
		ipt(v6, "filter", "LIBVIRT_FWI", "--out-interface", bridge, "--jump", "REJECT"),
		ipt(v6, "filter", "LIBVIRT_FWX", "--in-interface", bridge, "--out-interface", bridge, "--jump", "ACCEPT"),
	}
}

// firewallRules is networkAddFirewallRules for the forward modes with a
// bridge of their own (isolated, nat, route).
func firewallRules(n *netXML) []rule {
	br := n.Bridge.Name
	var rs []rule
	// networkAddGeneralIPv4FirewallRules
	var v4 *ipXML
	for _, ip := range n.IPs {
		if ip.v4() && (ip.hasDHCP() || ip.TFTP.Root != "") {
			v4 = ip
			break
		}
	}
	rs = append(rs,
		portRule(false, true, br, "tcp", 67), portRule(false, true, br, "udp", 67),
		portRule(false, false, br, "tcp", 68), portRule(false, false, br, "udp", 68),
		portRule(false, true, br, "tcp", 53), portRule(false, true, br, "udp", 53),
		portRule(false, false, br, "tcp", 53), portRule(false, false, br, "udp", 53))
	if v4 != nil && v4.TFTP.Root != "" {
		rs = append(rs, portRule(false, true, br, "udp", 69), portRule(false, false, br, "udp", 69))
	}
	rs = append(rs, rejectRules(false, br)...)
	// networkAddGeneralIPv6FirewallRules
	hasV6 := false
	for _, ip := range n.IPs {
		hasV6 = hasV6 || ip.v6()
	}
	if hasV6 {
		rs = append(rs, rejectRules(true, br)...)
		rs = append(rs,
			portRule(true, true, br, "tcp", 53), portRule(true, true, br, "udp", 53),
			portRule(true, false, br, "tcp", 53), portRule(true, false, br, "udp", 53),
			portRule(true, true, br, "udp", 547), portRule(true, false, br, "udp", 546))
	}
	// networkAddIPSpecificFirewallRules
	for _, ip := range n.IPs {
		switch n.forwardMode() {
		case "nat":
			if ip.v4() {
				rs = append(rs, masqueradeRules(n, ip)...)
			} else {
				rs = append(rs, routeRules(n, ip)...)
			}
		case "route":
			rs = append(rs, routeRules(n, ip)...)
		}
	}
	// networkAddChecksumFirewallRules
	for _, ip := range n.IPs {
		if ip.v4() && ip.hasDHCP() {
			rs = append(rs, ipt(false, "mangle", "LIBVIRT_PRT", "--out-interface", br,
				"--protocol", "udp", "--destination-port", "68", "--jump", "CHECKSUM", "--checksum-fill"))
			break
		}
	}
	return rs
}

func forwardOut(n *netXML, ip *ipXML) rule {
	args := []string{"--source", ip.network(), "--in-interface", n.Bridge.Name}
	if dev := n.forwardDev(); dev != "" {
		args = append(args, "--out-interface", dev)
	}
	return ipt(ip.v6(), "filter", "LIBVIRT_FWO", append(args, "--jump", "ACCEPT")...)
}

func (n *netXML) forwardDev() string {
	if n.Forward == nil {
		return ""
	}
	return n.Forward.Dev
}

func masqueradeRules(n *netXML, ip *ipXML) []rule {
	netw, dev := ip.network(), n.forwardDev()
	in := []string{"--destination", netw}
	if dev != "" {
		in = append(in, "--in-interface", dev)
	}
	in = append(in, "--out-interface", n.Bridge.Name, "--match", "conntrack",
		"--ctstate", "ESTABLISHED,RELATED", "--jump", "ACCEPT")
	masq := func(proto string) rule {
		args := []string{"--source", netw}
		if proto != "" {
			args = append(args, "-p", proto)
		}
		args = append(args, "!", "--destination", netw)
		if dev != "" {
			args = append(args, "--out-interface", dev)
		}
		args = append(args, "--jump", "MASQUERADE")
		if proto != "" {
			args = append(args, "--to-ports", "1024-65535")
		}
		return ipt(false, "nat", "LIBVIRT_PRT", args...)
	}
	dontMasq := func(dst string) rule {
		args := []string{"--source", netw}
		if dev != "" {
			args = append(args, "--out-interface", dev)
		}
		return ipt(false, "nat", "LIBVIRT_PRT", append(args, "--destination", dst, "--jump", "RETURN")...)
	}
	return []rule{forwardOut(n, ip), ipt(false, "filter", "LIBVIRT_FWI", in...),
		masq(""), masq("udp"), masq("tcp"),
		dontMasq("255.255.255.255/32"), dontMasq("224.0.0.0/24")}
}

func routeRules(n *netXML, ip *ipXML) []rule {
	in := []string{"--destination", ip.network()}
	if dev := n.forwardDev(); dev != "" {
		in = append(in, "--in-interface", dev)
	}
	in = append(in, "--out-interface", n.Bridge.Name, "--jump", "ACCEPT")
	return []rule{forwardOut(n, ip), ipt(ip.v6(), "filter", "LIBVIRT_FWI", in...)}
}

// errNoFirewall is returned when a network needs firewall rules and
// iptables is not installed.
func errNoFirewall(name, bin string) error {
	return fmt.Errorf("cannot set up the firewall of network '%s': %s is not installed (Debian package iptables)", name, bin)
}

func runRule(r rule) error {
	out, err := execCommand(r[0], r[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(r, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// setupChains creates libvirt's private chains the rules need, as
// iptablesSetupPrivateChains does: only those missing.
func setupChains(bin string) error {
	for _, table := range []string{"filter", "nat", "mangle"} {
		out, err := execCommand(bin, "-w", "--table", table, "--list-rules").Output()
		if err != nil {
			return fmt.Errorf("%s --table %s --list-rules: %v", bin, table, err)
		}
		have := map[string]bool{}
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "-N" {
				have[f[1]] = true
			}
		}
		for _, c := range privateChains {
			if c.table != table || have[c.chain] {
				continue
			}
			if err := runRule(rule{bin, "-w", "--table", table, "--new-chain", c.chain}); err != nil {
				return err
			}
			if err := runRule(rule{bin, "-w", "--table", table, "--insert", c.parent, "--jump", c.chain}); err != nil {
				return err
			}
		}
	}
	return nil
}

// addFirewall inserts n's rules; on failure those inserted are removed.
func addFirewall(n *netXML) error {
	rs := firewallRules(n)
	bins := map[string]bool{}
	for _, r := range rs {
		bins[r[0]] = true
	}
	for bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			return errNoFirewall(n.Name, bin)
		}
		if err := setupChains(bin); err != nil {
			return err
		}
	}
	for i, r := range rs {
		if err := runRule(r); err != nil {
			removeRules(rs[:i])
			return fmt.Errorf("cannot set up the firewall of network '%s': %v", n.Name, err)
		}
	}
	return nil
}

// removeFirewall deletes n's rules, last first, ignoring those missing.
func removeFirewall(n *netXML) { removeRules(firewallRules(n)) }

func removeRules(rs []rule) {
	for i := len(rs) - 1; i >= 0; i-- {
		r := append(rule{}, rs[i]...)
		r[4] = "--delete"
		runRule(r)
	}
}
