package conf

import (
	"bytes"
	"strings"
)

// writeTree serialises n the way libvirt's formatters lay documents out:
// two-space indentation, single-quoted attributes (double-quoted below
// <metadata>, which libxml2 writes for libvirt), text-only elements on
// one line and childless elements self-closed.
func writeTree(n *node) []byte {
	var b bytes.Buffer
	writeNode(&b, n, 0, true, false)
	return b.Bytes()
}

// writeNode writes n; dq is set below <metadata>, which libvirt writes
// with libxml2's serialiser: attributes in double quotes.
func writeNode(b *bytes.Buffer, n *node, depth int, pretty, dq bool) {
	indent := func() {
		if pretty {
			b.WriteString(indentation[:2*min(depth, maxIndentLevel)])
		}
	}
	nl := func() {
		if pretty {
			b.WriteByte('\n')
		}
	}
	switch n.kind {
	case textNode:
		b.WriteString(escapeText(n.text))
		return
	case commentNode:
		indent()
		b.WriteString("<!--")
		b.WriteString(n.text)
		b.WriteString("-->")
		nl()
		return
	case procInstNode:
		indent()
		b.WriteString("<?" + n.name)
		if n.text != "" {
			b.WriteString(" " + n.text)
		}
		b.WriteString("?>")
		nl()
		return
	}
	indent()
	b.WriteByte('<')
	b.WriteString(n.name)
	for _, a := range n.attrs {
		b.WriteByte(' ')
		b.WriteString(a.name)
		if dq {
			b.WriteString("=\"")
			b.WriteString(dqAttrEscaper.Replace(a.value))
			b.WriteByte('"')
			continue
		}
		b.WriteString("='")
		b.WriteString(escapeAttr(a.value))
		b.WriteByte('\'')
	}
	kidsDQ := dq || n.name == "metadata"
	if len(n.kids) == 0 && n.open && pretty {
		b.WriteString(">\n")
		indent()
		b.WriteString("</" + n.name + ">")
		nl()
		return
	}
	if len(n.kids) == 0 {
		b.WriteString("/>")
		nl()
		return
	}
	b.WriteByte('>')
	textOnly, mixed := true, false
	for _, k := range n.kids {
		if k.kind != textNode {
			textOnly = false
		} else if strings.TrimSpace(k.text) != "" {
			mixed = true
		}
	}
	switch {
	case textOnly || mixed || !pretty:
		// Mixed content is data: re-indenting it would change it.
		for _, k := range n.kids {
			writeNode(b, k, 0, false, kidsDQ)
		}
	default:
		b.WriteByte('\n')
		for _, k := range n.kids {
			writeNode(b, k, depth+1, true, kidsDQ)
		}
		indent()
	}
	b.WriteString("</")
	b.WriteString(n.name)
	b.WriteByte('>')
	nl()
}

// maxIndentLevel is where libxml2's formatter (which writes <metadata>
// for libvirt) stops indenting deeper: 60 columns, 30 levels. It also keeps
// the output linear in the input whatever the nesting.
const maxIndentLevel = 30

var indentation = strings.Repeat("  ", maxIndentLevel)

var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#13;")

// Newlines and tabs in attributes are written as character references:
// a conforming reader would otherwise normalise them to spaces.
var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;",
	"'", "&apos;", "\"", "&quot;", "\n", "&#10;", "\r", "&#13;", "\t", "&#9;")

// dqAttrEscaper is libxml2's attribute escaping (xmlBufAttrSerializeTxtContent).
var dqAttrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;",
	"\"", "&quot;", "\n", "&#10;", "\r", "&#13;", "\t", "&#9;")

func escapeText(s string) string { return textEscaper.Replace(s) }
func escapeAttr(s string) string { return attrEscaper.Replace(s) }
