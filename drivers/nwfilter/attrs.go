package nwfilter

// The attribute tables of libvirt 9.0's filter rules
// (src/conf/nwfilter_conf.c): per protocol element, the attributes in the
// order libvirt reads and writes them, each with the value types it
// accepts (tried in bit order) and its special checker/printer. The
// order is part of the XML libvirt writes back.

// dtype mirrors libvirt's attrDatatype bits; parsing tries a value's
// accepted types from the lowest bit up.
type dtype uint32

const (
	dtUint16 dtype = 1 << iota
	dtUint8
	dtUint16Hex
	dtUint8Hex
	dtMAC
	dtMACMask
	dtIPv4
	dtIPv4Mask
	dtString
	dtIPv6
	dtIPv6Mask
	dtStringCopy
	dtBool
	dtUint32
	dtUint32Hex
	dtIPSetName
	dtIPSetFlags
	dtLast
)

// special names an attribute's extra checker and printer.
type special uint8

const (
	spNone special = iota
	spMacProto
	spVlanID
	spVlanProto
	spArpOpcode
	spIPProto
	spDSCP
	spState
	spTCPFlags
	spIPSet
	spIPSetFlags
)

type attrDef struct {
	name string
	dt   dtype
	sp   special
}

const maxCommentLength = 256

var (
	macProps = []attrDef{
		{"srcmacaddr", dtMAC, spNone},
		{"srcmacmask", dtMACMask, spNone},
		{"dstmacaddr", dtMAC, spNone},
		{"dstmacmask", dtMACMask, spNone},
	}
	commentProp = attrDef{"comment", dtStringCopy, spNone}
	u16         = dtUint16 | dtUint16Hex
	u8          = dtUint8 | dtUint8Hex
	u32         = dtUint32 | dtUint32Hex
)

