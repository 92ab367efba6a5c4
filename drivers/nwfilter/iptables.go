package nwfilter

import "fmt"

// iptables/ip6tables rules of libvirt's ebiptables driver
// (iptablesCreateRuleInstance and its helpers).

const stateFlags = StateNew | StateEstablished | StateRelated | StateInvalid | StateNone

func iptRootChain(p0, p1 byte, ifname string) string { return fmt.Sprintf("%c%c-%s", p0, p1, ifname) }

var iptProtoNames = map[Protocol]string{
	ProtoTCP: "tcp", ProtoTCPv6: "tcp", ProtoUDP: "udp", ProtoUDPv6: "udp", ProtoUDPLite: "udplite", ProtoUDPLitev6: "udplite",
	ProtoESP: "esp", ProtoESPv6: "esp", ProtoAH: "ah", ProtoAHv6: "ah", ProtoSCTP: "sctp", ProtoSCTPv6: "sctp",
	ProtoICMP: "icmp", ProtoICMPv6: "icmpv6", ProtoIGMP: "igmp", ProtoAll: "all", ProtoAllv6: "all",
}

// iptRule is _iptablesCreateRuleInstance.
func iptRule(fw *firewall, layer fwLayer, dirIn bool, p0, p1 byte, r *Rule, ifname string, c *combIter,
	match string, defMatch bool, acceptTarget string, maySkipICMP bool) error {
	chain := iptRootChain(p0, p1, ifname)
	fr := fw.addRule(layer, "-A", chain, "-p", iptProtoNames[r.Proto])
	b := &argBuilder{r: r, c: c, fr: fr}
	base := len(fr.args)
	srcMacSkipped, skipRule, skipMatch, hasICMPType := false, false, false, false

	// iptablesHandleSrcMacAddr
	if b.has("srcmacaddr") {
		if dirIn {
			srcMacSkipped = true
		} else {
			v := b.val("srcmacaddr", false)
			fr.add("-m", "mac")
			if b.neg("srcmacaddr") {
				fr.add("!")
			}
			fr.add("--mac-source", v)
		}
	}
	// iptablesHandleIPHdr
	src, dst, srcr, dstr := "--source", "--destination", "--src-range", "--dst-range"
	if dirIn {
		src, dst, srcr, dstr = dst, src, dstr, srcr
	}
	for _, d := range []struct{ addr, mask, from, to, opt, ropt string }{
		{"srcipaddr", "srcipmask", "srcipfrom", "srcipto", src, srcr},
		{"dstipaddr", "dstipmask", "dstipfrom", "dstipto", dst, dstr}} {
		switch {
		case b.has(d.addr):
			v := b.val(d.addr, false)
			if b.neg(d.addr) {
				fr.add("!")
			}
			fr.add(d.opt)
			if b.has(d.mask) {
				fr.add(v + "/" + b.val(d.mask, false))
			} else {
				fr.add(v)
			}
		case b.has(d.from):
			v := b.val(d.from, false)
			fr.add("-m", "iprange")
			if b.neg(d.from) {
				fr.add("!")
			}
			fr.add(d.ropt)
			if b.has(d.to) {
				fr.add(v + "-" + b.val(d.to, false))
			} else {
				fr.add(v)
			}
		}
	}
	if b.has("dscp") {
		v := b.val("dscp", false)
		fr.add("-m", "dscp")
		if b.neg("dscp") {
			fr.add("!")
		}
		fr.add("--dscp", v)
	}
	if b.has("connlimit-above") {
		if dirIn {
			skipRule = true
		} else {
			skipMatch = true
		}
	}
	switch r.Proto {
	case ProtoTCP, ProtoTCPv6:
		if b.has("flags") {
			it := r.items["flags"]
			if b.neg("flags") {
				fr.add("!")
			}
			fr.add("--tcp-flags", tcpFlagsString(it.tcpMask), tcpFlagsString(it.tcpFlags))
		}
		b.ports(dirIn)
		if b.has("option") {
			v := b.val("option", false)
			if b.neg("option") {
				fr.add("!")
			}
			fr.add("--tcp-option", v)
		}
	case ProtoUDP, ProtoUDPv6, ProtoSCTP, ProtoSCTPv6:
		b.ports(dirIn)
	case ProtoICMP, ProtoICMPv6:
		if b.has("type") {
			hasICMPType = true
			if maySkipICMP {
				fw.removeRule(fr)
				return b.err
			}
			parm := "--icmp-type"
			if r.Proto == ProtoICMPv6 {
				parm = "--icmpv6-type"
			}
			v := b.val("type", false)
			if b.neg("type") {
				fr.add("!")
			}
			fr.add(parm)
			if b.has("code") {
				fr.add(v + "/" + b.val("code", false))
			} else {
				fr.add(v)
			}
		}
	}
	if b.err != nil {
		return b.err
	}
	if (srcMacSkipped && len(fr.args) == base) || skipRule {
		fw.removeRule(fr)
		return nil
	}
	target := acceptTarget
	if r.Action != ActionAccept {
		target = jumpTargets[r.Action]
		skipMatch = defMatch
	}
	if match != "" && !skipMatch {
		fr.add("-m", "conntrack", "--ctstate", match)
	}
	if defMatch && match != "" && !skipMatch && !hasICMPType && r.Direction != DirInOut {
		if dirIn {
			fr.add("-m", "conntrack", "--ctdir", "Reply")
		} else {
			fr.add("-m", "conntrack", "--ctdir", "Original")
		}
	}
	// iptablesHandleIPHdrAfterStateMatch
	if b.has("ipset") && b.has("ipsetflags") {
		fr.add("-m", "set", "--match-set", b.val("ipset", false))
		s, err := printItem(c, r.items["ipsetflags"], false, dirIn)
		if err != nil {
			return err
		}
		fr.add(s)
	}
	if b.has("connlimit-above") && !dirIn {
		v := b.val("connlimit-above", false)
		fr.add("-m", "connlimit")
		if b.neg("connlimit-above") {
			fr.add("!")
		}
		fr.add("--connlimit-above", v)
	}
	if b.has("comment") {
		fr.add("-m", "comment", "--comment", r.items["comment"].str)
	}
	if b.err != nil {
		return b.err
	}
	fr.add("-j", target)
	return nil
}

