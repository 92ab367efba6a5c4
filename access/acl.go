package access

import (
	"fmt"
	"strings"
)

// Check is one of a procedure's @acl/@aclfilter annotations, as
// gendispatch.pl reads them: OBJECT:PERM[:FLAGS[:PARAM:VALUE]]. With
// FLAGS the check applies only when all those flags are set ("!A|B": when
// none is set); with PARAM only when that argument equals VALUE.
type Check struct {
	Kind, Perm string
	HasFlags   bool
	FlagsNeg   bool
	Flags      uint32
	Param      string // the argument's Go field name ("Source"), "" none
	ParamNeg   bool
	Value      uint32
	None       bool // the "none" annotation: no check
}

// flagValues are the constants libvirt's annotations name.
var flagValues = map[string]uint32{
	"VIR_DOMAIN_AFFECT_LIVE":                   1 << 0,
	"VIR_DOMAIN_AFFECT_CONFIG":                 1 << 1,
	"VIR_DOMAIN_VCPU_GUEST":                    1 << 3,
	"VIR_NETWORK_UPDATE_AFFECT_LIVE":           1 << 0,
	"VIR_NETWORK_UPDATE_AFFECT_CONFIG":         1 << 1,
	"VIR_DOMAIN_SHUTDOWN_GUEST_AGENT":          1 << 1,
	"VIR_DOMAIN_REBOOT_GUEST_AGENT":            1 << 1,
	"VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT": 1,
	"VIR_DOMAIN_XML_SECURE":                    1 << 0,
	"VIR_DOMAIN_XML_MIGRATABLE":                1 << 3,
	"VIR_DOMAIN_SNAPSHOT_XML_SECURE":           1 << 0,
	"VIR_DOMAIN_SAVE_IMAGE_XML_SECURE":         1 << 0,
	"VIR_DOMAIN_CHECKPOINT_XML_SECURE":         1 << 0,
	"VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE":       1 << 6,
	"VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE":     1 << 1,
}

// ParseCheck reads one annotation.
func ParseCheck(s string) (Check, error) {
	if s == "none" {
		return Check{None: true}, nil
	}
	bits := strings.Split(s, ":")
	if len(bits) < 2 || len(bits) > 5 || len(bits) == 4 {
		return Check{}, fmt.Errorf("acl %q: expected OBJECT:PERM[:FLAGS[:PARAM:VALUE]]", s)
	}
	c := Check{Kind: bits[0], Perm: bits[1]}
	if !ValidPerm(c.Kind, c.Perm) {
		return c, fmt.Errorf("acl %q: unknown permission", s)
	}
	if len(bits) >= 3 && bits[2] != "" {
		f := bits[2]
		if strings.HasPrefix(f, "!") {
			c.FlagsNeg, f = true, f[1:]
		}
		v, err := flagSum(f)
		if err != nil {
			return c, fmt.Errorf("acl %q: %v", s, err)
		}
		c.HasFlags, c.Flags = true, v
	}
	if len(bits) == 5 {
		c.Param = strings.ToUpper(bits[3][:1]) + bits[3][1:]
		val := bits[4]
		if strings.HasPrefix(val, "!") {
			c.ParamNeg, val = true, val[1:]
		}
		v, err := flagSum(val)
		if err != nil {
			return c, fmt.Errorf("acl %q: %v", s, err)
		}
		c.Value = v
	}
	return c, nil
}

func flagSum(f string) (uint32, error) {
	var v uint32
	for _, n := range strings.Split(f, "|") {
		x, ok := flagValues[n]
		if !ok {
			return 0, fmt.Errorf("unknown constant %s", n)
		}
		v |= x
	}
	return v, nil
}

// Applies reports whether the check is made for a call with these flags
// and parameter value.
func (c Check) Applies(flags, param uint32) bool {
	if c.None {
		return false
	}
	if c.HasFlags {
		if c.FlagsNeg && flags&c.Flags != 0 {
			return false
		}
		if !c.FlagsNeg && flags&c.Flags != c.Flags {
			return false
		}
	}
	if c.Param != "" {
		if c.ParamNeg == (param == c.Value) {
			return false
		}
	}
	return true
}
