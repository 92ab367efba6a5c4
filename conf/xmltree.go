package conf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"govirt/virerr"
)

// node is one item of the order-preserving document tree every document
// type keeps beside its typed fields. Names are kept exactly as written
// (prefix:local) and xmlns attributes stay where they were, so foreign
// namespaces, notably inside <metadata>, come back with the same meaning.
type node struct {
	kind  nodeKind
	name  string // qualified element name; procinst target
	attrs []attr
	kids  []*node
	text  string // text, comment or procinst body
	// open makes a childless element come out as an open/close pair on
	// two lines, the way libvirt writes containers it always opens
	// (<devices>, a pool's <source>, a network's <ip>).
	open bool
}

type nodeKind uint8

const (
	elemNode nodeKind = iota
	textNode
	commentNode
	procInstNode
)

type attr struct {
	name  string
	value string
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// maxDepth is libxml2's xmlParserMaxDepth, which libvirt's parser runs
// with: an element with more open ancestors than this is refused. Besides
// matching libvirt, it bounds every recursive walk of the tree (format,
// validation, clone) and the writer's indentation.
const maxDepth = 256

// parseTree reads a complete document and returns its root element. The
// prolog (declaration, doctype, comments around the root) is not kept:
// libvirt does not write it back either. doc is the name libvirt's parser
// gives the document in its errors ("(domain_definition)"); "" for none.
// The work done is linear in len(data): attributes are checked for
// duplicates through a set once an element has many, and adjacent text
// pieces (CDATA sections) are joined once, not piece by piece.
func parseTree(data []byte, from virerr.Domain, doc string) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	// Documents are UTF-8 in practice; accept a declared latin1/ascii
	// by passing bytes through rather than failing the whole parse.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var root *node
	var stack []*node
	var starts []int64 // offset of each open element's start tag
	var text []byte    // pending character data of the top element
	var tokStart int64
	fail := func(format string, args ...any) error {
		return xmlSyntaxError(data, tokStart, from, doc, fmt.Sprintf(format, args...))
	}
	flushText := func(top *node) {
		if top != nil && text != nil {
			top.kids = append(top.kids, &node{kind: textNode, text: string(text)})
		}
		text = nil
	}
	for {
		tokStart = dec.InputOffset()
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			msg := err.Error()
			if errors.As(err, &se) {
				msg = se.Msg
			}
			return nil, xmlSyntaxError(data, dec.InputOffset(), from, doc, msg)
		}
		var top *node
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if _, isText := tok.(xml.CharData); !isText {
			flushText(top)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if top == nil && root != nil {
				return nil, fail("Extra content at the end of the document")
			}
			if len(stack) > maxDepth {
				return nil, fail("Excessive depth in document: %d use XML_PARSE_HUGE option", maxDepth)
			}
			n := &node{kind: elemNode, name: qname(t.Name)}
			if err := n.takeAttrs(t.Attr, fail); err != nil {
				return nil, err
			}
			if raw := data[tokStart:dec.InputOffset()]; bytes.ContainsAny(raw, "\t\n\r") {
				normalizeAttrs(n.attrs, raw)
			}
			if top != nil {
				top.kids = append(top.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
			starts = append(starts, tokStart)
		case xml.EndElement:
			if top == nil || top.name != qname(t.Name) {
				return nil, fail("mismatched end tag </%s>", qname(t.Name))
			}
			trimLayout(top)
			stack = stack[:len(stack)-1]
			starts = starts[:len(starts)-1]
		case xml.CharData:
			if top == nil {
				if trimmed := bytes.TrimLeft(t, " \t\r\n"); len(trimmed) > 0 {
					// libxml2 points at the first character that is not
					// a blank.
					tokStart += int64(len(t) - len(trimmed))
					if root == nil {
						return nil, fail("Start tag expected, '<' not found")
					}
					return nil, fail("Extra content at the end of the document")
				}
				continue
			}
			if text == nil {
				text = make([]byte, 0, len(t))
			}
			text = append(text, t...)
		case xml.Comment:
			if top != nil {
				top.kids = append(top.kids, &node{kind: commentNode, text: string(t)})
			}
		case xml.ProcInst:
			if top != nil {
				top.kids = append(top.kids, &node{kind: procInstNode, name: t.Target, text: string(t.Inst)})
			}
		case xml.Directive:
			if top != nil {
				return nil, fail("directive inside an element")
			}
		}
	}
	if len(stack) > 0 {
		open := starts[len(starts)-1]
		tokStart = int64(len(data))
		return nil, fail("Premature end of data in tag %s line %d", stack[len(stack)-1].name,
			1+bytes.Count(data[:open], []byte{'\n'}))
	}
	if root == nil {
		// libxml2's errors for a document with no element at all.
		if len(data) == 0 {
			return nil, xmlSyntaxError(data, 0, from, doc, "Document is empty")
		}
		return nil, xmlSyntaxError(data, int64(len(data)), from, doc, "Start tag expected, '<' not found")
	}
	return root, nil
}

// takeAttrs copies a start tag's attributes, refusing a repeated name. A
// pairwise check is quadratic in the number of attributes (80,000 of them
// fit in one message), so past a handful the names are sorted (by index,
// to keep document order) and neighbours compared.
func (n *node) takeAttrs(in []xml.Attr, fail func(string, ...any) error) error {
	if len(in) == 0 {
		return nil
	}
	n.attrs = make([]attr, len(in))
	for i, a := range in {
		n.attrs[i] = attr{qname(a.Name), a.Value}
	}
	if len(in) <= 8 {
		for i := 1; i < len(n.attrs); i++ {
			for _, o := range n.attrs[:i] {
				if o.name == n.attrs[i].name {
					return fail("Attribute %s redefined", o.name)
				}
			}
		}
		return nil
	}
	idx := make([]int32, len(n.attrs))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(n.attrs[a].name, n.attrs[b].name) })
	first := -1 // the repeat libxml2 reports is the first one in the tag
	for i := 1; i < len(idx); i++ {
		if n.attrs[idx[i]].name == n.attrs[idx[i-1]].name {
			if r := int(max(idx[i], idx[i-1])); first < 0 || r < first {
				first = r
			}
		}
	}
	if first >= 0 {
		return fail("Attribute %s redefined", n.attrs[first].name)
	}
	return nil
}

