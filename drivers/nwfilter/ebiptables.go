package nwfilter

import (
	"log/slog"
	"sort"
	"strings"
	"sync"

	"govirt/virerr"
)

// The ebiptables technology driver (libvirt's nwfilter_ebiptables_driver.c):
// a binding's rules become ebtables chains in the nat table
// (libvirt-I-TAP for traffic from the guest, libvirt-O-TAP to it, with
// sub-chains such as I-TAP-ipv4 per protocol chain), and iptables and
// ip6tables chains (FI-TAP, FO-TAP, HI-TAP) reached from libvirt-in,
// libvirt-out and libvirt-host-in. New rules are built in temporary
// chains (J, P, FJ, FP, HJ) and renamed over the old ones, as libvirt
// does. Only chains named after the binding's tap are made or removed;
// the shared libvirt-in/out chains are created if missing and linked
// from FORWARD and INPUT as libvirt links them.

// Ebiptables is the driver; Run runs a command (tests render instead).
type Ebiptables struct {
	log *slog.Logger
	run runner
	mu  sync.Mutex // one firewall change at a time, as libvirt's lock
}

// NewEbiptables returns the driver running the host's tools.
func NewEbiptables(log *slog.Logger) *Ebiptables {
	if log == nil {
		log = slog.Default()
	}
	return &Ebiptables{log: log, run: execRunner}
}

// Apply is applyNewRules followed by tearOldRules.
func (e *Ebiptables) Apply(b *Binding, rules []*InstRule) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	fw, err := applyNewRules(b.PortDev, rules)
	if err != nil {
		return err
	}
	if err := fw.apply(e.run); err != nil {
		return errf(virerr.ErrInternalError, "%v", err)
	}
	return tearOldRules(b.PortDev).apply(e.run)
}

// Teardown is ebiptablesAllTeardown.
func (e *Ebiptables) Teardown(ifname string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return allTeardown(ifname).apply(e.run)
}

// l3 protocols of sub-chains (libvirt's l3_protocols, in its order).
var l3Protocols = []struct {
	name  string
	ether uint16
}{{"ipv4", 0x0800}, {"ipv6", 0x86dd}, {"arp", 0x0806}, {"rarp", 0x8035}, {"mac", 0}, {"vlan", 0x8100}, {"stp", 0}}

// l3 lookup order of ebtablesGetProtoIdxByFiltername (array index order:
// ipv4, ipv6, arp, rarp, mac, vlan, stp).
func protoIdxByFiltername(name string) int {
	for i, p := range l3Protocols {
		if strings.HasPrefix(name, p.name) {
			return i
		}
	}
	return -1
}

func ebRootChainLink(fw *firewall, incoming bool, ifname string, temp bool, del bool) {
	p := byte(prefixOut)
	if incoming {
		p = prefixIn
	}
	if temp {
		p = tempOf(p)
	}
	op := "-A"
	if del {
		op = "-D"
	}
	base, dir := "POSTROUTING", "-o"
	if incoming {
		base, dir = "PREROUTING", "-i"
	}
	if del {
		fw.addFull(layerEthernet, true, nil, "-t", "nat", op, base, dir, ifname, "-j", rootChain(p, ifname))
	} else {
		fw.addRule(layerEthernet, "-t", "nat", op, base, dir, ifname, "-j", rootChain(p, ifname))
	}
}

func tempOf(p byte) byte {
	if p == prefixIn {
		return prefixInTemp
	}
	return prefixOutTemp
}

func ebRemoveRootChain(fw *firewall, incoming bool, ifname string, temp bool) {
	p := byte(prefixOut)
	if incoming {
		p = prefixIn
	}
	if temp {
		p = tempOf(p)
	}
	c := rootChain(p, ifname)
	fw.addFull(layerEthernet, true, nil, "-t", "nat", "-F", c)
	fw.addFull(layerEthernet, true, nil, "-t", "nat", "-X", c)
}

