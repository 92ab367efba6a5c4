package conf

import "govirt/virerr"

// ParseDocument reads a document of a kind conf has no type for (network
// filters and their bindings live in drivers/nwfilter), as virXMLParse
// does with a root element name: syntax errors name doc, as libvirt's
// parser names the document ("(nwfilter_definition)"), and another root
// element is libvirt's "expecting root element" error.
func ParseDocument(data []byte, from virerr.Domain, doc, root string) (*Element, error) {
	n, err := parseTree(data, from, doc)
	if err != nil {
		return nil, err
	}
	if n.name != root {
		return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "expecting root element of '%s', not '%s'", root, n.name)
	}
	return &Element{n}, nil
}

// SchemaError is libvirt's error for a document the RNG schema refuses
// (the VALIDATE flags); schema is the schema's file name ("nwfilter.rng").
func SchemaError(from virerr.Domain, schema, format string, args ...any) error {
	return schemaError(from, schemaDir+"/"+schema, format+"\n", args...)
}

// AttrNames lists the element's attribute names in document order.
func (e *Element) AttrNames() []string {
	out := make([]string, 0, len(e.n.attrs))
	for _, a := range e.n.attrs {
		out = append(out, a.name)
	}
	return out
}
