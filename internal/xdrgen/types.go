package main

import (
	"fmt"
	"sort"
	"strings"
)

// builtinConsts are the C macros the .x files use without defining them
// (libvirt's public headers supply them to rpcgen).
var builtinConsts = map[string]int64{
	"VIR_UUID_BUFLEN":           16,
	"VIR_SECURITY_MODEL_BUFLEN": 256 + 1,
	"VIR_SECURITY_LABEL_BUFLEN": 4096 + 1,
	"VIR_SECURITY_DOI_BUFLEN":   256 + 1,
	"VIR_TYPED_PARAM_INT":       1,
	"VIR_TYPED_PARAM_UINT":      2,
	"VIR_TYPED_PARAM_LLONG":     3,
	"VIR_TYPED_PARAM_ULLONG":    4,
	"VIR_TYPED_PARAM_DOUBLE":    5,
	"VIR_TYPED_PARAM_BOOLEAN":   6,
	"VIR_TYPED_PARAM_STRING":    7,
}

// world is the symbol table of a group of .x files that refer to each
// other (qemu_protocol.x uses remote_protocol.x's types).
type world struct {
	consts   map[string]int64
	typedefs map[string]Decl
	structs  map[string]*Struct
	enums    map[string]*Enum
	unions   map[string]*Union
	// structByGo finds a struct by its Go name.
	structByGo map[string]*Struct
	// prefix is stripped from type names: "remote_" or "admin_".
	prefix string
}

func newWorld(prefix string, files ...*File) (*world, error) {
	w := &world{consts: map[string]int64{}, typedefs: map[string]Decl{}, structs: map[string]*Struct{},
		enums: map[string]*Enum{}, unions: map[string]*Union{}, structByGo: map[string]*Struct{}, prefix: prefix}
	for k, v := range builtinConsts {
		w.consts[k] = v
	}
	for _, f := range files {
		for _, c := range f.Consts {
			v, err := w.eval(c.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: const %s: %w", f.Name, c.Name, err)
			}
			w.consts[c.Name] = v
		}
		for _, e := range f.Enums {
			w.enums[e.Name] = e
			for _, m := range e.Members {
				v, err := w.eval(m.Value)
				if err != nil {
					return nil, fmt.Errorf("%s: enum %s: %w", f.Name, m.Name, err)
				}
				w.consts[m.Name] = v
			}
		}
		for _, t := range f.Typedefs {
			w.typedefs[t.Name] = t
		}
		for _, s := range f.Structs {
			w.structs[s.Name] = s
			w.structByGo[w.typeName(s.Name)] = s
		}
		for _, u := range f.Unions {
			w.unions[u.Name] = u
		}
	}
	return w, nil
}

func (w *world) eval(v string) (int64, error) {
	if n, ok := number(v); ok {
		return n, nil
	}
	if n, ok := w.consts[v]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("undefined constant %s", v)
}

// initialisms keeps Go's spelling of acronyms in generated names; the list
// is the one the previous hand-run generator used, so every existing name
// stays as it was.
var initialisms = map[string]string{"ID": "ID", "UUID": "UUID", "XML": "XML", "OS": "OS", "CPU": "CPU", "IP": "IP",
	"MAC": "MAC", "URI": "URI", "IO": "IO", "FS": "FS", "SEV": "SEV", "PID": "PID"}