// ebRemoveSubChains lists the root chains and removes the sub-chains
// they jump to (ebtablesRemoveSubChainsQuery).
func ebRemoveSubChains(fw *firewall, ifname string, prefixes []byte) {
	var q func(*firewall, fwLayer, []string)
	q = func(fw *firewall, l fwLayer, lines []string) {
		for _, line := range lines {
			t := jumpTarget(line)
			if t == "" {
				continue
			}
			for _, p := range prefixes {
				if len(t) > 1 && t[0] == p && t[1] == '-' {
					fw.addFull(l, false, q, "-t", "nat", "-L", t)
					fw.addFull(l, true, nil, "-t", "nat", "-F", t)
					fw.addFull(l, true, nil, "-t", "nat", "-X", t)
				}
			}
		}
	}
	for _, p := range prefixes {
		fw.addFull(layerEthernet, false, q, "-t", "nat", "-L", rootChain(p, ifname))
	}
}

func ebCreateTmpSubChain(fw *firewall, incoming bool, ifname string, idx int, filtername string) {
	p := byte(prefixOutTemp)
	if incoming {
		p = prefixInTemp
	}
	root := rootChain(p, ifname)
	c := subChain(p, ifname, filtername)
	fw.addFull(layerEthernet, true, nil, "-t", "nat", "-F", c)
	fw.addFull(layerEthernet, true, nil, "-t", "nat", "-X", c)
	fw.addRule(layerEthernet, "-t", "nat", "-N", c)
	fr := fw.addRule(layerEthernet, "-t", "nat", "-A", root)
	switch l3Protocols[idx].name {
	case "mac":
	case "stp":
		fr.add("-d", macBGA)
	default:
		fr.add("-p", "0x"+hex4(l3Protocols[idx].ether))
	}
	fr.add("-j", c)
}

func hex4(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>12&0xf], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf]})
}

// iptables chain helpers.
func iptCreateBaseChains(fw *firewall, l fwLayer) {
	for _, c := range []string{"libvirt-in", "libvirt-out", "libvirt-in-post", "libvirt-host-in"} {
		fw.addFull(l, true, nil, "-N", c)
	}
	fw.addFull(l, true, nil, "-D", "FORWARD", "-j", "libvirt-in")
	fw.addFull(l, true, nil, "-D", "FORWARD", "-j", "libvirt-out")
	fw.addFull(l, true, nil, "-D", "FORWARD", "-j", "libvirt-in-post")
	fw.addFull(l, true, nil, "-D", "INPUT", "-j", "libvirt-host-in")
	fw.addRule(l, "-I", "FORWARD", "1", "-j", "libvirt-in")
	fw.addRule(l, "-I", "FORWARD", "2", "-j", "libvirt-out")
	fw.addRule(l, "-I", "FORWARD", "3", "-j", "libvirt-in-post")
	fw.addRule(l, "-I", "INPUT", "1", "-j", "libvirt-host-in")
}

// iptRootChains are (prefix, incoming, base chain) in libvirt's order.
var iptRootChains = []struct {
	p0   byte
	in   bool
	base string
}{{'F', false, "libvirt-out"}, {'F', true, "libvirt-in"}, {'H', true, "libvirt-host-in"}}

func iptChainName(p0 byte, in, temp bool, ifname string) string {
	p1 := byte(prefixOut)
	if in {
		p1 = prefixIn
	}
	if temp {
		p1 = tempOf(p1)
	}
	return iptRootChain(p0, p1, ifname)
}

func iptUnlinkRootChains(fw *firewall, l fwLayer, ifname string, temp bool) {
	for _, c := range iptRootChains {
		name := iptChainName(c.p0, c.in, temp, ifname)
		if c.in {
			fw.addFull(l, true, nil, "-D", c.base, "-m", "physdev", "--physdev-in", ifname, "-g", name)
		} else {
			fw.addFull(l, true, nil, "-D", c.base, "-m", "physdev", "--physdev-is-bridged", "--physdev-out", ifname, "-g", name)
			fw.addFull(l, true, nil, "-D", c.base, "-m", "physdev", "--physdev-out", ifname, "-g", name)
		}
	}
}

