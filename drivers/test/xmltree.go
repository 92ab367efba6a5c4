package test

// A small order-keeping element tree for the documents conf does not
// model yet (networks, pools, volumes, host interfaces). It reads any XML
// and writes it back the way libvirt pretty-prints: two-space indent,
// single-quoted attributes, empty elements self-closed.

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"

	"govirt/virerr"
)

type elem struct {
	name  string
	attrs []xml.Attr
	kids  []*elem
	text  string // character data of a leaf
}

func qualified(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// parseElem reads a document; from is the error domain for XML errors.
func parseElem(data []byte, from virerr.Domain) (*elem, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []*elem
	var root *elem
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, virerr.New(from, virerr.ErrXMLError, "%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e := &elem{name: qualified(t.Name)}
			for _, a := range t.Attr {
				a.Name = xml.Name{Local: qualified(a.Name)}
				e.attrs = append(e.attrs, a)
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, e)
			} else if root == nil {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, virerr.New(from, virerr.ErrXMLError, "unexpected end element")
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil || len(stack) != 0 {
		return nil, virerr.New(from, virerr.ErrXMLError, "document is empty or incomplete")
	}
	return root, nil
}

func (e *elem) attr(name string) string {
	for _, a := range e.attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (e *elem) hasAttr(name string) bool {
	for _, a := range e.attrs {
		if a.Name.Local == name {
			return true
		}
	}
	return false
}

func (e *elem) setAttr(name, value string) {
	for i, a := range e.attrs {
		if a.Name.Local == name {
			e.attrs[i].Value = value
			return
		}
	}
	e.attrs = append(e.attrs, xml.Attr{Name: xml.Name{Local: name}, Value: value})
}

func (e *elem) child(name string) *elem {
	for _, k := range e.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

func (e *elem) childText(name string) string {
	if c := e.child(name); c != nil {
		return strings.TrimSpace(c.text)
	}
	return ""
}

func (e *elem) removeChild(name string) {
	out := e.kids[:0]
	for _, k := range e.kids {
		if k.name != name {
			out = append(out, k)
		}
	}
	e.kids = out
}

// setChildText replaces or appends a leaf child.
func (e *elem) setChildText(name, text string) {
	if c := e.child(name); c != nil {
		c.text, c.kids = text, nil
		return
	}
	e.kids = append(e.kids, &elem{name: name, text: text})
}

func (e *elem) clone() *elem {
	c := *e
	c.attrs = append([]xml.Attr(nil), e.attrs...)
	c.kids = make([]*elem, len(e.kids))
	for i, k := range e.kids {
		c.kids[i] = k.clone()
	}
	return &c
}

// sortKids orders children by a canonical list; unknown ones keep their
// relative order after the known ones.
func (e *elem) sortKids(order []string) {
	rank := func(n string) int {
		for i, o := range order {
			if o == n {
				return i
			}
		}
		return len(order)
	}
	var sorted []*elem
	for r := 0; r <= len(order); r++ {
		for _, k := range e.kids {
			if rank(k.name) == r {
				sorted = append(sorted, k)
			}
		}
	}
	e.kids = sorted
}

var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", "\n", "&#10;")
var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// write pretty-prints e at depth; keepOpen names elements libvirt writes
// as an open/close pair even when empty.
func (e *elem) write(b *strings.Builder, depth int, keepOpen map[string]bool) {
	ind := strings.Repeat("  ", depth)
	b.WriteString(ind + "<" + e.name)
	for _, a := range e.attrs {
		b.WriteString(" " + a.Name.Local + "='" + attrEscaper.Replace(a.Value) + "'")
	}
	text := strings.TrimSpace(e.text)
	switch {
	case len(e.kids) > 0:
		b.WriteString(">\n")
		for _, k := range e.kids {
			k.write(b, depth+1, keepOpen)
		}
		b.WriteString(ind + "</" + e.name + ">\n")
	case text != "":
		b.WriteString(">" + textEscaper.Replace(text) + "</" + e.name + ">\n")
	case keepOpen[e.name]:
		b.WriteString(">\n" + ind + "</" + e.name + ">\n")
	default:
		b.WriteString("/>\n")
	}
}

func (e *elem) String() string {
	var b strings.Builder
	e.write(&b, 0, nil)
	return b.String()
}