func camel(s string) string {
	var b strings.Builder
	for _, p := range strings.Split(s, "_") {
		if p == "" {
			continue
		}
		if v, ok := initialisms[strings.ToUpper(p)]; ok {
			b.WriteString(v)
			continue
		}
		b.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	return b.String()
}

// constName spells a libvirt constant in Go: REMOTE_DOMAIN_LIST_MAX is
// RemoteDomainListMax.
func constName(s string) string { return camel(strings.ToLower(s)) }

func (w *world) typeName(x string) string { return camel(strings.TrimPrefix(x, w.prefix)) }

// gtype is a resolved Go type with what the codec needs to know.
type gtype struct {
	kind   string // prim, string, opaque, fixedopaque, slice, array, ptr, named
	prim   string // for prim: int32, uint32, int64, uint64, float64, bool
	max    int64  // bound of string/opaque/slice; -1 for none
	maxSym string // the constant that bounds it, for messages
	n      int64  // length of array/fixedopaque
	elem   *gtype
	name   string // Go name of a named type
}

var prims = map[string]string{
	"int": "int32", "unsigned int": "uint32", "hyper": "int64", "unsigned hyper": "uint64",
	"double": "float64", "bool": "bool", "char": "int32", "unsigned char": "uint32",
	"short": "int32", "unsigned short": "uint32",
}

func (t *gtype) goString() string {
	switch t.kind {
	case "prim":
		return t.prim
	case "string":
		return "string"
	case "opaque":
		return "[]byte"
	case "fixedopaque":
		return fmt.Sprintf("[%d]byte", t.n)
	case "slice":
		return "[]" + t.elem.goString()
	case "array":
		return fmt.Sprintf("[%d]%s", t.n, t.elem.goString())
	case "ptr":
		return "*" + t.elem.goString()
	}
	return t.name
}

// minSize is the fewest bytes a value takes on the wire; decoders use it to
// refuse counts the remaining input cannot hold.
func (w *world) minSize(t *gtype) int64 {
	switch t.kind {
	case "prim":
		if t.prim == "int64" || t.prim == "uint64" || t.prim == "float64" {
			return 8
		}
		return 4
	case "fixedopaque":
		return (t.n + 3) &^ 3
	case "array":
		return t.n * w.minSize(t.elem)
	case "named":
		if t.name == "TypedParam" {
			return 12
		}
		s := w.structByGo[t.name]
		var n int64
		for _, f := range s.Fields {
			ft, _ := w.resolve(f)
			n += w.minSize(ft)
		}
		return n
	}
	return 4
}

func (w *world) bound(size string) (int64, string, error) {
	if size == "" {
		return -1, "", nil
	}
	n, err := w.eval(size)
	if err != nil {
		return 0, "", err
	}
	if _, isNum := number(size); isNum {
		return n, "", nil
	}
	return n, size, nil
}

// resolve maps a declaration to its Go type, following typedefs.
func (w *world) resolve(d Decl) (*gtype, error) {
	switch d.Kind {
	case VarArray:
		max, sym, err := w.bound(d.Size)
		if err != nil {
			return nil, err
		}
		switch d.Type {
		case "string":
			return &gtype{kind: "string", max: max, maxSym: sym}, nil
		case "opaque":
			return &gtype{kind: "opaque", max: max, maxSym: sym}, nil
		}
		el, err := w.resolveType(d.Type)
		if err != nil {
			return nil, err
		}
		return &gtype{kind: "slice", max: max, maxSym: sym, elem: el}, nil
	case FixedArray:
		n, err := w.eval(d.Size)
		if err != nil {
			return nil, err
		}
		if d.Type == "opaque" {
			return &gtype{kind: "fixedopaque", n: n}, nil
		}
		el, err := w.resolveType(d.Type)
		if err != nil {
			return nil, err
		}
		return &gtype{kind: "array", n: n, elem: el}, nil
	case Optional:
		el, err := w.resolveType(d.Type)
		if err != nil {
			return nil, err
		}
		return &gtype{kind: "ptr", elem: el}, nil
	}
	return w.resolveType(d.Type)
}

func (w *world) resolveType(x string) (*gtype, error) {
	if p, ok := prims[x]; ok {
		return &gtype{kind: "prim", prim: p}, nil
	}
	if td, ok := w.typedefs[x]; ok {
		return w.resolve(td)
	}
	if _, ok := w.enums[x]; ok {
		return &gtype{kind: "prim", prim: "int32"}, nil
	}
	if strings.HasSuffix(x, "_typed_param") {
		// The typed-parameter union is carried by xdr.TypedParam, whose Go
		// value type picks the discriminant.
		return &gtype{kind: "named", name: "TypedParam"}, nil
	}
	if _, ok := w.structs[x]; ok {
		return &gtype{kind: "named", name: w.typeName(x)}, nil
	}
	if _, ok := w.unions[x]; ok {
		return nil, fmt.Errorf("union %s is not supported outside typed parameters", x)
	}
	return nil, fmt.Errorf("unknown type %s", x)
}

// sortedConsts lists a file's constants with their values.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
