package nwfilter

import (
	"fmt"
	"strings"

	"govirt/virerr"
)

// combIter walks the combinations of a rule's variable values as
// libvirt's virNWFilterVarCombIter: variables sharing an iterator ($X,
// $X[@0]) move in step, different iterators combine, $X[N] is fixed;
// repeated value tuples of one iterator are skipped.
type combIter struct {
	vars    Params
	entries []*iterEntry
	elems   map[VarAccess]int
}

type iterEntry struct {
	iterID        uint32
	names         []string
	min, max, cur int
}

func newCombIter(vars Params, accesses []*VarAccess) (*combIter, error) {
	c := &combIter{vars: vars, entries: []*iterEntry{{iterID: 0}}, elems: map[VarAccess]int{}}
	for _, va := range accesses {
		vals, ok := vars[va.Name]
		if !ok {
			return nil, errf(virerr.ErrInternalError, "Could not find value for variable '%s'", va.Name)
		}
		var e *iterEntry
		lo, hi := 0, len(vals)-1
		if va.Elem {
			e = &iterEntry{iterID: ^uint32(0)}
			c.elems[*va] = len(c.entries)
			c.entries = append(c.entries, e)
			lo, hi = int(va.Index), int(va.Index)
		} else {
			for _, x := range c.entries {
				if x.iterID == va.IterID {
					e = x
				}
			}
			if e == nil {
				e = &iterEntry{iterID: va.IterID}
				c.entries = append(c.entries, e)
			}
		}
		if len(e.names) == 0 {
			e.min, e.max, e.cur = lo, hi, lo
		} else if e.max != hi {
			return nil, errf(virerr.ErrInternalError, "Cardinality of list items must be the same for processing them in parallel")
		}
		e.names = append(e.names, va.Name)
	}
	return c, nil
}

func (c *combIter) unique(e *iterEntry) bool {
	first := c.vars[e.names[0]]
	for i := 0; i < e.cur; i++ {
		if first[i] != first[e.cur] {
			continue
		}
		same := true
		for _, n := range e.names[1:] {
			if c.vars[n][i] != c.vars[n][e.cur] {
				same = false
				break
			}
		}
		if same {
			return false
		}
	}
	return true
}

// next moves to the next combination; false after the last.
func (c *combIter) next() bool {
	for _, e := range c.entries {
		for {
			e.cur++
			if e.cur > e.max {
				e.cur = e.min
				break
			}
			if len(e.names) == 0 || c.unique(e) {
				return true
			}
		}
	}
	return false
}

func (c *combIter) value(va *VarAccess) (string, error) {
	var e *iterEntry
	if va.Elem {
		if i, ok := c.elems[*va]; ok {
			e = c.entries[i]
		}
	} else {
		for _, x := range c.entries {
			if x.iterID == va.IterID {
				e = x
				break
			}
		}
	}
	if e == nil {
		return "", errf(virerr.ErrInternalError, "Could not find variable '%s' in iterator", va.Name)
	}
	vals := c.vars[va.Name]
	if e.cur >= len(vals) {
		return "", errf(virerr.ErrInternalError, "Could not get nth (%d) value of variable '%s'", e.cur, va.Name)
	}
	return vals[e.cur], nil
}

// printItem is libvirt's _printDataType.
func printItem(c *combIter, it *item, asHex, dirIn bool) (string, error) {
	if it.flags&itemVar != 0 {
		return c.value(it.v)
	}
	num := func() string {
		if asHex {
			return fmt.Sprintf("0x%x", it.num)
		}
		return fmt.Sprintf("%d", it.num)
	}
	switch it.dt {
	case dtIPv4, dtIPv6:
		return formatIP(it.ip), nil
	case dtMAC, dtMACMask:
		return formatMAC(it.mac), nil
	case dtIPv4Mask, dtIPv6Mask:
		return fmt.Sprintf("%d", it.num), nil
	case dtUint32, dtUint32Hex, dtUint16, dtUint16Hex, dtUint8, dtUint8Hex:
		return num(), nil
	case dtIPSetName:
		return it.str, nil
	case dtIPSetFlags:
		parts := make([]string, 0, it.setNum)
		for i := uint8(0); i < it.setNum; i++ {
			src := it.setFlags&(1<<i) != 0
			if src != dirIn {
				parts = append(parts, "src")
			} else {
				parts = append(parts, "dst")
			}
		}
		return strings.Join(parts, ","), nil
	}
	return "", errf(virerr.ErrInternalError, "Cannot print data type %x", uint32(it.dt))
}
