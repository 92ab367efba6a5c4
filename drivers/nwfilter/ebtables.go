package nwfilter

import (
	"fmt"

	"govirt/virerr"
)

// ebtables rules of libvirt's ebiptables driver
// (nwfilter_ebiptables_driver.c, ebtablesCreateRuleInstance).

const (
	prefixIn      = 'I' // final chains: traffic from the guest
	prefixOut     = 'O'
	prefixInTemp  = 'J' // chains being built
	prefixOutTemp = 'P'
	macBGA        = "01:80:c2:00:00:00"
)

func rootChain(prefix byte, ifname string) string {
	return fmt.Sprintf("libvirt-%c-%s", prefix, ifname)
}
func subChain(prefix byte, ifname, suffix string) string {
	return fmt.Sprintf("%c-%s-%s", prefix, ifname, suffix)
}

// isEthernet, isIPv4, isIPv6 are virNWFilterRuleIsProtocol*.
func isEthernet(p Protocol) bool { return p <= ProtoIPv6 }
func isIPv4(p Protocol) bool     { return p >= ProtoTCP && p <= ProtoAll }
func isIPv6(p Protocol) bool     { return p >= ProtoTCPv6 && p <= ProtoAllv6 }

var jumpTargets = []string{"DROP", "ACCEPT", "REJECT", "RETURN", "CONTINUE"}

// ruleArgs appends the arguments of one item: CLI [!] VALUE.
type argBuilder struct {
	r   *Rule
	c   *combIter
	fr  *fwRule
	err error
}

func (b *argBuilder) has(n string) bool { return b.r.has(n) }
func (b *argBuilder) neg(n string) bool { return b.r.items[n].flags&itemNeg != 0 }

func (b *argBuilder) val(n string, hex bool) string {
	if b.err != nil {
		return ""
	}
	s, err := printItem(b.c, b.r.items[n], hex, false)
	if err != nil {
		b.err = err
	}
	return s
}

// item is INST_ITEM; pair is INST_ITEM_2PARMS.
func (b *argBuilder) item(n, cli string) {
	if b.has(n) {
		v := b.val(n, false)
		b.fr.add(cli)
		if b.neg(n) {
			b.fr.add("!")
		}
		b.fr.add(v)
	}
}

func (b *argBuilder) pair(n, hi, cli, sep string) {
	if b.has(n) {
		v := b.val(n, false)
		b.fr.add(cli)
		if b.neg(n) {
			b.fr.add("!")
		}
		if b.has(hi) {
			b.fr.add(v + sep + b.val(hi, false))
		} else {
			b.fr.add(v)
		}
	}
}

// ethHdr is ebtablesHandleEthHdr.
func (b *argBuilder) ethHdr(reverse bool) {
	for _, d := range []struct{ addr, mask, fwd, rev string }{
		{"srcmacaddr", "srcmacmask", "-s", "-d"}, {"dstmacaddr", "dstmacmask", "-d", "-s"}} {
		if !b.has(d.addr) {
			continue
		}
		v := b.val(d.addr, false)
		if reverse {
			b.fr.add(d.rev)
		} else {
			b.fr.add(d.fwd)
		}
		if b.neg(d.addr) {
			b.fr.add("!")
		}
		if b.has(d.mask) {
			b.fr.add(v + "/" + b.val(d.mask, false))
		} else {
			b.fr.add(v)
		}
	}
}

func pick(reverse bool, fwd, rev string) string {
	if reverse {
		return rev
	}
	return fwd
}

