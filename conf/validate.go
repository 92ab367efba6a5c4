package conf

//go:generate go run ./internal/gen -schemas ../../shared/conformance/libvirt-9.0.0/schemas -out schema_table.go

import (
	"strings"
	"sync"

	"govirt/virerr"
)

// schemaFiles names the schema each document root is checked against.
var schemaFiles = map[string]string{
	"domain":         "domain.rng",
	"network":        "network.rng",
	"pool":           "storagepool.rng",
	"volume":         "storagevol.rng",
	"domainsnapshot": "domainsnapshot.rng",
	"interface":      "interface.rng",
}

type schemaEntry struct {
	attrs, elems     map[string]bool
	anyAttr, anyElem bool
}

// schemaIndex turns the generated table into sets once, on first use.
var schemaIndex = sync.OnceValue(func() map[string]*schemaEntry {
	idx := make(map[string]*schemaEntry, len(schemaTable))
	for k, v := range schemaTable {
		e := &schemaEntry{attrs: map[string]bool{}, elems: map[string]bool{}}
		for _, a := range strings.Fields(v[0]) {
			e.attrs[a] = true
		}
		for _, c := range strings.Fields(v[1]) {
			e.elems[c] = true
		}
		e.anyAttr, e.anyElem = e.attrs["*"], e.elems["*"]
		idx[k] = e
	}
	return idx
})

// validateTree checks every element and attribute name against the
// element/attribute names libvirt's schema allows where they appear. It
// checks names, not values or ordering: enough to catch misspelt or
// misplaced elements, which is what users get wrong.
func validateTree(root *node, want string, from virerr.Domain) error {
	schema := schemaFiles[want]
	return validateElem(schema, "", root, from)
}

func validateElem(schema, parent string, el *node, from virerr.Domain) error {
	name := localName(el.name)
	e := schemaIndex()[schema+" "+parent+">"+name]
	if e == nil {
		return schemaError(from, schema, "Element '%s' is not allowed here", name)
	}
	for _, a := range el.attrs {
		if a.name == "xmlns" || strings.HasPrefix(a.name, "xmlns:") || strings.HasPrefix(a.name, "xml:") {
			continue
		}
		if !e.anyAttr && !e.attrs[localName(a.name)] {
			return schemaError(from, schema, "Invalid attribute %s for element %s", a.name, name)
		}
	}
	for _, k := range el.kids {
		if k.kind != elemNode {
			continue
		}
		kn := localName(k.name)
		switch {
		case e.elems[kn]:
			if err := validateElem(schema, name, k, from); err != nil {
				return err
			}
		case e.anyElem:
			// Foreign content such as <metadata> children: anything goes.
		default:
			return schemaError(from, schema, "Element %s has extra content: %s", name, k.name)
		}
	}
	return nil
}

func schemaError(from virerr.Domain, schema, format string, args ...any) error {
	args = append([]any{schema}, args...)
	return virerr.New(from, virerr.ErrXMLInvalidSchema, "Unable to validate doc against %s\n"+format, args...)
}