func iptRemoveRootChains(fw *firewall, l fwLayer, ifname string, temp bool) {
	for _, c := range iptRootChains {
		name := iptChainName(c.p0, c.in, temp, ifname)
		fw.addFull(l, true, nil, "-F", name)
		fw.addFull(l, true, nil, "-X", name)
	}
}

func iptCreateTmpRootChains(fw *firewall, l fwLayer, ifname string) {
	for _, c := range iptRootChains {
		fw.addRule(l, "-N", iptChainName(c.p0, c.in, true, ifname))
	}
}

func iptLinkTmpRootChains(fw *firewall, l fwLayer, ifname string) {
	for _, c := range iptRootChains {
		name := iptChainName(c.p0, c.in, true, ifname)
		if c.in {
			fw.addRule(l, "-A", c.base, "-m", "physdev", "--physdev-in", ifname, "-g", name)
		} else {
			fw.addRule(l, "-A", c.base, "-m", "physdev", "--physdev-is-bridged", "--physdev-out", ifname, "-g", name)
		}
	}
}

func iptSetupVirtInPost(fw *firewall, l fwLayer, ifname string) {
	fw.addFull(l, true, nil, "-D", "libvirt-in-post", "-m", "physdev", "--physdev-in", ifname, "-j", "ACCEPT")
	fw.addRule(l, "-A", "libvirt-in-post", "-m", "physdev", "--physdev-in", ifname, "-j", "ACCEPT")
}

// ruleInstCommands instantiates one rule for every combination of its
// variables' values.
func ruleInstCommands(fw *firewall, ifname string, ri *InstRule) error {
	c, err := newCombIter(ri.Vars, ruleVars(ri.Rule))
	if err != nil {
		return err
	}
	for {
		if err := createRuleInstance(fw, ri.ChainSuffix, ri.Rule, ifname, c); err != nil {
			return err
		}
		if !c.next() {
			return nil
		}
	}
}

// createRuleInstance is ebiptablesCreateRuleInstance.
func createRuleInstance(fw *firewall, chainSuffix string, r *Rule, ifname string, c *combIter) error {
	if isEthernet(r.Proto) {
		if r.Direction == DirOut || r.Direction == DirInOut {
			if err := ebtablesRule(fw, prefixInTemp, chainSuffix, r, ifname, c, r.Direction == DirInOut); err != nil {
				return err
			}
		}
		if r.Direction == DirIn || r.Direction == DirInOut {
			return ebtablesRule(fw, prefixOutTemp, chainSuffix, r, ifname, c, false)
		}
		return nil
	}
	l := layerIPv4
	if isIPv6(r.Proto) {
		l = layerIPv6
	}
	return iptablesRules(fw, l, r, ifname, c)
}

type subChainInst struct {
	priority int32
	incoming bool
	idx      int
	name     string
}

func subChains(set map[string]int32, incoming bool) []subChainInst {
	var out []subChainInst
	for name, prio := range set {
		if idx := protoIdxByFiltername(name); idx >= 0 {
			out = append(out, subChainInst{prio, incoming, idx, name})
		}
	}
	// libvirt sorts by priority; equal priorities keep its hash order,
	// here the name order.
	sort.Slice(out, func(i, j int) bool {
		if out[i].priority != out[j].priority {
			return out[i].priority < out[j].priority
		}
		return out[i].name < out[j].name
	})
	return out
}

