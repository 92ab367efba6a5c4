package conf

import (
	"slices"
	"sort"
	"strings"
)

// This file gives the QEMU driver's post-parse step (drivers/qemu/postparse)
// what it needs beyond the typed fields: settings without a field,
// devices without a typed list, and libvirt's device order.

// Value reads a setting below <domain> that has no typed field
// ("cpu/@check", "features/vmport/@state"); ok is false when absent.
func (d *Domain) Value(path string) (string, bool) {
	if d.x == nil {
		return "", false
	}
	return d.x.get(path)
}

// SetValue writes a setting below <domain> that has no typed field; ""
// removes it. Where a typed field covers the same setting, the field is
// what Format writes.
func (d *Domain) SetValue(path, v string) {
	if d.x == nil {
		d.x = newElem("domain")
	}
	d.x.put(path, v)
}

// RawDevices returns the devices without a typed list (sound, hostdev,
// audio, filesystem, tpm, ...) in document order. They share the
// domain's document: SetDeviceValue and SetDeviceAddress on them change
// the domain.
func (d *Domain) RawDevices() []*RawDevice {
	var out []*RawDevice
	for _, k := range d.x.child("devices").elems() {
		if k.name == "emulator" || slices.Contains(typedKinds, k.name) {
			continue
		}
		out = append(out, &RawDevice{Kind: k.name, x: k})
	}
	return out
}

// SortDevices puts the children of <devices> in the order libvirt's
// formatter writes them (all disks, then controllers, leases, ...),
// keeping the order within a kind. libvirt's output always has that
// order, whatever order the input had.
func (d *Domain) SortDevices() {
	devs := d.x.child("devices")
	if devs == nil {
		return
	}
	sortKidsBy(devs, childOrder["devices"])
	// libvirt keeps no comments: its formatter writes none back.
	kids := devs.kids[:0]
	for _, k := range devs.kids {
		if k.kind != commentNode {
			kids = append(kids, k)
		}
	}
	devs.kids = kids
	for _, k := range devs.elems() {
		sortKnownChildren(k)
	}
}

// sortKnownChildren puts a device's children in libvirt's order when
// every one of them is a child libvirt's formatter writes in a known
// place; a device with anything else is left as written.
func sortKnownChildren(n *node) {
	order := childOrder[n.name]
	if len(order) == 0 {
		return
	}
	var elems []*node
	for _, k := range n.kids {
		switch {
		case k.kind == elemNode && slices.Contains(order, k.name):
			elems = append(elems, k)
		case k.kind == textNode && strings.TrimSpace(k.text) == "":
		default:
			return
		}
	}
	sort.SliceStable(elems, func(a, b int) bool {
		return slices.Index(order, elems[a].name) < slices.Index(order, elems[b].name)
	})
	n.kids = elems
}

// OrderDeviceAttrs puts the named attributes of the child element at
// path (or of the device element for "") first, in the given order, the
// way libvirt writes them; the rest keep their order.
func OrderDeviceAttrs(dev any, path string, names ...string) {
	p, _ := deviceNode(dev)
	if p == nil || *p == nil {
		return
	}
	n := *p
	if path != "" {
		n, _ = n.resolve(path+"/@x", false)
	}
	if n != nil {
		orderAttrs(n, names...)
	}
}

// OrderAttrs puts the named attributes first, in the given order, on
// every element at path below <domain> ("cpu/feature"), the way
// libvirt writes them; the rest keep their order.
func (d *Domain) OrderAttrs(path string, names ...string) {
	for _, n := range d.x.at(path) {
		orderAttrs(n, names...)
	}
}

// DefaultAttr gives every element at path below <domain> ("cpu/feature")
// that lacks attribute name the value v: a default libvirt's parser
// fills in and its formatter writes out.
func (d *Domain) DefaultAttr(path, name, v string) {
	if d.x == nil {
		return
	}
	for _, n := range d.x.at(path) {
		if n.attrIndex(name) < 0 {
			n.setAttr(name, v)
		}
	}
}

// EachElement calls fn for every element at path below <domain>, with a
// view of it and a setter of its attributes ("" removes one).
func (d *Domain) EachElement(path string, fn func(e *Element, set func(name, v string))) {
	if d.x == nil {
		return
	}
	for _, n := range d.x.at(path) {
		fn(&Element{n}, func(name, v string) {
			if v == "" {
				n.delAttr(name)
			} else {
				n.setAttr(name, v)
			}
		})
	}
}

