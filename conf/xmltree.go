package conf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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

// parseTree reads a complete document and returns its root element. The
// prolog (declaration, doctype, comments around the root) is not kept:
// libvirt does not write it back either.
func parseTree(data []byte, from virerr.Domain) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	// Documents are UTF-8 in practice; accept a declared latin1/ascii
	// by passing bytes through rather than failing the whole parse.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var root *node
	var stack []*node
	fail := func(format string, args ...any) error {
		line, _ := dec.InputPos()
		return virerr.New(from, virerr.ErrXMLDetail, "at line %d: %s", line, fmt.Sprintf(format, args...))
	}
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, virerr.New(from, virerr.ErrXMLDetail, "at line %d: %s", se.Line, se.Msg)
			}
			return nil, fail("%v", err)
		}
		var top *node
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if top == nil && root != nil {
				return nil, fail("extra content at the end of the document")
			}
			n := &node{kind: elemNode, name: qname(t.Name)}
			for _, a := range t.Attr {
				an := qname(a.Name)
				for _, o := range n.attrs {
					if o.name == an {
						return nil, fail("attribute %s redefined", an)
					}
				}
				n.attrs = append(n.attrs, attr{an, a.Value})
			}
			if top != nil {
				top.kids = append(top.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if top == nil || top.name != qname(t.Name) {
				return nil, fail("mismatched end tag </%s>", qname(t.Name))
			}
			trimLayout(top)
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if top == nil {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, fail("content outside the root element")
				}
				continue
			}
			if k := len(top.kids); k > 0 && top.kids[k-1].kind == textNode {
				top.kids[k-1].text += string(t)
			} else {
				top.kids = append(top.kids, &node{kind: textNode, text: string(t)})
			}
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
		return nil, fail("premature end of data in tag %s", stack[len(stack)-1].name)
	}
	if root == nil {
		return nil, virerr.New(from, virerr.ErrXMLError, "failed to parse xml document: missing root element")
	}
	return root, nil
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
	"forward": true, "cells": true, "protocol": true, "bridge": true}

func newElem(name string) *node { return &node{kind: elemNode, name: name} }

// localName strips a namespace prefix.
func localName(q string) string {
	if i := strings.IndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}
