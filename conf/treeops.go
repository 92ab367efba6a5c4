package conf

import (
	"slices"
	"strconv"
	"strings"
)

// Tree accessors are nil-safe so extraction code can walk optional
// elements without checking every step.

func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.kind == elemNode && k.name == name {
			return k
		}
	}
	return nil
}

func (n *node) childrenNamed(name string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, k := range n.kids {
		if k.kind == elemNode && k.name == name {
			out = append(out, k)
		}
	}
	return out
}

func (n *node) elems() []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, k := range n.kids {
		if k.kind == elemNode {
			out = append(out, k)
		}
	}
	return out
}

func (n *node) attrIndex(name string) int {
	if n == nil {
		return -1
	}
	for i, a := range n.attrs {
		if a.name == name {
			return i
		}
	}
	return -1
}

func (n *node) attr(name string) string {
	if i := n.attrIndex(name); i >= 0 {
		return n.attrs[i].value
	}
	return ""
}

func (n *node) setAttr(name, value string) {
	if i := n.attrIndex(name); i >= 0 {
		n.attrs[i].value = value
		return
	}
	n.attrs = append(n.attrs, attr{name, value})
}

func (n *node) delAttr(name string) bool {
	if i := n.attrIndex(name); i >= 0 {
		n.attrs = slices.Delete(n.attrs, i, i+1)
		return true
	}
	return false
}

func (n *node) textContent() string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	for _, k := range n.kids {
		if k.kind == textNode {
			b.WriteString(k.text)
		}
	}
	return b.String()
}

func (n *node) setText(s string) {
	kept := n.kids[:0]
	for _, k := range n.kids {
		if k.kind != textNode {
			kept = append(kept, k)
		}
	}
	n.kids = append(kept, &node{kind: textNode, text: s})
}

func (n *node) removeChild(c *node) {
	if i := slices.Index(n.kids, c); i >= 0 {
		n.kids = slices.Delete(n.kids, i, i+1)
	}
}

// ensureChild returns the first child called name, creating it at the
// place libvirt would write it when absent.
func (n *node) ensureChild(name string) *node {
	if c := n.child(name); c != nil {
		return c
	}
	c := newElem(name)
	n.insertChild(c)
	return c
}

// insertChild places c before the first sibling that libvirt's formatter
// writes after it, so created elements land where a reader expects them
// and where sequence-ordered schema parts accept them.
func (n *node) insertChild(c *node) {
	order := childOrder[n.name]
	rank := slices.Index(order, c.name)
	if rank >= 0 {
		for i, k := range n.kids {
			if k.kind != elemNode {
				continue
			}
			if r := slices.Index(order, k.name); r > rank {
				n.kids = slices.Insert(n.kids, i, c)
				return
			}
		}
	}
	n.kids = append(n.kids, c)
}

// resolve walks a slash-separated element path; a final "@name" segment
// names an attribute. create makes missing elements.
func (n *node) resolve(path string, create bool) (el *node, attrName string) {
	segs := strings.Split(path, "/")
	if last := segs[len(segs)-1]; strings.HasPrefix(last, "@") {
		attrName = last[1:]
		segs = segs[:len(segs)-1]
	}
	el = n
	for _, s := range segs {
		if s == "" || s == "." {
			continue
		}
		if el == nil {
			return nil, attrName
		}
		next := el.child(s)
		if next == nil && create {
			next = el.ensureChild(s)
		}
		el = next
	}
	return el, attrName
}

// get reads an attribute ("a/b/@x") or an element's text ("a/b").
func (n *node) get(path string) (string, bool) {
	el, an := n.resolve(path, false)
	if el == nil {
		return "", false
	}
	if an != "" {
		i := el.attrIndex(an)
		if i < 0 {
			return "", false
		}
		return el.attrs[i].value, true
	}
	return el.textContent(), true
}

func (n *node) str(path string) string {
	s, _ := n.get(path)
	return s
}

