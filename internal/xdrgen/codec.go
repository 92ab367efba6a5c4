package main

import (
	"fmt"
	"strings"
)

// emitStruct writes one struct type and its XDR methods. The methods are
// plain code, no reflection: every bound of the .x file is checked on both
// encode and decode, and a decoder makes a slice only after its count has
// passed the bound and the remaining input can hold that many elements.
func (w *world) emitStruct(b *strings.Builder, s *Struct, file, xpkg string) error {
	name := w.typeName(s.Name)
	type field struct {
		name string
		t    *gtype
		decl Decl
	}
	var fields []field
	for _, f := range s.Fields {
		t, err := w.resolve(f)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", s.Name, f.Name, err)
		}
		fields = append(fields, field{camel(f.Name), t, f})
	}
	fmt.Fprintf(b, "// %s is %s's %s.\ntype %s struct {\n", name, file, s.Name, name)
	for _, f := range fields {
		fmt.Fprintf(b, "\t%s %s\n", f.name, f.t.goString())
	}
	b.WriteString("}\n\n")

	fmt.Fprintf(b, "// MarshalXDR encodes %s, refusing values over the protocol's bounds.\n", s.Name)
	fmt.Fprintf(b, "func (v %s) MarshalXDR(e *%sEncoder) error {\n", name, xpkg)
	for _, f := range fields {
		w.emitEnc(b, "v."+f.name, f.t, 1, xpkg)
	}
	b.WriteString("\treturn nil\n}\n\n")

	fmt.Fprintf(b, "// UnmarshalXDR decodes %s, refusing counts over the protocol's bounds.\n", s.Name)
	fmt.Fprintf(b, "func (v *%s) UnmarshalXDR(d *%sDecoder) error {\n", name, xpkg)
	if len(fields) > 0 {
		b.WriteString("\tvar err error\n")
	}
	for _, f := range fields {
		w.emitDec(b, "v."+f.name, f.t, 1, xpkg)
	}
	b.WriteString("\treturn err\n}\n\n")
	return nil
}

func tabs(n int) string { return strings.Repeat("\t", n) }

var encPrim = map[string]string{"int32": "Int32", "uint32": "Uint32", "int64": "Int64", "uint64": "Uint64",
	"float64": "Float64", "bool": "Bool"}

func boundLit(t *gtype) string {
	if t.maxSym != "" {
		return constName(t.maxSym)
	}
	return fmt.Sprint(t.max)
}

func (w *world) emitEnc(b *strings.Builder, x string, t *gtype, depth int, xpkg string) {
	in := tabs(depth)
	tooLong := func() {
		if t.max >= 0 {
			fmt.Fprintf(b, "%sif len(%s) > %s {\n%s\treturn %sErrTooLong\n%s}\n", in, x, boundLit(t), in, xpkg, in)
		}
	}
	switch t.kind {
	case "prim":
		fmt.Fprintf(b, "%se.%s(%s)\n", in, encPrim[t.prim], x)
	case "string":
		tooLong()
		fmt.Fprintf(b, "%se.String(%s)\n", in, x)
	case "opaque":
		tooLong()
		fmt.Fprintf(b, "%se.Opaque(%s)\n", in, x)
	case "fixedopaque":
		fmt.Fprintf(b, "%se.FixedOpaque(%s[:])\n", in, x)
	case "slice":
		tooLong()
		fmt.Fprintf(b, "%se.Uint32(uint32(len(%s)))\n", in, x)
		i := fmt.Sprintf("i%d", depth)
		fmt.Fprintf(b, "%sfor %s := range %s {\n", in, i, x)
		w.emitEnc(b, x+"["+i+"]", t.elem, depth+1, xpkg)
		fmt.Fprintf(b, "%s}\n", in)
	case "array":
		i := fmt.Sprintf("i%d", depth)
		fmt.Fprintf(b, "%sfor %s := range %s {\n", in, i, x)
		w.emitEnc(b, x+"["+i+"]", t.elem, depth+1, xpkg)
		fmt.Fprintf(b, "%s}\n", in)
	case "ptr":
		fmt.Fprintf(b, "%se.Optional(%s != nil)\n%sif %s != nil {\n", in, x, in, x)
		w.emitEnc(b, "(*"+x+")", t.elem, depth+1, xpkg)
		fmt.Fprintf(b, "%s}\n", in)
	case "named":
		fmt.Fprintf(b, "%sif err := %s.MarshalXDR(e); err != nil {\n%s\treturn err\n%s}\n", in, x, in, in)
	}
}

func (w *world) emitDec(b *strings.Builder, x string, t *gtype, depth int, xpkg string) {
	in := tabs(depth)
	check := fmt.Sprintf("%sif err != nil {\n%s\treturn err\n%s}\n", in, in, in)
	max := func() string {
		if t.max < 0 {
			return xpkg + "NoLimit"
		}
		return boundLit(t)
	}
	switch t.kind {
	case "prim":
		fmt.Fprintf(b, "%s%s, err = d.%s()\n%s", in, x, encPrim[t.prim], check)
	case "string":
		fmt.Fprintf(b, "%s%s, err = d.String(%s)\n%s", in, x, max(), check)
	case "opaque":
		fmt.Fprintf(b, "%s%s, err = d.Opaque(%s)\n%s", in, x, max(), check)
	case "fixedopaque":
		fmt.Fprintf(b, "%serr = d.FixedOpaque(%s[:])\n%s", in, x, check)
	case "slice":
		n := fmt.Sprintf("n%d", depth)
		i := fmt.Sprintf("i%d", depth)
		fmt.Fprintf(b, "%s{\n", in)
		in2 := in + "\t"
		fmt.Fprintf(b, "%s%s, err := d.Count(%s, %d)\n", in2, n, max(), w.minSize(t.elem))
		fmt.Fprintf(b, "%sif err != nil {\n%s\treturn err\n%s}\n", in2, in2, in2)
		fmt.Fprintf(b, "%s%s = make(%s, %s)\n", in2, x, t.goString(), n)
		fmt.Fprintf(b, "%sfor %s := range %s {\n", in2, i, x)
		w.emitDec(b, x+"["+i+"]", t.elem, depth+2, xpkg)
		fmt.Fprintf(b, "%s}\n%s}\n", in2, in)
	case "array":
		i := fmt.Sprintf("i%d", depth)
		fmt.Fprintf(b, "%sfor %s := range %s {\n", in, i, x)
		w.emitDec(b, x+"["+i+"]", t.elem, depth+1, xpkg)
		fmt.Fprintf(b, "%s}\n", in)
	case "ptr":
		p := fmt.Sprintf("p%d", depth)
		fmt.Fprintf(b, "%s{\n", in)
		in2 := in + "\t"
		fmt.Fprintf(b, "%s%s, err := d.Optional()\n", in2, p)
		fmt.Fprintf(b, "%sif err != nil {\n%s\treturn err\n%s}\n", in2, in2, in2)
		fmt.Fprintf(b, "%s%s = nil\n%sif %s {\n%s\t%s = new(%s)\n", in2, x, in2, p, in2, x, t.elem.goString())
		w.emitDec(b, "(*"+x+")", t.elem, depth+2, xpkg)
		fmt.Fprintf(b, "%s}\n%s}\n", in2, in)
	case "named":
		fmt.Fprintf(b, "%sif err = %s.UnmarshalXDR(d); err != nil {\n%s\treturn err\n%s}\n", in, x, in, in)
	}
}