// ports is iptablesHandlePortData.
func (b *argBuilder) ports(dirIn bool) {
	sport, dport := "--sport", "--dport"
	if dirIn {
		sport, dport = dport, sport
	}
	for _, d := range []struct{ start, end, opt string }{{"srcportstart", "srcportend", sport}, {"dstportstart", "dstportend", dport}} {
		if !b.has(d.start) {
			continue
		}
		v := b.val(d.start, false)
		if b.neg(d.start) {
			b.fr.add("!")
		}
		b.fr.add(d.opt)
		if b.has(d.end) {
			b.fr.add(v + ":" + b.val(d.end, false))
		} else {
			b.fr.add(v)
		}
	}
}

// iptablesRules is iptablesCreateRuleInstance (with its state-control
// variant).
func iptablesRules(fw *firewall, layer fwLayer, r *Rule, ifname string, c *combIter) error {
	dirIn := r.Direction == DirIn || r.Direction == DirInOut
	inout := r.Direction == DirInOut
	if r.Flags&NoStateMatch == 0 && r.Flags&stateFlags != 0 {
		state := printItems(stateMap, r.Flags&stateFlags)
		if r.Flags&StateNone != 0 {
			state = "" // virNWFilterPrintStateMatchFlags without NONE
		}
		create := !(dirIn && !inout)
		if create {
			if err := iptRule(fw, layer, dirIn, 'F', prefixInTemp, r, ifname, c, state, false, "RETURN", dirIn || inout); err != nil {
				return err
			}
		}
		if dirIn {
			if err := iptRule(fw, layer, !dirIn, 'F', prefixOutTemp, r, ifname, c, state, false, "ACCEPT", !dirIn || inout); err != nil {
				return err
			}
		}
		if !(dirIn && !inout) {
			return iptRule(fw, layer, dirIn, 'H', prefixInTemp, r, ifname, c, state, false, "RETURN", dirIn)
		}
		return nil
	}
	needState := !inout && r.Flags&NoStateMatch == 0
	m1, m2 := "", ""
	if needState {
		if dirIn {
			m1, m2 = "ESTABLISHED", "NEW,ESTABLISHED"
		} else {
			m1, m2 = "NEW,ESTABLISHED", "ESTABLISHED"
		}
	}
	if err := iptRule(fw, layer, dirIn, 'F', prefixInTemp, r, ifname, c, m1, true, "RETURN", dirIn || inout); err != nil {
		return err
	}
	if err := iptRule(fw, layer, !dirIn, 'F', prefixOutTemp, r, ifname, c, m2, true, "ACCEPT", !dirIn || inout); err != nil {
		return err
	}
	return iptRule(fw, layer, dirIn, 'H', prefixInTemp, r, ifname, c, m1, true, "RETURN", dirIn)
}