// put writes v at path; "" removes the attribute (and an element left
// empty by that removal) or the text element. Writing the value already
// there changes nothing, which keeps untouched documents byte-stable.
func (n *node) put(path, v string) {
	cur, ok := n.get(path)
	if ok && cur == v {
		return
	}
	if !ok && v == "" {
		return
	}
	el, an := n.resolve(path, v != "")
	if v == "" {
		if an != "" {
			if el.delAttr(an) && len(el.attrs) == 0 && len(el.kids) == 0 && el != n {
				n.removeElem(el)
			}
			return
		}
		n.removeElem(el)
		return
	}
	if an != "" {
		el.setAttr(an, v)
	} else {
		el.setText(v)
	}
}

// removeElem removes el from wherever it sits under n.
func (n *node) removeElem(el *node) {
	for _, k := range n.kids {
		if k == el {
			n.removeChild(el)
			return
		}
		if k.kind == elemNode {
			k.removeElem(el)
		}
	}
}

func parseUintAny(s string) (uint64, bool) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 64)
	return v, err == nil
}

func parseIntAny(s string) (int64, bool) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
	return v, err == nil
}

func (n *node) uintAt(path string) uint64 {
	v, _ := parseUintAny(n.str(path))
	return v
}

// intAt returns absent when nothing parseable is there.
func (n *node) intAt(path string, absent int) int {
	s, ok := n.get(path)
	if !ok {
		return absent
	}
	v, good := parseIntAny(s)
	if !good {
		return absent
	}
	return int(v)
}

// putUint writes v, where 0 means unset, keeping the spelling already
// there (hex, leading zeros) when it denotes the same number.
func (n *node) putUint(path string, v uint64, format func(uint64) string) {
	cur, ok := n.get(path)
	if ok {
		if c, good := parseUintAny(cur); good && c == v {
			return
		}
	}
	if v == 0 {
		if ok {
			n.put(path, "")
		}
		return
	}
	if format == nil {
		format = func(x uint64) string { return strconv.FormatUint(x, 10) }
	}
	n.put(path, format(v))
}

func (n *node) putInt(path string, v, absent int) {
	cur, ok := n.get(path)
	if ok {
		if c, good := parseIntAny(cur); good && int(c) == v {
			return
		}
	}
	if v == absent {
		if ok {
			n.put(path, "")
		}
		return
	}
	n.put(path, strconv.Itoa(v))
}

// putFlag makes an empty marker element such as <readonly/> present or absent.
func (n *node) putFlag(path string, on bool) {
	el, _ := n.resolve(path, false)
	switch {
	case on && el == nil:
		n.resolve(path, true)
	case !on && el != nil:
		n.removeElem(el)
	}
}

// putYesNo writes a yes/no attribute; absent reads as def.
func (n *node) putYesNo(path string, v, def bool) {
	cur, ok := n.get(path)
	if (ok && (cur == "yes") == v) || (!ok && v == def) {
		return
	}
	if v {
		n.put(path, "yes")
	} else {
		n.put(path, "no")
	}
}

func hex2(v uint64) string { return "0x" + leftPad(strconv.FormatUint(v, 16), 2) }
func hex4(v uint64) string { return "0x" + leftPad(strconv.FormatUint(v, 16), 4) }
func hex1(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

func leftPad(s string, w int) string {
	for len(s) < w {
		s = "0" + s
	}
	return s
}

// fillSlots makes the children called name be nodes, in order: the i-th
// existing one is replaced by nodes[i], surplus ones are removed and extra
// nodes go after the last one (or where libvirt writes that element).
func (n *node) fillSlots(name string, nodes []*node) {
	kids := make([]*node, 0, len(n.kids)+len(nodes))
	i := 0
	for _, k := range n.kids {
		if k.kind != elemNode || k.name != name {
			kids = append(kids, k)
			continue
		}
		if i < len(nodes) {
			kids = append(kids, nodes[i])
			i++
		}
	}
	n.kids = kids
	for _, c := range nodes[i:] {
		n.insertRaw(c)
	}
}
