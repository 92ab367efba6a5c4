package conf

import (
	"strconv"

	"govirt/virerr"
)

// canonicalNUMA writes the guest NUMA cells (<cpu><numa><cell>) the way
// libvirt formats what virDomainNumaDefParseXML read: each cell with its
// id (its position when it has none), its vCPU set as virBitmapFormat
// writes it, and its distances completed as libvirt completes them
// (virDomainNumaDefNodeDistanceParseXML): the local distance 10 and,
// where a cell names no distance to another, the one the other names to
// it. Malformed input is left for the builder's refusals.
func canonicalNUMA(root *node) error {
	numa := root.child("cpu").child("numa")
	cells := numa.childrenNamed("cell")
	if len(cells) == 0 {
		return nil
	}
	n := len(cells)
	for i, c := range cells {
		if s, ok := c.get("@id"); ok {
			id, err := strconv.ParseUint(s, 10, 32)
			if err != nil || int(id) != i {
				return nil
			}
		}
		if s, ok := c.get("@cpus"); ok {
			set, err := ParseBitmap(s)
			if err != nil {
				return err
			}
			c.setAttr("cpus", FormatBitmap(set))
		}
	}
	dist := make([][]uint, n)
	for i, c := range cells {
		for _, s := range c.child("distances").childrenNamed("sibling") {
			id, err1 := strconv.ParseUint(s.attr("id"), 10, 32)
			v, err2 := strconv.ParseUint(s.attr("value"), 10, 32)
			if err1 != nil || err2 != nil || int(id) >= n {
				return nil
			}
			if v < 10 || v > 255 || (int(id) == i) != (v == 10) {
				return virerr.New(virerr.FromDomain, virerr.ErrXMLError,
					"'value %d' is invalid for 'sibling id %d' under NUMA 'cell id %d'", v, id, i)
			}
			if dist[i] == nil {
				dist[i] = make([]uint, n)
				dist[i][i] = 10
			}
			dist[i][id] = uint(v)
			if dist[id] == nil {
				dist[id] = make([]uint, n)
				dist[id][id] = 10
			}
			if dist[id][i] == 0 {
				dist[id][i] = uint(v)
			}
		}
	}
	for i, c := range cells {
		c.setAttr("id", strconv.Itoa(i))
		orderAttrs(c, "id", "cpus", "memory", "unit", "memAccess", "discard")
		if dist[i] == nil {
			continue
		}
		ds := c.child("distances")
		if ds == nil {
			ds = newElem("distances")
			c.kids = append([]*node{ds}, c.kids...)
		}
		ds.kids = nil
		for j, v := range dist[i] {
			if v != 0 {
				s := newElem("sibling")
				s.setAttr("id", strconv.Itoa(j))
				s.setAttr("value", strconv.FormatUint(uint64(v), 10))
				ds.kids = append(ds.kids, s)
			}
		}
	}
	return nil
}
