package nwfilter

import (
	"fmt"
	"strings"
)

// Format writes the filter as virNWFilterDefFormat does.
func (f *Filter) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<filter name='%s' chain='%s'", f.Name, f.Chain)
	if f.ChainPriority != 0 {
		fmt.Fprintf(&b, " priority='%d'", f.ChainPriority)
	}
	b.WriteString(">\n")
	fmt.Fprintf(&b, "  <uuid>%s</uuid>\n", f.UUID)
	for _, e := range f.Entries {
		if e.Rule != nil {
			formatRule(&b, e.Rule)
		} else {
			formatRef(&b, "  ", e.Ref.Filter, e.Ref.Params)
		}
	}
	b.WriteString("</filter>\n")
	return b.String()
}

// formatRef is virNWFilterFormatParamAttributes.
func formatRef(b *strings.Builder, indent, filter string, p Params) {
	fmt.Fprintf(b, "%s<filterref filter='%s'", indent, filter)
	if len(p) == 0 {
		b.WriteString("/>\n")
		return
	}
	b.WriteString(">\n")
	for _, n := range p.Names() {
		for _, v := range p[n] {
			fmt.Fprintf(b, "%s  <parameter name='%s' value='%s'/>\n", indent, n, v)
		}
	}
	fmt.Fprintf(b, "%s</filterref>\n", indent)
}

func formatRule(b *strings.Builder, r *Rule) {
	fmt.Fprintf(b, "  <rule action='%s' direction='%s' priority='%d'", actionNames[r.Action], directionNames[r.Direction], r.Priority)
	if r.Flags&NoStateMatch != 0 {
		b.WriteString(" statematch='false'")
	}
	pd := protoByType(r.Proto)
	if pd == nil {
		b.WriteString("/>\n")
		return
	}
	b.WriteString(">\n")
	formatDetails(b, pd, r)
	b.WriteString("  </rule>\n")
}

// formatDetails is virNWFilterRuleDefDetailsFormat: attributes in table
// order; where negated and plain attributes meet, the element is closed
// and a new one opened, so each element has one match='no' or none.
func formatDetails(b *strings.Builder, pd *protoDef, r *Rule) {
	const indent = "    "
	typeShown, neverShown := false, true
	match := 0 // 0 none, 1 yes, 2 no
	for i := 0; i < len(pd.attrs); {
		a := pd.attrs[i]
		it := r.items[a.name]
		if it != nil && it.flags&itemExists != 0 {
			if !typeShown {
				b.WriteString(indent + "<" + pd.id)
				typeShown, neverShown = true, false
			}
			if it.flags&itemNeg != 0 {
				if match == 0 {
					b.WriteString(" match='no'")
					match = 2
				} else if match == 1 {
					b.WriteString("/>\n")
					typeShown, match = false, 0
					continue
				}
			} else {
				if match == 2 {
					b.WriteString("/>\n")
					typeShown, match = false, 0
					continue
				}
				match = 1
			}
			fmt.Fprintf(b, " %s='%s'", a.name, formatValue(a, it))
		}
		i++
	}
	if typeShown {
		b.WriteString("/>\n")
	}
	if neverShown {
		b.WriteString(indent + "<" + pd.id + "/>\n")
	}
}

func hexOrDec(v uint32, hex bool) string {
	if hex {
		return fmt.Sprintf("0x%x", v)
	}
	return fmt.Sprintf("%d", v)
}

func formatValue(a attrDef, it *item) string {
	if it.flags&itemVar != 0 {
		return "$" + it.v.String()
	}
	switch a.sp {
	case spMacProto, spVlanProto:
		if n, ok := nameOf(macProtoMap, int(it.num)); ok {
			return n
		}
		return hexOrDec(it.num, it.dt != dtUint16)
	case spArpOpcode:
		if n, ok := nameOf(arpOpcodes, int(it.num)); ok {
			return n
		}
		return fmt.Sprintf("%d", it.num)
	case spIPProto:
		if n, ok := nameOf(ipProtoMap, int(it.num)); ok {
			return n
		}
		return hexOrDec(it.num, it.dt != dtUint8)
	case spState:
		return printItems(stateMap, it.num)
	case spTCPFlags:
		return tcpFlagsString(it.tcpMask) + "/" + tcpFlagsString(it.tcpFlags)
	case spIPSet:
		return it.str
	case spIPSetFlags:
		return ipsetFlagsString(it)
	}
	switch it.dt {
	case dtUint8Hex, dtUint16Hex, dtUint32Hex:
		return fmt.Sprintf("0x%x", it.num)
	case dtIPv4Mask, dtIPv6Mask, dtUint8, dtUint16, dtUint32:
		return fmt.Sprintf("%d", it.num)
	case dtIPv4, dtIPv6:
		return formatIP(it.ip)
	case dtMAC, dtMACMask:
		return formatMAC(it.mac)
	case dtStringCopy:
		return escape(it.str)
	case dtBool:
		if it.b {
			return "true"
		}
		return "false"
	}
	return fmt.Sprintf("UNSUPPORTED DATATYPE 0x%02x\n", uint32(a.dt))
}

func tcpFlagsString(f uint8) string {
	switch f {
	case 0:
		return "NONE"
	case 0x3f:
		return "ALL"
	}
	return printItems(tcpFlagMap, uint32(f))
}

func ipsetFlagsString(it *item) string {
	parts := make([]string, 0, it.setNum)
	for i := uint8(0); i < it.setNum; i++ {
		if it.setFlags&(1<<i) != 0 {
			parts = append(parts, "src")
		} else {
			parts = append(parts, "dst")
		}
	}
	return strings.Join(parts, ",")
}

// escape is virBufferEscapeString's XML escaping.
func escape(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;", "'", "&apos;", "\"", "&quot;").Replace(s)
}
