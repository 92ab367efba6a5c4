package nwfilter

import (
	"net/netip"
	"sort"

	"govirt/uuid"
)

// Filter is a network filter definition (libvirt's virNWFilterDef).
type Filter struct {
	Name          string
	UUID          uuid.UUID
	UUIDSpecified bool
	Chain         string // "root" when not given
	ChainPriority int32
	Entries       []Entry
}

// Entry is a rule or a reference to another filter, in document order.
type Entry struct {
	Rule *Rule
	Ref  *FilterRef
}

// FilterRef is <filterref filter='NAME'> with its parameters.
type FilterRef struct {
	Filter string
	Params Params
}

// Params are filter parameters: each name has one value or a list.
type Params map[string][]string

// Names returns the parameter names sorted as libvirt's hash export
// sorts them (byte order).
func (p Params) Names() []string {
	out := make([]string, 0, len(p))
	for k := range p {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Clone copies the parameters.
func (p Params) Clone() Params {
	out := Params{}
	for k, v := range p {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Rule actions and directions (libvirt's enums, in their order).
var (
	actionNames    = []string{"drop", "accept", "reject", "return", "continue"}
	directionNames = []string{"in", "out", "inout"}
)

// Rule actions.
const (
	ActionDrop = iota
	ActionAccept
	ActionReject
	ActionReturn
	ActionContinue
)

// Rule directions.
const (
	DirIn = iota
	DirOut
	DirInOut
)

// Rule is one <rule>.
type Rule struct {
	Action    int
	Direction int
	Priority  int32
	Flags     uint32
	Proto     Protocol
	items     map[string]*item
}

// Item flags (virNWFilterEntryItemFlags).
const (
	itemExists = 1 << 0
	itemNeg    = 1 << 1
	itemVar    = 1 << 2
)

// item is one attribute's value (libvirt's nwItemDesc).
type item struct {
	flags uint8
	dt    dtype
	v     *VarAccess
	num   uint32
	mac   [6]byte
	ip    netip.Addr
	str   string
	b     bool
	// tcp flags
	tcpMask, tcpFlags uint8
	// ipset flags: setNum entries, bit i set = "src"
	setNum, setFlags uint8
}

func (r *Rule) item(name string) *item {
	if r.items == nil {
		r.items = map[string]*item{}
	}
	it := r.items[name]
	if it == nil {
		it = &item{}
		r.items[name] = it
	}
	return it
}

// has reports whether the rule sets attribute name.
func (r *Rule) has(name string) bool {
	it := r.items[name]
	return it != nil && it.flags&itemExists != 0
}

// VarAccess is a variable reference in a rule: $NAME, $NAME[@ITER] or
// $NAME[INDEX].
type VarAccess struct {
	Name   string
	Elem   bool
	Index  uint32
	IterID uint32
}

func (v *VarAccess) String() string {
	switch {
	case v.Elem:
		return v.Name + "[" + utoa(v.Index) + "]"
	case v.IterID != 0:
		return v.Name + "[@" + utoa(v.IterID) + "]"
	}
	return v.Name
}

func utoa(u uint32) string {
	if u == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	return string(b[i:])
}
