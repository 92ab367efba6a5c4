// Command gen derives conf's schema table from libvirt's RelaxNG schemas:
// for every element, by the name of its parent, which child elements and
// attributes the schema allows. Only names are extracted; the schemas
// themselves are not copied.
//
//	go run ./internal/gen -schemas DIR -out schema_table.go
package main

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type rnode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Kids    []*rnode   `xml:",any"`
}

func (n *rnode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// scope is one <grammar>: its defines and start patterns.
type scope struct {
	defines map[string][]*rnode
	start   []*rnode
	parent  *scope
}

func newScope(parent *scope) *scope {
	return &scope{defines: map[string][]*rnode{}, parent: parent}
}

func (s *scope) load(dir string, g *rnode) {
	for _, k := range g.Kids {
		switch k.XMLName.Local {
		case "define":
			s.defines[k.attr("name")] = append(s.defines[k.attr("name")], k)
		case "start":
			s.start = append(s.start, k)
		case "include":
			s.load(dir, readGrammar(filepath.Join(dir, k.attr("href"))))
			s.load(dir, k) // defines inside include override; merging is enough for names
		case "div":
			s.load(dir, k)
		}
	}
}

func readGrammar(path string) *rnode {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	var g rnode
	if err := xml.Unmarshal(data, &g); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	return &g
}

// elemRef is an element pattern in the grammar scope it was found in.
type elemRef struct {
	p  *rnode
	sc *scope
}

type info struct {
	attrs, elems     map[string]bool
	anyAttr, anyElem bool
	children         []elemRef
}

func elemName(p *rnode) string {
	if n := p.attr("name"); n != "" {
		return n
	}
	for _, k := range p.Kids {
		if k.XMLName.Local == "name" {
			return ""
		}
	}
	return ""
}

// collect gathers what pattern p allows directly inside the element being
// described, stopping at nested elements.
func collect(p *rnode, sc *scope, in *info, seen map[*rnode]bool) {
	switch p.XMLName.Local {
	case "element":
		in.children = append(in.children, elemRef{p, sc})
		if name := elemName(p); name != "" {
			in.elems[localName(name)] = true
		} else {
			in.anyElem = true
		}
		return
	case "attribute":
		if name := p.attr("name"); name != "" {
			in.attrs[localName(name)] = true
		} else {
			in.anyAttr = true
		}
		return
	case "ref", "parentRef":
		look := sc
		if p.XMLName.Local == "parentRef" {
			look = sc.parent
		}
		for s := look; s != nil; s = s.parent {
			if defs, ok := s.defines[p.attr("name")]; ok {
				for _, d := range defs {
					if !seen[d] {
						seen[d] = true
						for _, k := range d.Kids {
							collect(k, s, in, seen)
						}
					}
				}
				return
			}
		}
		log.Fatalf("undefined ref %q", p.attr("name"))
	case "grammar":
		inner := newScope(sc)
		inner.load(schemaDir, p)
		for _, st := range inner.start {
			for _, k := range st.Kids {
				collect(k, inner, in, seen)
			}
		}
		return
	case "text", "data", "value", "empty", "notAllowed", "param", "except", "name", "anyName", "nsName":
		return
	}
	for _, k := range p.Kids {
		collect(k, sc, in, seen)
	}
}

func localName(n string) string {
	if i := strings.IndexByte(n, ':'); i >= 0 {
		return n[i+1:]
	}
	return n
}

var schemaDir string

func main() {
	flag.StringVar(&schemaDir, "schemas", "", "directory of libvirt's .rng files")
	out := flag.String("out", "schema_table.go", "output file")
	flag.Parse()
	roots := []string{"domain.rng", "network.rng", "storagepool.rng", "storagevol.rng", "domainsnapshot.rng", "interface.rng"}
	table := map[string]*info{}
	for _, r := range roots {
		sc := newScope(nil)
		sc.load(schemaDir, readGrammar(filepath.Join(schemaDir, r)))
		top := &info{attrs: map[string]bool{}, elems: map[string]bool{}}
		for _, st := range sc.start {
			for _, k := range st.Kids {
				collect(k, sc, top, map[*rnode]bool{})
			}
		}
		walk(r, "", top.children, table, map[string]bool{})
	}
	writeTable(*out, table)
}

// walk records each child element under "schema parent>name" and
// descends once per (element pattern, parent name).
func walk(schema, parent string, kids []elemRef, table map[string]*info, done map[string]bool) {
	for _, c := range kids {
		name := elemName(c.p)
		if name == "" {
			continue
		}
		name = localName(name)
		id := fmt.Sprintf("%s>%s@%p", parent, name, c.p)
		if done[id] {
			continue
		}
		done[id] = true
		in := &info{attrs: map[string]bool{}, elems: map[string]bool{}}
		for _, k := range c.p.Kids {
			collect(k, c.sc, in, map[*rnode]bool{})
		}
		key := schema + " " + parent + ">" + name
		t := table[key]
		if t == nil {
			t = &info{attrs: map[string]bool{}, elems: map[string]bool{}}
			table[key] = t
		}
		for a := range in.attrs {
			t.attrs[a] = true
		}
		for e := range in.elems {
			t.elems[e] = true
		}
		t.anyAttr = t.anyAttr || in.anyAttr
		t.anyElem = t.anyElem || in.anyElem
		walk(schema, name, in.children, table, done)
	}
}

func joinSet(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func writeTable(path string, table map[string]*info) {
	var b bytes.Buffer
	b.WriteString("// Code generated by conf/internal/gen from libvirt's RelaxNG schemas; DO NOT EDIT.\n\n")
	b.WriteString("package conf\n\n")
	b.WriteString("// schemaTable maps \"schema parent>element\" to the attribute and child\n")
	b.WriteString("// element names the schema allows there; \"*\" allows any name.\n")
	b.WriteString("var schemaTable = map[string][2]string{\n")
	var keys []string
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t := table[k]
		attrs, elems := joinSet(t.attrs), joinSet(t.elems)
		if t.anyAttr {
			attrs = strings.TrimSpace("* " + attrs)
		}
		if t.anyElem {
			elems = strings.TrimSpace("* " + elems)
		}
		fmt.Fprintf(&b, "\t%q: {%q, %q},\n", k, attrs, elems)
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