// OrderChildrenByAttr sorts the element children of the first element at
// path below <domain> by where their attribute attr's value stands in
// values (libvirt writes some lists, as <os><firmware>'s features, in
// the order of an enum rather than as written); values not listed go
// last, in their order.
func (d *Domain) OrderChildrenByAttr(path, attr string, values ...string) {
	n := d.x
	for _, part := range strings.Split(path, "/") {
		if n == nil {
			return
		}
		n = n.child(part)
	}
	if n == nil {
		return
	}
	rank := func(k *node) int {
		if k.kind != elemNode {
			return len(values) + 1
		}
		if i := slices.Index(values, k.attr(attr)); i >= 0 {
			return i
		}
		return len(values)
	}
	var elems []*node
	for _, k := range n.kids {
		if k.kind == elemNode {
			elems = append(elems, k)
		} else if k.kind != textNode || strings.TrimSpace(k.text) != "" {
			return // mixed content is left as written
		}
	}
	sort.SliceStable(elems, func(a, b int) bool { return rank(elems[a]) < rank(elems[b]) })
	n.kids = elems
}

// SortTopLevel puts <domain>'s children, and those of <features> and
// <memoryBacking>, in the order libvirt's formatter writes them,
// whatever order the input had (a <cpu> written before <features>, a
// <memtune> after <vcpu>); elements libvirt does not know there (an
// application's namespaced ones) go last, keeping their order.
func (d *Domain) SortTopLevel() {
	if d.x == nil {
		return
	}
	sortKidsBy(d.x, childOrder["domain"])
	for _, name := range []string{"features", "memoryBacking"} {
		if n := d.x.child(name); n != nil {
			sortKidsBy(n, childOrder[name])
		}
	}
	if f := d.x.child("features"); f != nil {
		var names []string
		for _, e := range f.elems() {
			names = append(names, e.name)
		}
		if len(names) == len(d.Features) {
			d.Features = names
		}
	}
}

// sortKidsBy sorts n's children by where their name stands in order; a
// comment or text node travels with the element after it.
func sortKidsBy(n *node, order []string) {
	rank := func(k *node) int {
		if i := slices.Index(order, k.name); i >= 0 {
			return i
		}
		return len(order)
	}
	ranks := make([]int, len(n.kids))
	next := len(order)
	for i := len(n.kids) - 1; i >= 0; i-- {
		if k := n.kids[i]; k.kind == elemNode {
			next = rank(k)
		}
		ranks[i] = next
	}
	idx := make([]int, len(n.kids))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ranks[idx[a]] < ranks[idx[b]] })
	kids := make([]*node, 0, len(n.kids))
	for _, j := range idx {
		kids = append(kids, n.kids[j])
	}
	n.kids = kids
}

// Editable is one element of a definition's document that a post-parse
// step rewrites in place (a value libvirt stores scaled and writes in
// its own unit, on elements a path cannot tell apart, as NUMA cells).
type Editable struct{ n *node }

// Attr is the element's attribute name, "" when absent.
func (e Editable) Attr(name string) string { return e.n.attr(name) }

// SetAttr sets an attribute (added last when new).
func (e Editable) SetAttr(name, v string) { e.n.setAttr(name, v) }

// Text is the element's text, trimmed.
func (e Editable) Text() string { return strings.TrimSpace(e.n.textContent()) }

// SetText replaces the element's text.
func (e Editable) SetText(v string) { e.n.setText(v) }

// WriteOpen makes the element, when it has no children, come out as an
// open/close pair on two lines, as libvirt writes some containers even
// empty (<features><hyperv>).
func (e Editable) WriteOpen() {
	if len(e.n.elems()) == 0 && strings.TrimSpace(e.n.textContent()) == "" {
		e.n.kids, e.n.open = nil, true
	}
}

// OrderAttrs puts the named attributes first, in that order.
func (e Editable) OrderAttrs(names ...string) { orderAttrs(e.n, names...) }

// EditAll returns every element at the slash-separated path below
// <domain> ("cpu/numa/cell"), in document order.
func (d *Domain) EditAll(path string) []Editable {
	if d.x == nil {
		return nil
	}
	level := []*node{d.x}
	for _, part := range strings.Split(path, "/") {
		var next []*node
		for _, n := range level {
			next = append(next, n.childrenNamed(part)...)
		}
		level = next
	}
	out := make([]Editable, len(level))
	for i, n := range level {
		out[i] = Editable{n}
	}
	return out
}

// at is every element at path ("cpu/feature") below n.
func (n *node) at(path string) []*node {
	level := []*node{n}
	for _, part := range strings.Split(path, "/") {
		var next []*node
		for _, k := range level {
			next = append(next, k.childrenNamed(part)...)
		}
		level = next
	}
	return level
}
