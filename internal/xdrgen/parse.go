package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// The subset of the XDR language (RFC 4506) that libvirt's .x files use,
// plus the two kinds of comments libvirt's own generator reads: the
// "/** @annotation: value */" block before a procedure enum member and the
// "/* insert@N */" note after a struct member.

type tokKind int

const (
	tIdent tokKind = iota
	tNumber
	tPunct
	tComment
	tEOF
)

type token struct {
	kind tokKind
	text string
	line int
}

// lex splits src into tokens. Lines starting with '%' are passed-through C
// for rpcgen and carry no XDR.
func lex(src string) ([]token, error) {
	var toks []token
	line := 1
	i := 0
	atLineStart := true
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
			atLineStart = true
			continue
		case c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case c == '%' && atLineStart:
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		}
		atLineStart = false
		switch {
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated comment", line)
			}
			text := src[i : i+2+end+2]
			toks = append(toks, token{tComment, text, line})
			line += strings.Count(text, "\n")
			i += len(text)
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(src) && (src[j] == '_' || unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], line})
			i = j
		case unicode.IsDigit(rune(c)) || (c == '-' && i+1 < len(src) && unicode.IsDigit(rune(src[i+1]))):
			j := i + 1
			for j < len(src) && (unicode.IsDigit(rune(src[j])) || unicode.IsLetter(rune(src[j]))) {
				j++
			}
			toks = append(toks, token{tNumber, src[i:j], line})
			i = j
		case strings.ContainsRune("{}()[]<>;,=*:", rune(c)):
			toks = append(toks, token{tPunct, string(c), line})
			i++
		default:
			return nil, fmt.Errorf("line %d: unexpected character %q", line, c)
		}
	}
	toks = append(toks, token{tEOF, "", line})
	return toks, nil
}

// Decl is one declaration: a struct member, union arm, typedef or switch.
type Decl struct {
	Name string
	Type string // "int", "unsigned hyper", "string", "opaque", "void" or an identifier
	// Kind is how the type is wrapped.
	Kind    DeclKind
	Size    string // the bound of an array or string: a number or a constant's name; "" for unbounded
	Comment string // a comment right after the declaration on the same line
	Line    int
}

type DeclKind int

const (
	Plain DeclKind = iota
	FixedArray
	VarArray // also strings and variable opaque
	Optional
)

type Const struct {
	Name  string
	Value string
}

type EnumMember struct {
	Name  string
	Value string
	Doc   string // the comment block before the member
}

type Enum struct {
	Name    string
	Members []EnumMember
}

type Struct struct {
	Name   string
	Fields []Decl
}

type UnionCase struct {
	Values []string // empty for default
	Arm    Decl     // Type "void" for no data
}

type Union struct {
	Name  string
	Discr Decl
	Cases []UnionCase
}

// File is one parsed .x file, in declaration order.
type File struct {
	Name     string
	Consts   []Const
	Enums    []*Enum
	Structs  []*Struct
	Unions   []*Union
	Typedefs []Decl
}

type parser struct {
	toks []token
	pos  int
	doc  string // last comment seen, for enum members
	file *File
}

