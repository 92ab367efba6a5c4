package conf

import (
	"strings"

	"govirt/virerr"
)

// Element is a read-only view of one element of a document conf has no
// type for, such as the <node> file libvirt's test driver loads: callers
// walk it, pick out the parts that are conf documents (XML) and read the
// few scalar settings it carries, without a tree of their own.
type Element struct{ n *node }

// ParseElement reads any well-formed document; from is the error domain
// of its syntax errors.
func ParseElement(data []byte, from virerr.Domain) (*Element, error) {
	n, err := parseTree(data, from, "")
	if err != nil {
		return nil, err
	}
	return &Element{n}, nil
}

// CheckXML reports whether data is a well-formed document within
// libxml2's limits, with libvirt's error for one that is not; doc is the
// name libvirt's parser gives that kind of document ("network_update_xml").
// Callers that decode a fragment with encoding/xml run it first, so every
// client document meets the same parser rules.
func CheckXML(data []byte, from virerr.Domain, doc string) error {
	_, err := parseTree(data, from, doc)
	return err
}

// Name is the element's qualified name as written.
func (e *Element) Name() string { return e.n.name }

// Attr returns an attribute's value and whether it is present.
func (e *Element) Attr(name string) (string, bool) {
	i := e.n.attrIndex(name)
	if i < 0 {
		return "", false
	}
	return e.n.attrs[i].value, true
}

// Text is the element's character data without surrounding whitespace.
func (e *Element) Text() string { return strings.TrimSpace(e.n.textContent()) }

// Children returns the child elements called name, or all of them when
// name is "".
func (e *Element) Children(name string) []*Element {
	var out []*Element
	for _, k := range e.n.elems() {
		if name == "" || k.name == name {
			out = append(out, &Element{k})
		}
	}
	return out
}

// Child returns the first child element called name, or nil.
func (e *Element) Child(name string) *Element {
	if c := e.n.child(name); c != nil {
		return &Element{c}
	}
	return nil
}

// XML writes the element as a document of its own.
func (e *Element) XML() []byte { return writeTree(e.n) }

// Without returns a copy lacking the child elements called name (a pool
// of a node file without its <volume> children, say).
func (e *Element) Without(name string) *Element {
	c := e.n.clone()
	for _, k := range c.childrenNamed(name) {
		c.removeChild(k)
	}
	return &Element{c}
}

// TakeNamespace splits off the child elements in namespace uri, as a
// driver's XML namespace parser consumes its private settings: it returns
// a copy without them and without their namespace declaration, and the
// removed elements. Their Name is the local name.
func (e *Element) TakeNamespace(uri string) (rest *Element, ext []*Element) {
	c := e.n.clone()
	prefix := ""
	for i, a := range c.attrs {
		if p, ok := strings.CutPrefix(a.name, "xmlns:"); ok && a.value == uri {
			prefix = p
			c.attrs = append(c.attrs[:i:i], c.attrs[i+1:]...)
			break
		}
	}
	if prefix == "" {
		return &Element{c}, nil
	}
	for _, k := range c.elems() {
		if p, local, ok := strings.Cut(k.name, ":"); ok && p == prefix {
			c.removeChild(k)
			k.name = local
			ext = append(ext, &Element{k})
		}
	}
	return &Element{c}, ext
}
