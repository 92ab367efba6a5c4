package caps

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Schema is query-qmp-schema reduced to what validation and flag
// derivation need: type shapes and names, no documentation-like noise.
// Short JSON keys because it is stored with every cached probe.
type Schema struct {
	Entries map[string]*SchemaEntry `json:"e"`
}

// SchemaEntry is one schema entity: a command, an event or a type. Type
// entities are named by QEMU with opaque numbers ("123") or builtin names
// ("str", "int").
type SchemaEntry struct {
	Meta     string          `json:"m"`            // command, event, object, enum, array, alternate, builtin
	ArgType  string          `json:"a,omitempty"`  // command, event
	RetType  string          `json:"r,omitempty"`  // command
	Members  []SchemaMember  `json:"mb,omitempty"` // object; alternate (type only)
	Tag      string          `json:"t,omitempty"`  // object with variants
	Variants []SchemaVariant `json:"v,omitempty"`
	Values   []string        `json:"ev,omitempty"` // enum
	Element  string          `json:"el,omitempty"` // array
	JSONType string          `json:"j,omitempty"`  // builtin
	Features []string        `json:"f,omitempty"`
}

// SchemaMember is an object member (or an alternate's branch, which has
// only a type).
type SchemaMember struct {
	Name     string   `json:"n,omitempty"`
	Type     string   `json:"t"`
	Optional bool     `json:"o,omitempty"`
	Features []string `json:"f,omitempty"`
}

// SchemaVariant selects a branch type by the tag member's value.
type SchemaVariant struct {
	Case string `json:"c"`
	Type string `json:"t"`
}

// rawSchemaEntry is the wire form of one query-qmp-schema element.
type rawSchemaEntry struct {
	Name    string      `json:"name"`
	Meta    string      `json:"meta-type"`
	ArgType string      `json:"arg-type"`
	RetType string      `json:"ret-type"`
	Members []rawMember `json:"members"`
	Tag     string      `json:"tag"`
	RawVars []struct {
		Case string `json:"case"`
		Type string `json:"type"`
	} `json:"variants"`
	Values   []string `json:"values"`
	Element  string   `json:"element-type"`
	JSONType string   `json:"json-type"`
	Features []string `json:"features"`
}

type rawMember struct {
	Name     string          `json:"name"`
	Type     string          `json:"type"`
	Default  json.RawMessage `json:"default"`
	Features []string        `json:"features"`
}

// newSchema compacts a query-qmp-schema reply.
func newSchema(raw []rawSchemaEntry) *Schema {
	s := &Schema{Entries: make(map[string]*SchemaEntry, len(raw))}
	for _, r := range raw {
		e := &SchemaEntry{Meta: r.Meta, ArgType: r.ArgType, RetType: r.RetType,
			Tag: r.Tag, Element: r.Element, JSONType: r.JSONType, Features: r.Features}
		for _, v := range r.RawVars {
			e.Variants = append(e.Variants, SchemaVariant{Case: v.Case, Type: v.Type})
		}
		switch r.Meta {
		case "enum":
			// QEMU 6.2+ sends both "values" and "members"; older only
			// "values". Members carry per-value features we don't use.
			e.Values = r.Values
			if len(e.Values) == 0 {
				for _, m := range r.Members {
					e.Values = append(e.Values, m.Name)
				}
			}
		default:
			for _, m := range r.Members {
				// An optional member is marked by the presence of
				// "default" (null when there is no documented default).
				e.Members = append(e.Members, SchemaMember{Name: m.Name, Type: m.Type,
					Optional: m.Default != nil, Features: m.Features})
			}
		}
		s.Entries[r.Name] = e
	}
	return s
}