func parse(name, src string) (*File, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &parser{toks: toks, file: &File{Name: name}}
	if err := p.top(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p.file, nil
}

// next returns the next non-comment token, remembering the last comment.
func (p *parser) next() token {
	for {
		t := p.toks[p.pos]
		if t.kind != tEOF {
			p.pos++
		}
		if t.kind == tComment {
			p.doc = t.text
			continue
		}
		return t
	}
}

func (p *parser) peek() token {
	save, doc := p.pos, p.doc
	t := p.next()
	p.pos, p.doc = save, doc
	return t
}

// trailing takes a comment that follows on the same line as line.
func (p *parser) trailing(line int) string {
	if t := p.toks[p.pos]; t.kind == tComment && t.line == line {
		p.pos++
		return t.text
	}
	return ""
}

func (p *parser) expect(text string) (token, error) {
	t := p.next()
	if t.text != text || t.kind == tComment {
		return t, fmt.Errorf("line %d: expected %q, got %q", t.line, text, t.text)
	}
	return t, nil
}

func (p *parser) ident() (string, error) {
	t := p.next()
	if t.kind != tIdent {
		return "", fmt.Errorf("line %d: expected identifier, got %q", t.line, t.text)
	}
	return t.text, nil
}

func (p *parser) value() (string, error) {
	t := p.next()
	if t.kind != tIdent && t.kind != tNumber {
		return "", fmt.Errorf("line %d: expected a value, got %q", t.line, t.text)
	}
	return t.text, nil
}

func (p *parser) top() error {
	for {
		t := p.next()
		if t.kind == tEOF {
			return nil
		}
		var err error
		switch t.text {
		case "const":
			err = p.constDef()
		case "enum":
			err = p.enumDef()
		case "struct":
			err = p.structDef()
		case "union":
			err = p.unionDef()
		case "typedef":
			var d Decl
			if d, err = p.decl(); err == nil {
				p.file.Typedefs = append(p.file.Typedefs, d)
				_, err = p.expect(";")
			}
		default:
			return fmt.Errorf("line %d: unexpected %q at top level", t.line, t.text)
		}
		if err != nil {
			return err
		}
	}
}

func (p *parser) constDef() error {
	name, err := p.ident()
	if err != nil {
		return err
	}
	if _, err := p.expect("="); err != nil {
		return err
	}
	v, err := p.value()
	if err != nil {
		return err
	}
	p.file.Consts = append(p.file.Consts, Const{name, v})
	_, err = p.expect(";")
	return err
}

func (p *parser) enumDef() error {
	name, err := p.ident()
	if err != nil {
		return err
	}
	if _, err := p.expect("{"); err != nil {
		return err
	}
	e := &Enum{Name: name}
	for {
		p.doc = ""
		m, err := p.ident()
		if err != nil {
			return err
		}
		doc := p.doc
		if _, err := p.expect("="); err != nil {
			return err
		}
		v, err := p.value()
		if err != nil {
			return err
		}
		e.Members = append(e.Members, EnumMember{m, v, doc})
		t := p.next()
		if t.text == "}" {
			break
		}
		if t.text != "," {
			return fmt.Errorf("line %d: expected , or } in enum %s", t.line, name)
		}
	}
	p.file.Enums = append(p.file.Enums, e)
	_, err = p.expect(";")
	return err
}

func (p *parser) structDef() error {
	name, err := p.ident()
	if err != nil {
		return err
	}
	if _, err := p.expect("{"); err != nil {
		return err
	}
	s := &Struct{Name: name}
	for p.peek().text != "}" {
		d, err := p.decl()
		if err != nil {
			return err
		}
		t, err := p.expect(";")
		if err != nil {
			return err
		}
		d.Comment = p.trailing(t.line)
		s.Fields = append(s.Fields, d)
	}
	p.next()
	p.file.Structs = append(p.file.Structs, s)
	_, err = p.expect(";")
	return err
}

func (p *parser) unionDef() error {
	name, err := p.ident()
	if err != nil {
		return err
	}
	if _, err := p.expect("switch"); err != nil {
		return err
	}
	if _, err := p.expect("("); err != nil {
		return err
	}
	discr, err := p.decl()
	if err != nil {
		return err
	}
	if _, err := p.expect(")"); err != nil {
		return err
	}
	if _, err := p.expect("{"); err != nil {
		return err
	}
	u := &Union{Name: name, Discr: discr}
	for p.peek().text != "}" {
		var c UnionCase
		for {
			t := p.peek()
			if t.text == "case" {
				p.next()
				v, err := p.value()
				if err != nil {
					return err
				}
				c.Values = append(c.Values, v)
			} else if t.text == "default" {
				p.next()
			} else {
				break
			}
			if _, err := p.expect(":"); err != nil {
				return err
			}
		}
		if p.peek().text == "void" {
			p.next()
			c.Arm = Decl{Type: "void"}
		} else if c.Arm, err = p.decl(); err != nil {
			return err
		}
		if _, err := p.expect(";"); err != nil {
			return err
		}
		u.Cases = append(u.Cases, c)
	}
	p.next()
	p.file.Unions = append(p.file.Unions, u)
	_, err = p.expect(";")
	return err
}

// decl parses "type [*]name [\[N\] | <N> | <>]".
func (p *parser) decl() (Decl, error) {
	t := p.next()
	if t.kind != tIdent {
		return Decl{}, fmt.Errorf("line %d: expected a type, got %q", t.line, t.text)
	}
	d := Decl{Type: t.text, Line: t.line}
	switch t.text {
	case "unsigned":
		d.Type = "unsigned int"
		switch p.peek().text {
		case "int", "hyper", "char", "short":
			d.Type = "unsigned " + p.next().text
		}
	case "struct", "enum", "union":
		name, err := p.ident()
		if err != nil {
			return d, err
		}
		d.Type = name
	}
	if p.peek().text == "*" {
		p.next()
		d.Kind = Optional
	}
	name, err := p.ident()
	if err != nil {
		return d, err
	}
	d.Name = name
	switch p.peek().text {
	case "[", "<":
		open := p.next().text
		closer := map[string]string{"[": "]", "<": ">"}[open]
		if open == "[" {
			if d.Kind == Optional {
				return d, fmt.Errorf("line %d: optional array", t.line)
			}
			d.Kind = FixedArray
		} else {
			d.Kind = VarArray
		}
		if p.peek().text != closer {
			if d.Size, err = p.value(); err != nil {
				return d, err
			}
		}
		if _, err := p.expect(closer); err != nil {
			return d, err
		}
	}
	if (d.Type == "string") != (d.Kind == VarArray && d.Type == "string") {
		return d, fmt.Errorf("line %d: string %s must be declared with <>", t.line, name)
	}
	return d, nil
}

// annotations reads the "@key: value" lines of a procedure's comment block;
// keys may repeat (@acl).
func annotations(doc string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(strings.TrimPrefix(line, "/*"), "*")
		line = strings.TrimSuffix(line, "*/")
		line = strings.TrimSpace(strings.TrimPrefix(line, "*"))
		if !strings.HasPrefix(line, "@") {
			continue
		}
		k, v, ok := strings.Cut(line[1:], ":")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = append(out[strings.TrimSpace(k)], strings.TrimSpace(v))
	}
	return out
}

// number parses a decimal or 0x literal.
func number(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 0, 64)
	return v, err == nil
}
