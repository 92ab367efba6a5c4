package nwfilter

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
)

// strToUI is libvirt's virStrToLong_ui without an end pointer: strtoul
// (leading blanks, a sign, "0x" in base 16) consuming the whole string,
// "-N" wrapping as libvirt allows for "-1".
func strToUI(s string, base int) (uint32, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 16 && i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) {
		i += 2
	}
	start := i
	var v uint64
	over := false
	for i < len(s) {
		d := digit(s[i])
		if d < 0 || d >= base {
			break
		}
		nv := v*uint64(base) + uint64(d)
		if nv < v || nv > 1<<63 {
			over = true
		}
		v = nv
		i++
	}
	if i == start || i != len(s) || over {
		return 0, false
	}
	if neg {
		v = -v
		if -v > 0xffffffff {
			return 0, false
		}
		v &= 0xffffffff
	}
	if v > 0xffffffff {
		return 0, false
	}
	return uint32(v), true
}

// strToI is virStrToLong_i: strtol over the whole string.
func strToI(s string) (int32, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + int64(s[i]-'0')
		if v > 1<<32 {
			return 0, false
		}
		i++
	}
	if i == start || i != len(s) {
		return 0, false
	}
	if neg {
		v = -v
	}
	if v < -1<<31 || v > 1<<31-1 {
		return 0, false
	}
	return int32(v), true
}

func digit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}

func isHex(c byte) bool { d := digit(c); return d >= 0 && d < 16 }

// parseMAC is virMacAddrParse: six groups of one or two hex digits
// separated by ':'.
func parseMAC(s string) ([6]byte, bool) {
	var m [6]byte
	for i := 0; i < 6; i++ {
		if s == "" || !isHex(s[0]) {
			return m, false
		}
		n := 0
		var v int
		for n < len(s) && isHex(s[n]) {
			v = v*16 + digit(s[n])
			n++
		}
		if n > 2 {
			return m, false
		}
		m[i] = byte(v)
		s = s[n:]
		if i == 5 {
			return m, s == ""
		}
		if s == "" || s[0] != ':' {
			return m, false
		}
		s = s[1:]
	}
	return m, false
}

func formatMAC(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// validMACMask: ones then zeros (libvirt's checkValidMask).
func validMask(b []byte) bool {
	zero := false
	for _, c := range b {
		for m := byte(0x80); m != 0; m >>= 1 {
			if c&m == 0 {
				zero = true
			} else if zero {
				return false
			}
		}
	}
	return true
}

func parseIPv4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

func parseIPv6(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// maskBits is virSocketAddrGetNumNetmaskBits: -1 for a mask that is not
// ones followed by zeros.
func maskBits(a netip.Addr) int {
	b := a.AsSlice()
	if !validMask(b) {
		return -1
	}
	n := 0
	for _, c := range b {
		n += bits.OnesCount8(c)
	}
	return n
}

// formatIP writes an address as glibc's inet_ntop does (libvirt prints
// through getnameinfo): IPv4-compatible and -mapped IPv6 addresses end
// in dotted quads.
func formatIP(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	var w [8]uint16
	for i := range w {
		w[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	zero5 := w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0
	quad := fmt.Sprintf("%d.%d.%d.%d", b[12], b[13], b[14], b[15])
	if zero5 && w[5] == 0xffff {
		return "::ffff:" + quad
	}
	if zero5 && w[5] == 0 && (w[6] != 0 || (w[7] != 0 && w[7] != 1)) {
		return "::" + quad
	}
	return strings.ToLower(a.String())
}
