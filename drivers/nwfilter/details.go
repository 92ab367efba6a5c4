package nwfilter

import (
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// parseDetails reads a protocol element's attributes into r as
// virNWFilterRuleDetailsParse does: each value is tried against the
// attribute's types from the lowest bit up, then its checker runs; a
// value no type takes fails the rule with "NAME has illegal value V"
// (the last such error is the one reported).
func parseDetails(e *conf.Element, r *Rule, pd *protoDef) error {
	var neg uint8
	if m, _ := e.Attr("match"); m == "no" {
		neg = itemNeg
	}
	var last error
	for _, a := range pd.attrs {
		prop, ok := e.Attr(a.name)
		if !ok {
			continue
		}
		it := r.item(a.name)
		set := neg
		found, bad := false, false
		if strings.HasPrefix(prop, "$") {
			set |= itemVar
			va, err := parseVarAccess(prop[1:])
			if err != nil {
				bad = true
			} else {
				it.v = va
			}
			found = true
		}
		dt := dtype(1)
		remaining := a.dt
		sp := spNone
		var ui uint32
		var str string
		macMask := false
		for dt <= dtLast && !found && !bad {
			if remaining&dt != 0 {
				remaining ^= dt
				sp = a.sp
				base := 10
				switch dt {
				case dtUint8Hex:
					base = 16
					fallthrough
				case dtUint8:
					if v, ok := strToUI(prop, base); ok && v <= 0xff {
						it.num, ui, found = v, v, true
					} else {
						bad = true
					}
				case dtUint16Hex:
					base = 16
					fallthrough
				case dtUint16:
					if v, ok := strToUI(prop, base); ok && v <= 0xffff {
						it.num, ui, found = v, v, true
					} else {
						bad = true
					}
				case dtUint32Hex:
					base = 16
					fallthrough
				case dtUint32:
					if v, ok := strToUI(prop, base); ok {
						it.num, ui, found = v, v, true
					} else {
						bad = true
					}
				case dtIPv4, dtIPv6:
					parse := parseIPv4
					if dt == dtIPv6 {
						parse = parseIPv6
					}
					if ip, ok := parse(prop); ok {
						it.ip = ip
					} else {
						bad = true
					}
					found = true
				case dtIPv4Mask, dtIPv6Mask:
					max, parse := uint32(32), parseIPv4
					if dt == dtIPv6Mask {
						max, parse = 128, parseIPv6
					}
					if v, ok := strToUI(prop, 10); ok {
						if v <= max {
							it.num, ui, found = v, v, true
						} else {
							bad = true
						}
					} else if ip, ok := parse(prop); !ok {
						bad = true
					} else {
						if n := maskBits(ip); n >= 0 {
							it.num = uint32(n)
						} else {
							bad = true
						}
						found = true
					}
				case dtMAC, dtMACMask:
					macMask = dt == dtMACMask
					if m, ok := parseMAC(prop); ok {
						it.mac = m
					} else {
						bad = true
					}
					found = true
				case dtString, dtIPSetFlags, dtIPSetName:
					if a.sp == spNone {
						bad = true
						break
					}
					str, found = prop, true
				case dtStringCopy:
					s := prop
					if len(s) > maxCommentLength {
						s = s[:maxCommentLength]
					}
					it.str, str, found = s, s, true
				case dtBool:
					it.b = prop == "true" || prop == "1" || prop == "yes"
					found = true
				}
			}
			if bad && remaining != 0 {
				bad, found = false, false
			}
			dt <<= 1
		}
		if found && !bad {
			it.flags = itemExists | set
			it.dt = dt >> 1
			if set&itemVar != 0 {
				it.dt = 0
			} else if !check(sp, macMask, it.dt, ui, str, r, it) {
				bad = true
				it.flags = 0
			}
		}
		if !found || bad {
			last = errf(virerr.ErrInternalError, "%s has illegal value %s", a.name, prop)
		}
	}
	return last
}

// check runs an attribute's extra checker (libvirt's validators), which
// may also convert the value.
func check(sp special, macMask bool, dt dtype, ui uint32, str string, r *Rule, it *item) bool {
	if macMask {
		return validMask(it.mac[:])
	}
	switch sp {
	case spMacProto, spVlanProto:
		min := uint32(0x600)
		if sp == spVlanProto {
			min = 0x3c
		}
		res := int64(-1)
		if dt == dtString {
			if v, ok := valueOf(macProtoMap, str); ok {
				res = int64(v)
			}
			dt = dtUint16
		} else if ui >= min {
			res = int64(ui)
		}
		if res < 0 {
			return false
		}
		it.num, it.dt = uint32(res), dt
	case spVlanID:
		if ui > 4095 {
			return false
		}
	case spArpOpcode:
		if dt == dtString {
			v, ok := valueOf(arpOpcodes, str)
			if !ok {
				return false
			}
			it.num, it.dt = uint32(v), dtUint16
		}
	case spIPProto:
		if dt == dtString {
			v, ok := valueOf(ipProtoMap, str)
			if !ok {
				return false
			}
			it.num, it.dt = uint32(v), dtUint8Hex
		}
	case spDSCP:
		return ui <= 63
	case spState:
		f, ok := parseItems(stateMap, str)
		if !ok {
			return false
		}
		if f&StateNone != 0 {
			f = StateNone
		}
		it.num, it.dt = f, dtUint16
		r.Flags |= f
	case spTCPFlags:
		m, f, ok := strings.Cut(str, "/")
		if !ok {
			return false
		}
		mask, ok1 := parseItems(tcpFlagMap, m)
		flags, ok2 := parseItems(tcpFlagMap, f)
		if !ok1 || !ok2 {
			return false
		}
		it.tcpMask, it.tcpFlags = uint8(mask&0x3f), uint8(flags&0x3f)
	case spIPSet:
		if len(str) >= 32 || strings.Trim(str, validIPSetChars) != "" {
			return false
		}
		it.str = str
	case spIPSetFlags:
		return parseIPSetFlags(str, it)
	}
	return true
}

func valueOf(m []intName, s string) (int, bool) {
	for _, e := range m {
		if strings.EqualFold(e.name, s) {
			return e.v, true
		}
	}
	return 0, false
}

// parseItems is libvirt's parseStringItems: names separated by ',' or
// blanks, each matched case-insensitively as a prefix of the rest.
func parseItems(m []intName, s string) (uint32, bool) {
	var f uint32
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ',' || s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
			i++
		}
		if i >= len(s) {
			break
		}
		found := false
		for _, e := range m {
			if len(s)-i >= len(e.name) && strings.EqualFold(s[i:i+len(e.name)], e.name) {
				f |= uint32(e.v)
				i += len(e.name)
				found = true
				break
			}
		}
		if !found {
			return f, false
		}
	}
	return f, true
}