// xmlSyntaxError reports a parse error at byte offset off the way
// libvirt's catchXMLError does: "DOC:LINE: MESSAGE", then the line of the
// document holding the error and a pointer line whose '^' sits under the
// offending character. Without a document name the prefix is "at line N:".
func xmlSyntaxError(data []byte, off int64, from virerr.Domain, doc, msg string) error {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	cur := int(off)
	// As libxml2 does: step back over end-of-lines, then to the start of
	// the line.
	for cur > 0 && cur < len(data) && (data[cur] == '\n' || data[cur] == '\r') {
		cur--
	}
	for cur > 0 && (cur >= len(data) || (data[cur] != '\n' && data[cur] != '\r')) {
		cur--
	}
	if cur < len(data) && (data[cur] == '\n' || data[cur] == '\r') {
		cur++
	}
	col := int(off) - cur
	end := cur
	for end < len(data) && data[end] != 0 && data[end] != '\n' && data[end] != '\r' {
		end++
	}
	context := data[cur:end]
	var ptr strings.Builder
	// libvirt prints an empty context line through a NULL string.
	shown := string(context)
	if shown == "" {
		shown = "(null)"
	}
	for i := 0; i < col && i < len(context); i++ {
		if context[i] == '\t' {
			ptr.WriteByte('\t')
		} else {
			ptr.WriteByte('-')
		}
	}
	ptr.WriteByte('^')
	if doc == "" {
		return virerr.New(from, virerr.ErrXMLDetail, "at line %d: %s\n%s\n%s", line, msg, shown, ptr.String())
	}
	return virerr.New(from, virerr.ErrXMLDetail, "%s:%d: %s\n%s\n%s", doc, line, msg, shown, ptr.String())
}

// trimLayout drops the indentation whitespace between child elements so
// the writer can re-indent; whitespace in text-only elements is data.
func trimLayout(n *node) {
	hasElem, hasText := false, false
	for _, k := range n.kids {
		switch k.kind {
		case elemNode, commentNode, procInstNode:
			hasElem = true
		case textNode:
			if strings.TrimSpace(k.text) != "" {
				hasText = true
			}
		}
	}
	if !hasElem && !hasText && openContainers[n.name] && strings.Contains(n.textContent(), "\n") {
		// libvirt's layout of an empty container, not data.
		n.kids, n.open = nil, true
		return
	}
	if !hasElem || hasText {
		return
	}
	kept := n.kids[:0]
	for _, k := range n.kids {
		if k.kind != textNode {
			kept = append(kept, k)
		}
	}
	n.kids = kept
}

func (n *node) clone() *node {
	if n == nil {
		return nil
	}
	c := &node{kind: n.kind, name: n.name, text: n.text, open: n.open}
	if n.attrs != nil {
		c.attrs = append([]attr(nil), n.attrs...)
	}
	if n.kids != nil {
		c.kids = make([]*node, len(n.kids))
		for i, k := range n.kids {
			c.kids[i] = k.clone()
		}
	}
	return c
}

// openContainers are elements whose content is only ever elements, so
// whitespace-only content in them is layout: an empty one written on two
// lines reads back as open rather than as a text child.
var openContainers = map[string]bool{"devices": true, "source": true, "ip": true,
	"target": true, "features": true, "os": true, "dhcp": true, "dns": true,
	"forward": true, "cells": true, "protocol": true, "bridge": true, "hyperv": true}

func newElem(name string) *node { return &node{kind: elemNode, name: name} }

// localName strips a namespace prefix.
func localName(q string) string {
	if i := strings.IndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}