func cat(parts ...[]attrDef) []attrDef {
	var out []attrDef
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ipProps(addr, mask dtype) []attrDef {
	return []attrDef{
		{"srcmacaddr", dtMAC, spNone},
		{"srcipaddr", addr, spNone},
		{"srcipmask", mask, spNone},
		{"dstipaddr", addr, spNone},
		{"dstipmask", mask, spNone},
		{"srcipfrom", addr, spNone},
		{"srcipto", addr, spNone},
		{"dstipfrom", addr, spNone},
		// libvirt declares dstipto as an IPv4 address in the IPv6
		// tables too; kept, so it refuses what libvirt refuses.
		{"dstipto", dtIPv4, spNone},
		{"dscp", u8, spDSCP},
		{"connlimit-above", dtUint16, spNone},
		{"state", dtString, spState},
		{"ipset", dtIPSetName, spIPSet},
		{"ipsetflags", dtIPSetFlags, spIPSetFlags},
	}
}

var portProps = []attrDef{
	{"srcportstart", u16, spNone},
	{"srcportend", u16, spNone},
	{"dstportstart", u16, spNone},
	{"dstportend", u16, spNone},
}

var (
	macAttrs = cat(macProps, []attrDef{
		{"protocolid", dtUint16 | dtUint16Hex | dtString, spMacProto},
		commentProp,
	})
	vlanAttrs = cat(macProps, []attrDef{
		{"vlanid", u16, spVlanID},
		{"encap-protocol", dtUint16 | dtUint16Hex | dtString, spVlanProto},
		commentProp,
	})
	stpAttrs = []attrDef{
		{"srcmacaddr", dtMAC, spNone},
		{"srcmacmask", dtMACMask, spNone},
		{"type", u8, spNone},
		{"flags", u8, spNone},
		{"root-priority", u16, spNone},
		{"root-priority-hi", u16, spNone},
		{"root-address", dtMAC, spNone},
		{"root-address-mask", dtMACMask, spNone},
		{"root-cost", u32, spNone},
		{"root-cost-hi", u32, spNone},
		{"sender-priority", u16, spNone},
		{"sender-priority-hi", u16, spNone},
		{"sender-address", dtMAC, spNone},
		{"sender-address-mask", dtMACMask, spNone},
		{"port", u16, spNone},
		{"port-hi", u16, spNone},
		{"age", u16, spNone},
		{"age-hi", u16, spNone},
		{"max-age", u16, spNone},
		{"max-age-hi", u16, spNone},
		{"hello-time", u16, spNone},
		{"hello-time-hi", u16, spNone},
		{"forward-delay", u16, spNone},
		{"forward-delay-hi", u16, spNone},
		commentProp,
	}
	arpAttrs = cat(macProps, []attrDef{
		{"hwtype", u16, spNone},
		{"protocoltype", u16, spNone},
		{"opcode", dtUint16 | dtUint16Hex | dtString, spArpOpcode},
		{"arpsrcmacaddr", dtMAC, spNone},
		{"arpdstmacaddr", dtMAC, spNone},
		{"arpsrcipaddr", dtIPv4, spNone},
		{"arpsrcipmask", dtIPv4Mask, spNone},
		{"arpdstipaddr", dtIPv4, spNone},
		{"arpdstipmask", dtIPv4Mask, spNone},
		{"gratuitous", dtBool, spNone},
		commentProp,
	})
	ipAttrs = cat(macProps, []attrDef{
		{"srcipaddr", dtIPv4, spNone},
		{"srcipmask", dtIPv4Mask, spNone},
		{"dstipaddr", dtIPv4, spNone},
		{"dstipmask", dtIPv4Mask, spNone},
		{"protocol", dtString | dtUint8 | dtUint8Hex, spIPProto},
	}, portProps, []attrDef{
		{"dscp", u8, spDSCP},
		commentProp,
	})
	ipv6Attrs = cat(macProps, []attrDef{
		{"srcipaddr", dtIPv6, spNone},
		{"srcipmask", dtIPv6Mask, spNone},
		{"dstipaddr", dtIPv6, spNone},
		{"dstipmask", dtIPv6Mask, spNone},
		{"protocol", dtString | dtUint8 | dtUint8Hex, spIPProto},
	}, portProps, []attrDef{
		{"type", u8, spNone},
		{"typeend", u8, spNone},
		{"code", u8, spNone},
		{"codeend", u8, spNone},
		commentProp,
	})
	v4 = ipProps(dtIPv4, dtIPv4Mask)
	v6 = ipProps(dtIPv6, dtIPv6Mask)

	tcpAttrs        = cat(v4, portProps, []attrDef{{"option", u8, spNone}, {"flags", dtString, spTCPFlags}, commentProp})
	udpAttrs        = cat(v4, portProps, []attrDef{commentProp})
	udpliteAttrs    = cat(v4, []attrDef{commentProp})
	espAttrs        = cat(v4, []attrDef{commentProp})
	ahAttrs         = cat(v4, []attrDef{commentProp})
	sctpAttrs       = cat(v4, portProps, []attrDef{commentProp})
	icmpAttrs       = cat(v4, []attrDef{{"type", u8, spNone}, {"code", u8, spNone}, commentProp})
	allAttrs        = cat(v4, []attrDef{commentProp})
	igmpAttrs       = cat(v4, []attrDef{commentProp})
	tcp6Attrs       = cat(v6, portProps, []attrDef{{"option", u8, spNone}, commentProp})
	udp6Attrs       = cat(v6, portProps, []attrDef{commentProp})
	udplite6Attrs   = cat(v6, []attrDef{commentProp})
	esp6Attrs       = cat(v6, []attrDef{commentProp})
	ah6Attrs        = cat(v6, []attrDef{commentProp})
	sctp6Attrs      = cat(v6, portProps, []attrDef{commentProp})
	icmp6Attrs      = cat(v6, []attrDef{{"type", u8, spNone}, {"code", u8, spNone}, commentProp})
	all6Attrs       = cat(v6, []attrDef{commentProp})
	ipPortFixups    = [][2]string{{"srcipmask", "srcipaddr"}, {"dstipmask", "dstipaddr"}, {"srcipto", "srcipfrom"}, {"dstipto", "dstipfrom"}}
	portNegFixups   = [][2]string{{"srcportend", "srcportstart"}, {"dstportstart", "srcportstart"}, {"dstportend", "srcportstart"}}
	macMaskFixups   = [][2]string{{"srcmacmask", "srcmacaddr"}, {"dstmacmask", "dstmacaddr"}}
	ipMaskFixupOnly = [][2]string{{"srcipmask", "srcipaddr"}, {"dstipmask", "dstipaddr"}}
)

// Protocol is a rule's protocol element; its value is libvirt's
// virNWFilterRuleProtocolType.
type Protocol int

// Rule protocols (virNWFilterRuleProtocolType order).
const (
	ProtoNone Protocol = iota
	ProtoMAC
	ProtoVLAN
	ProtoSTP
	ProtoARP
	ProtoRARP
	ProtoIP
	ProtoIPv6
	ProtoTCP
	ProtoICMP
	ProtoIGMP
	ProtoUDP
	ProtoUDPLite
	ProtoESP
	ProtoAH
	ProtoSCTP
	ProtoAll
	ProtoTCPv6
	ProtoICMPv6
	ProtoUDPv6
	ProtoUDPLitev6
	ProtoESPv6
	ProtoAHv6
	ProtoSCTPv6
	ProtoAllv6
)

type protoDef struct {
	id     string
	proto  Protocol
	attrs  []attrDef
	negs   [][2]string // COPY_NEG_SIGN(dst, src) pairs of libvirt's fixup
	ipset  bool        // the ipset fixup applies
	ipPort bool        // IP/IPv6: ports need tcp/udp/dccp/sctp
}

// protocols is libvirt's virAttr table, in its order (the parser tries
// element names in this order).
var protocols = []protoDef{
	{"arp", ProtoARP, arpAttrs, nil, false, false},
	{"rarp", ProtoRARP, arpAttrs, nil, false, false},
	{"mac", ProtoMAC, macAttrs, macMaskFixups, false, false},
	{"vlan", ProtoVLAN, vlanAttrs, macMaskFixups, false, false},
	{"stp", ProtoSTP, stpAttrs, [][2]string{{"srcmacmask", "srcmacaddr"}, {"root-priority-hi", "root-priority"},
		{"root-address-mask", "root-address"}, {"root-cost-hi", "root-cost"}, {"sender-priority-hi", "sender-priority"},
		{"sender-address-mask", "sender-address"}, {"port-hi", "port"}, {"age-hi", "age"}, {"max-age-hi", "max-age"},
		{"hello-time-hi", "hello-time"}, {"forward-delay-hi", "forward-delay"}}, false, false},
	{"ip", ProtoIP, ipAttrs, ipMaskFixupOnly, true, true},
	{"ipv6", ProtoIPv6, ipv6Attrs, cat2(ipMaskFixupOnly, [][2]string{{"typeend", "type"}, {"code", "type"}, {"codeend", "type"}}), true, true},
	{"tcp", ProtoTCP, tcpAttrs, cat2(ipPortFixups, portNegFixups), true, false},
	{"udp", ProtoUDP, udpAttrs, cat2(ipPortFixups, portNegFixups), true, false},
	{"udplite", ProtoUDPLite, udpliteAttrs, ipPortFixups, true, false},
	{"esp", ProtoESP, espAttrs, ipPortFixups, true, false},
	{"ah", ProtoAH, ahAttrs, ipPortFixups, true, false},
	{"sctp", ProtoSCTP, sctpAttrs, cat2(ipPortFixups, portNegFixups), true, false},
	{"icmp", ProtoICMP, icmpAttrs, cat2(ipPortFixups, [][2]string{{"code", "type"}}), true, false},
	{"all", ProtoAll, allAttrs, ipPortFixups, false, false},
	{"igmp", ProtoIGMP, igmpAttrs, ipPortFixups, true, false},
	{"tcp-ipv6", ProtoTCPv6, tcp6Attrs, cat2(ipPortFixups, portNegFixups), true, false},
	{"udp-ipv6", ProtoUDPv6, udp6Attrs, cat2(ipPortFixups, portNegFixups), true, false},
	{"udplite-ipv6", ProtoUDPLitev6, udplite6Attrs, ipPortFixups, true, false},
	{"esp-ipv6", ProtoESPv6, esp6Attrs, ipPortFixups, true, false},
	{"ah-ipv6", ProtoAHv6, ah6Attrs, ipPortFixups, true, false},
	{"sctp-ipv6", ProtoSCTPv6, sctp6Attrs, cat2(ipPortFixups, portNegFixups), true, false},
	{"icmpv6", ProtoICMPv6, icmp6Attrs, cat2(ipPortFixups, [][2]string{{"code", "type"}}), true, false},
	{"all-ipv6", ProtoAllv6, all6Attrs, ipPortFixups, false, false},
}

func cat2(a, b [][2]string) [][2]string { return append(append([][2]string{}, a...), b...) }

func protoByType(p Protocol) *protoDef {
	for i := range protocols {
		if protocols[i].proto == p {
			return &protocols[i]
		}
	}
	return nil
}

// Name is the protocol's element name.
func (p Protocol) Name() string {
	if d := protoByType(p); d != nil {
		return d.id
	}
	return "none"
}

type intName struct {
	v    int
	name string
}

var (
	macProtoMap = []intName{{0x0806, "arp"}, {0x8035, "rarp"}, {0x0800, "ipv4"}, {0x86dd, "ipv6"}, {0x8100, "vlan"}}
	arpOpcodes  = []intName{{1, "Request"}, {2, "Reply"}, {3, "Request_Reverse"}, {4, "Reply_Reverse"},
		{5, "DRARP_Request"}, {6, "DRARP_Reply"}, {7, "DRARP_Error"}, {8, "InARP_Request"}, {9, "ARP_NAK"}}
	ipProtoMap = []intName{{6, "tcp"}, {17, "udp"}, {136, "udplite"}, {50, "esp"}, {51, "ah"}, {1, "icmp"},
		{2, "igmp"}, {132, "sctp"}, {58, "icmpv6"}}
	stateMap = []intName{{StateNew, "NEW"}, {StateEstablished, "ESTABLISHED"}, {StateRelated, "RELATED"},
		{StateInvalid, "INVALID"}, {StateNone, "NONE"}}
	tcpFlagMap = []intName{{0x1, "FIN"}, {0x2, "SYN"}, {0x4, "RST"}, {0x8, "PSH"}, {0x10, "ACK"}, {0x20, "URG"},
		{0x3f, "ALL"}, {0x0, "NONE"}}
)

// Rule flags (virNWFilterRuleFlags).
const (
	NoStateMatch     = 1 << 0
	StateNew         = 1 << 1
	StateEstablished = 1 << 2
	StateRelated     = 1 << 3
	StateInvalid     = 1 << 4
	StateNone        = 1 << 5
)

func nameOf(m []intName, v int) (string, bool) {
	for _, e := range m {
		if e.v == v {
			return e.name, true
		}
	}
	return "", false
}