// printItems is printStringItems: the names of the set bits, lowest
// first.
func printItems(m []intName, flags uint32) string {
	var parts []string
	for mask := uint32(1); flags != 0 && mask != 0; mask <<= 1 {
		if flags&mask != 0 {
			for _, e := range m {
				if uint32(e.v) == mask {
					parts = append(parts, e.name)
				}
			}
			flags ^= mask
		}
	}
	return strings.Join(parts, ",")
}

func parseIPSetFlags(s string, it *item) bool {
	it.setNum, it.setFlags = 0, 0
	idx := 0
	for it.setNum < 6 {
		if len(s)-idx >= 3 && strings.EqualFold(s[idx:idx+3], "src") {
			it.setFlags |= 1 << it.setNum
		} else if !(len(s)-idx >= 3 && strings.EqualFold(s[idx:idx+3], "dst")) {
			return false
		}
		it.setNum++
		idx += 3
		if idx >= len(s) || s[idx] != ',' {
			break
		}
		idx++
	}
	return idx == len(s)
}

// parseVarAccess is virNWFilterVarAccessParse: NAME, NAME[@N] or
// NAME[N].
func parseVarAccess(s string) (*VarAccess, error) {
	n := 0
	for n < len(s) && strings.IndexByte(validVarName, s[n]) >= 0 {
		n++
	}
	if n == len(s) {
		return &VarAccess{Name: s}, nil
	}
	if s[n] != '[' {
		return nil, errf(virerr.ErrInvalidArg, "Malformatted variable")
	}
	v := &VarAccess{Name: s[:n]}
	rest := strings.TrimLeft(s[n+1:], " \t\n\v\f\r")
	if strings.HasPrefix(rest, "@") {
		rest = rest[1:]
	} else {
		v.Elem = true
	}
	// virStrToLong_ui with an end pointer: digits, then blanks and ']'.
	j := 0
	for j < len(rest) && (rest[j] == ' ' || (rest[j] >= '\t' && rest[j] <= '\r')) {
		j++
	}
	k := j
	for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
		k++
	}
	num, ok := strToUI(rest[:k], 10)
	tail := strings.TrimLeft(rest[k:], " \t\n\v\f\r")
	if !ok || !strings.HasPrefix(tail, "]") {
		if v.Elem {
			return nil, errf(virerr.ErrInvalidArg, "Malformatted array index")
		}
		return nil, errf(virerr.ErrInvalidArg, "Malformatted iterator id")
	}
	if v.Elem {
		v.Index = num
	} else {
		if num > maxIterID {
			return nil, errf(virerr.ErrInvalidArg, "Iterator ID exceeds maximum ID of %d", maxIterID)
		}
		v.IterID = num
	}
	return v, nil
}