// names returns the entry names of one meta-type, sorted.
func (s *Schema) names(meta string) []string {
	var out []string
	for n, e := range s.Entries {
		if e.Meta == meta {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Commands lists the commands the schema declares, sorted.
func (s *Schema) Commands() []string { return s.names("command") }

func (e *SchemaEntry) member(name string) (SchemaMember, bool) {
	for _, m := range e.Members {
		if m.Name == name {
			return m, true
		}
	}
	return SchemaMember{}, false
}

func (e *SchemaEntry) variant(c string) (string, bool) {
	for _, v := range e.Variants {
		if v.Case == c {
			return v.Type, true
		}
	}
	return "", false
}

// HasPath answers a schema path query in the notation libvirt uses for
// its schema-derived flags: "command/arg-type|ret-type/member/...", where
// a component "+case" picks a union branch, "^value" tests an enum value,
// "$feature" tests a feature of the entry reached so far and "*member"
// requires the member to be optional. Arrays are looked through and each
// branch of an alternate is tried.
func (s *Schema) HasPath(path string) bool {
	if s == nil {
		return false
	}
	comps := strings.Split(path, "/")
	for i, c := range comps {
		comps[i] = strings.TrimPrefix(c, " ")
	}
	top, ok := s.Entries[comps[0]]
	if !ok || (top.Meta != "command" && top.Meta != "event") {
		return false
	}
	if len(comps) == 1 {
		return true
	}
	switch c := comps[1]; {
	case c == "arg-type":
		return s.walk(top.ArgType, comps[2:], 0)
	case c == "ret-type" && top.Meta == "command":
		return s.walk(top.RetType, comps[2:], 0)
	case strings.HasPrefix(c, "$") && len(comps) == 2:
		return slices.Contains(top.Features, c[1:])
	}
	return false
}

func (s *Schema) walk(typ string, comps []string, depth int) bool {
	e, ok := s.Entries[typ]
	if !ok || depth > 100 {
		return false
	}
	switch e.Meta {
	case "array":
		return s.walk(e.Element, comps, depth+1)
	case "alternate":
		for _, m := range e.Members {
			if s.walk(m.Type, comps, depth+1) {
				return true
			}
		}
		return false
	}
	if len(comps) == 0 {
		return true
	}
	c, rest := comps[0], comps[1:]
	switch {
	case strings.HasPrefix(c, "+"):
		t, ok := e.variant(c[1:])
		return ok && s.walk(t, rest, depth+1)
	case strings.HasPrefix(c, "^"):
		return e.Meta == "enum" && slices.Contains(e.Values, c[1:]) && len(rest) == 0
	case strings.HasPrefix(c, "$"):
		return slices.Contains(e.Features, c[1:])
	case strings.HasPrefix(c, "!"):
		return e.Meta == "builtin" && e.JSONType == c[1:]
	case strings.HasPrefix(c, "*"):
		m, ok := e.member(c[1:])
		return ok && m.Optional && s.walk(m.Type, rest, depth+1)
	}
	m, ok := e.member(c)
	return ok && s.walk(m.Type, rest, depth+1)
}

// ValidateCommand checks that cmd exists and accepts arguments named
// argNames. For union arguments (blockdev-add, netdev_add, object-add) a
// name is accepted when any branch declares it; use ValidateArgs to check
// against the branch the tag actually selects.
func (c *Caps) ValidateCommand(cmd string, argNames []string) error {
	s := c.Schema
	if s == nil {
		return fmt.Errorf("no QMP schema recorded for %s", c.Binary)
	}
	e, ok := s.Entries[cmd]
	if !ok || e.Meta != "command" {
		return fmt.Errorf("QEMU %s has no QMP command %q", c.versionString(), cmd)
	}
	known := map[string]bool{}
	s.collectMembers(e.ArgType, known, 0)
	var bad []string
	for _, n := range argNames {
		if !known[n] {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("QMP command %q has no argument %s", cmd, strings.Join(bad, ", "))
	}
	return nil
}

func (s *Schema) collectMembers(typ string, into map[string]bool, depth int) {
	e, ok := s.Entries[typ]
	if !ok || depth > 3 {
		return
	}
	for _, m := range e.Members {
		into[m.Name] = true
	}
	for _, v := range e.Variants {
		s.collectMembers(v.Type, into, depth+1)
	}
}

// ValidateArgs checks args (anything that marshals to a JSON object)
// against cmd's argument type in depth: unknown and missing members,
// union branches chosen by their tag, enum values and JSON types. It is
// how -blockdev, -netdev and -object JSON is checked before QEMU sees it
// (they share blockdev-add, netdev_add and object-add's argument types).
func (c *Caps) ValidateArgs(cmd string, args any) error {
	s := c.Schema
	if s == nil {
		return fmt.Errorf("no QMP schema recorded for %s", c.Binary)
	}
	e, ok := s.Entries[cmd]
	if !ok || e.Meta != "command" {
		return fmt.Errorf("QEMU %s has no QMP command %q", c.versionString(), cmd)
	}
	v, err := toGeneric(args)
	if err != nil {
		return err
	}
	if v == nil {
		v = map[string]any{}
	}
	if e.ArgType == "" {
		return nil
	}
	return s.check(e.ArgType, v, cmd, 0)
}

func toGeneric(args any) (any, error) {
	if args == nil {
		return nil, nil
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var v any
	err = d.Decode(&v)
	return v, err
}

func (s *Schema) check(typ string, v any, path string, depth int) error {
	e, ok := s.Entries[typ]
	if !ok {
		return fmt.Errorf("%s: schema type %q missing", path, typ)
	}
	if depth > 64 {
		return fmt.Errorf("%s: nested too deeply", path)
	}
	switch e.Meta {
	case "builtin":
		return checkBuiltin(e.JSONType, v, path)
	case "enum":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %s", path, jsonKind(v))
		}
		if !slices.Contains(e.Values, str) {
			return fmt.Errorf("%s: %q is not one of %s", path, str, strings.Join(e.Values, ", "))
		}
		return nil
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %s", path, jsonKind(v))
		}
		for i, el := range arr {
			if err := s.check(e.Element, el, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		return nil
	case "alternate":
		var first error
		for _, m := range e.Members {
			err := s.check(m.Type, v, path, depth+1)
			if err == nil {
				return nil
			}
			if first == nil {
				first = err
			}
		}
		return fmt.Errorf("%s: matches no alternative (%v)", path, first)
	case "object":
		return s.checkObject(e, v, path, depth)
	}
	return fmt.Errorf("%s: unexpected schema meta-type %q", path, e.Meta)
}

func (s *Schema) checkObject(e *SchemaEntry, v any, path string, depth int) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: want an object, got %s", path, jsonKind(v))
	}
	members := slices.Clone(e.Members)
	if e.Tag != "" {
		if tv, ok := obj[e.Tag].(string); ok {
			if bt, ok := e.variant(tv); ok {
				if be, ok := s.Entries[bt]; ok {
					members = append(members, be.Members...)
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range members {
		seen[m.Name] = true
		val, present := obj[m.Name]
		if !present {
			if !m.Optional {
				return fmt.Errorf("%s: missing member %q", path, m.Name)
			}
			continue
		}
		if err := s.check(m.Type, val, path+"."+m.Name, depth+1); err != nil {
			return err
		}
	}
	var extra []string
	for k := range obj {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("%s: unknown member %s", path, strings.Join(extra, ", "))
	}
	return nil
}

func checkBuiltin(jt string, v any, path string) error {
	ok := false
	switch jt {
	case "value":
		ok = true
	case "string":
		_, ok = v.(string)
	case "boolean":
		_, ok = v.(bool)
	case "null":
		ok = v == nil
	case "number":
		_, ok = v.(json.Number)
	case "int":
		if n, isNum := v.(json.Number); isNum {
			_, err := n.Int64()
			ok = err == nil || !strings.ContainsAny(n.String(), ".eE")
		}
	case "object":
		_, ok = v.(map[string]any)
	}
	if !ok {
		return fmt.Errorf("%s: want %s, got %s", path, jt, jsonKind(v))
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func (c *Caps) versionString() string {
	v := c.Version
	return fmt.Sprintf("%d.%d.%d", v/1000000, v/1000%1000, v%1000)
}