// applyNewRules is ebiptablesApplyNewRules: the commands building the
// temporary chains.
func applyNewRules(ifname string, in []*InstRule) (*firewall, error) {
	rules := make([]*InstRule, len(in))
	for i, r := range in {
		c := *r
		rules[i] = &c
	}
	sort.SliceStable(rules, func(i, j int) bool {
		ri, rj := rules[i].ChainSuffix == "root", rules[j].ChainSuffix == "root"
		if ri != rj {
			return ri
		}
		return rules[i].Priority < rules[j].Priority
	})
	fw := &firewall{}
	fw.start(true)
	ebRootChainLink(fw, true, ifname, true, true)
	ebRootChainLink(fw, false, ifname, true, true)
	ebRemoveSubChains(fw, ifname, []byte{prefixInTemp, prefixOutTemp})
	ebRemoveRootChain(fw, true, ifname, true)
	ebRemoveRootChain(fw, false, ifname, true)

	fw.start(false)
	for _, r := range rules {
		if r.ChainPriority > r.Priority && !strings.Contains("root", r.ChainSuffix) {
			r.Priority = r.ChainPriority
		}
	}
	haveEb, have4, have6 := false, false, false
	for _, r := range rules {
		switch {
		case isEthernet(r.Rule.Proto):
			haveEb = true
		case isIPv4(r.Rule.Proto):
			have4 = true
		case isIPv6(r.Rule.Proto):
			have6 = true
		}
	}
	inSet, outSet := map[string]int32{}, map[string]int32{}
	if haveEb {
		for _, r := range rules {
			if !isEthernet(r.Rule.Proto) {
				continue
			}
			if r.Rule.Direction == DirOut || r.Rule.Direction == DirInOut {
				inSet[r.ChainSuffix] = r.ChainPriority
			}
			if r.Rule.Direction == DirIn || r.Rule.Direction == DirInOut {
				outSet[r.ChainSuffix] = r.ChainPriority
			}
		}
		var subs []subChainInst
		if len(inSet) > 0 {
			fw.addRule(layerEthernet, "-t", "nat", "-N", rootChain(prefixInTemp, ifname))
			subs = append(subs, subChains(inSet, true)...)
		}
		if len(outSet) > 0 {
			fw.addRule(layerEthernet, "-t", "nat", "-N", rootChain(prefixOutTemp, ifname))
			subs = append(subs, subChains(outSet, false)...)
		}
		sort.SliceStable(subs, func(i, j int) bool { return subs[i].priority < subs[j].priority })
		j := 0
		for _, r := range rules {
			if !isEthernet(r.Rule.Proto) {
				continue
			}
			for j < len(subs) && subs[j].priority <= r.Priority {
				ebCreateTmpSubChain(fw, subs[j].incoming, ifname, subs[j].idx, subs[j].name)
				j++
			}
			if err := ruleInstCommands(fw, ifname, r); err != nil {
				return nil, err
			}
		}
		for ; j < len(subs); j++ {
			ebCreateTmpSubChain(fw, subs[j].incoming, ifname, subs[j].idx, subs[j].name)
		}
	}
	for _, v := range []struct {
		have bool
		l    fwLayer
		is   func(Protocol) bool
	}{{have4, layerIPv4, isIPv4}, {have6, layerIPv6, isIPv6}} {
		if !v.have {
			continue
		}
		iptUnlinkRootChains(fw, v.l, ifname, true)
		iptRemoveRootChains(fw, v.l, ifname, true)
		iptCreateBaseChains(fw, v.l)
		iptCreateTmpRootChains(fw, v.l, ifname)
		iptLinkTmpRootChains(fw, v.l, ifname)
		iptSetupVirtInPost(fw, v.l, ifname)
		for _, r := range rules {
			if v.is(r.Rule.Proto) {
				if err := ruleInstCommands(fw, ifname, r); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(inSet) > 0 {
		ebRootChainLink(fw, true, ifname, true, false)
	}
	if len(outSet) > 0 {
		ebRootChainLink(fw, false, ifname, true, false)
	}
	fw.startRollback()
	ebRootChainLink(fw, true, ifname, true, true)
	ebRootChainLink(fw, false, ifname, true, true)
	if have6 {
		iptUnlinkRootChains(fw, layerIPv6, ifname, true)
		iptRemoveRootChains(fw, layerIPv6, ifname, true)
	}
	if have4 {
		iptUnlinkRootChains(fw, layerIPv4, ifname, true)
		iptRemoveRootChains(fw, layerIPv4, ifname, true)
	}
	ebRemoveSubChains(fw, ifname, []byte{prefixInTemp, prefixOutTemp})
	ebRemoveRootChain(fw, true, ifname, true)
	ebRemoveRootChain(fw, false, ifname, true)
	return fw, nil
}

// tearOldRules is ebiptablesTearOldRules: the old chains go and the
// temporary ones take their names.
func tearOldRules(ifname string) *firewall {
	fw := &firewall{}
	fw.start(true)
	for _, l := range []fwLayer{layerIPv4, layerIPv6} {
		iptUnlinkRootChains(fw, l, ifname, false)
		iptRemoveRootChains(fw, l, ifname, false)
		for _, c := range iptRootChains {
			fw.addRule(l, "-E", iptChainName(c.p0, c.in, true, ifname), iptChainName(c.p0, c.in, false, ifname))
		}
	}
	ebRootChainLink(fw, true, ifname, false, true)
	ebRootChainLink(fw, false, ifname, false, true)
	ebRemoveSubChains(fw, ifname, []byte{prefixIn, prefixOut})
	ebRemoveRootChain(fw, true, ifname, false)
	ebRemoveRootChain(fw, false, ifname, false)
	// ebtablesRenameTmpSubAndRootChainsFW
	var q func(*firewall, fwLayer, []string)
	q = func(fw *firewall, l fwLayer, lines []string) {
		for _, line := range lines {
			t := jumpTarget(line)
			if t == "" {
				continue
			}
			if len(t) < 2 || (t[0] != prefixInTemp && t[0] != prefixOutTemp) || t[1] != '-' {
				continue
			}
			n := []byte(t)
			if n[0] == prefixInTemp {
				n[0] = prefixIn
			} else {
				n[0] = prefixOut
			}
			fw.addFull(l, false, q, "-t", "nat", "-L", t)
			fw.addFull(l, true, nil, "-t", "nat", "-F", string(n))
			fw.addFull(l, true, nil, "-t", "nat", "-X", string(n))
			fw.addRule(l, "-t", "nat", "-E", t, string(n))
		}
	}
	for _, p := range []byte{prefixInTemp, prefixOutTemp} {
		fw.addFull(layerEthernet, false, q, "-t", "nat", "-L", rootChain(p, ifname))
	}
	fw.addRule(layerEthernet, "-t", "nat", "-E", rootChain(prefixInTemp, ifname), rootChain(prefixIn, ifname))
	fw.addRule(layerEthernet, "-t", "nat", "-E", rootChain(prefixOutTemp, ifname), rootChain(prefixOut, ifname))
	return fw
}

// allTeardown is ebiptablesAllTeardown.
func allTeardown(ifname string) *firewall {
	fw := &firewall{}
	fw.start(true)
	// ebiptablesTearNewRulesFW
	for _, l := range []fwLayer{layerIPv4, layerIPv6} {
		iptUnlinkRootChains(fw, l, ifname, true)
		iptRemoveRootChains(fw, l, ifname, true)
	}
	ebRootChainLink(fw, true, ifname, true, true)
	ebRootChainLink(fw, false, ifname, true, true)
	ebRemoveSubChains(fw, ifname, []byte{prefixInTemp, prefixOutTemp})
	ebRemoveRootChain(fw, true, ifname, true)
	ebRemoveRootChain(fw, false, ifname, true)
	for _, l := range []fwLayer{layerIPv4, layerIPv6} {
		iptUnlinkRootChains(fw, l, ifname, false)
		fw.addFull(l, true, nil, "-D", "libvirt-in-post", "-m", "physdev", "--physdev-in", ifname, "-j", "ACCEPT")
		iptRemoveRootChains(fw, l, ifname, false)
	}
	ebRootChainLink(fw, true, ifname, false, true)
	ebRootChainLink(fw, false, ifname, false, true)
	ebRemoveSubChains(fw, ifname, []byte{prefixIn, prefixOut})
	ebRemoveRootChain(fw, true, ifname, false)
	ebRemoveRootChain(fw, false, ifname, false)
	return fw
}

// jumpTarget is the chain a line of `ebtables -L` jumps to (its
// "-j NAME"), or "".
func jumpTarget(line string) string {
	i := strings.Index(line, "-j ")
	if i < 0 {
		return ""
	}
	f := strings.Fields(line[i+3:])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