// ebtablesRule is ebtablesCreateRuleInstance.
func ebtablesRule(fw *firewall, prefix byte, chainSuffix string, r *Rule, ifname string, c *combIter, reverse bool) error {
	chain := subChain(prefix, ifname, chainSuffix)
	if chainSuffix == "root" {
		chain = rootChain(prefix, ifname)
	}
	if r.Proto == ProtoSTP && reverse && r.has("srcmacaddr") {
		return errf(virerr.ErrInternalError, "STP filtering in inout direction with source MAC address set is not supported")
	}
	fr := fw.addRule(layerEthernet, "-t", "nat", "-A", chain)
	b := &argBuilder{r: r, c: c, fr: fr}
	switch r.Proto {
	case ProtoMAC:
		b.ethHdr(reverse)
		if b.has("protocolid") {
			v := b.val("protocolid", true)
			fr.add("-p")
			if b.neg("protocolid") {
				fr.add("!")
			}
			fr.add(v)
		}
	case ProtoVLAN:
		b.ethHdr(reverse)
		fr.add("-p", "0x8100")
		b.item("vlanid", "--vlan-id")
		b.item("encap-protocol", "--vlan-encap")
	case ProtoSTP:
		b.ethHdr(reverse)
		fr.add("-d", macBGA)
		b.item("type", "--stp-type")
		b.item("flags", "--stp-flags")
		b.pair("root-priority", "root-priority-hi", "--stp-root-pri", ":")
		b.pair("root-address", "root-address-mask", "--stp-root-addr", "/")
		b.pair("root-cost", "root-cost-hi", "--stp-root-cost", ":")
		b.pair("sender-priority", "sender-priority-hi", "--stp-sender-prio", ":")
		b.pair("sender-address", "sender-address-mask", "--stp-sender-addr", "/")
		b.pair("port", "port-hi", "--stp-port", ":")
		b.pair("age", "age-hi", "--stp-msg-age", ":")
		b.pair("max-age", "max-age-hi", "--stp-max-age", ":")
		b.pair("hello-time", "hello-time-hi", "--stp-hello-time", ":")
		b.pair("forward-delay", "forward-delay-hi", "--stp-forward-delay", ":")
	case ProtoARP, ProtoRARP:
		b.ethHdr(reverse)
		if r.Proto == ProtoARP {
			fr.add("-p", "0x806")
		} else {
			fr.add("-p", "0x8035")
		}
		b.item("hwtype", "--arp-htype")
		b.item("opcode", "--arp-opcode")
		if b.has("protocoltype") {
			v := b.val("protocoltype", true)
			fr.add("--arp-ptype")
			if b.neg("protocoltype") {
				fr.add("!")
			}
			fr.add(v)
		}
		hasMask := false
		for _, d := range []struct{ addr, mask, fwd, rev string }{
			{"arpsrcipaddr", "arpsrcipmask", "--arp-ip-src", "--arp-ip-dst"},
			{"arpdstipaddr", "arpdstipmask", "--arp-ip-dst", "--arp-ip-src"}} {
			if !b.has(d.addr) {
				continue
			}
			v := b.val(d.addr, false)
			mask := ""
			if b.has(d.mask) {
				mask = b.val(d.mask, false)
				hasMask = true
			}
			// libvirt keeps hasMask from the source address for the
			// destination one (and its mask buffer too).
			if !hasMask {
				mask = "32"
			} else if mask == "" {
				mask = b.val("arpsrcipmask", false)
			}
			fr.add(pick(reverse, d.fwd, d.rev))
			if b.neg(d.addr) {
				fr.add("!")
			}
			fr.add(v + "/" + mask)
		}
		for _, d := range []struct{ addr, fwd, rev string }{
			{"arpsrcmacaddr", "--arp-mac-src", "--arp-mac-dst"}, {"arpdstmacaddr", "--arp-mac-dst", "--arp-mac-src"}} {
			if b.has(d.addr) {
				v := b.val(d.addr, false)
				fr.add(pick(reverse, d.fwd, d.rev))
				if b.neg(d.addr) {
					fr.add("!")
				}
				fr.add(v)
			}
		}
		if b.has("gratuitous") && r.items["gratuitous"].b {
			if b.neg("gratuitous") {
				fr.add("!")
			}
			fr.add("--arp-gratuitous")
		}
	case ProtoIP, ProtoIPv6:
		b.ethHdr(reverse)
		v6 := r.Proto == ProtoIPv6
		ipopt := func(s string) string {
			if v6 {
				return "--ip6" + s
			}
			return "--ip" + s
		}
		if v6 {
			fr.add("-p", "ipv6")
		} else {
			fr.add("-p", "ipv4")
		}
		for _, d := range []struct{ addr, mask, fwd, rev string }{
			{"srcipaddr", "srcipmask", "-source", "-destination"}, {"dstipaddr", "dstipmask", "-destination", "-source"}} {
			if !b.has(d.addr) {
				continue
			}
			v := b.val(d.addr, false)
			fr.add(ipopt(pick(reverse, d.fwd, d.rev)))
			if b.neg(d.addr) {
				fr.add("!")
			}
			if b.has(d.mask) {
				fr.add(v + "/" + b.val(d.mask, false))
			} else {
				fr.add(v)
			}
		}
		if b.has("protocol") {
			v := b.val("protocol", false)
			fr.add(ipopt("-protocol"))
			if b.neg("protocol") {
				fr.add("!")
			}
			fr.add(v)
		}
		for _, d := range []struct{ start, end, fwd, rev string }{
			{"srcportstart", "srcportend", "-source-port", "-destination-port"},
			{"dstportstart", "dstportend", "-destination-port", "-source-port"}} {
			if !b.has(d.start) {
				continue
			}
			v := b.val(d.start, false)
			fr.add(ipopt(pick(reverse, d.fwd, d.rev)))
			if b.neg(d.start) {
				fr.add("!")
			}
			if b.has(d.end) {
				fr.add(v + ":" + b.val(d.end, false))
			} else {
				fr.add(v)
			}
		}
		if !v6 && b.has("dscp") {
			v := b.val("dscp", true)
			fr.add("--ip-tos")
			if b.neg("dscp") {
				fr.add("!")
			}
			fr.add(v)
		}
		if v6 && (b.has("type") || b.has("typeend") || b.has("code") || b.has("codeend")) {
			fr.add("--ip6-icmp-type")
			rng := func(lo, hi string) string {
				l, h := "0", ""
				have := false
				if b.has(lo) {
					l, have = b.val(lo, false), true
				}
				switch {
				case b.has(hi):
					h = b.val(hi, false)
				case have:
					h = l
				default:
					h = "255"
				}
				return l + ":" + h
			}
			s := rng("type", "typeend") + "/" + rng("code", "codeend")
			if b.neg("type") {
				fr.add("!")
			}
			fr.add(s)
		}
	case ProtoNone:
	default:
		return errf(virerr.ErrInternalError, "Unexpected rule protocol %d", r.Proto)
	}
	if b.err != nil {
		return b.err
	}
	target := jumpTargets[r.Action]
	if r.Action == ActionReject {
		target = "DROP" // ebtables has no REJECT
	}
	fr.add("-j", target)
	return nil
}
