package conf

import (
	"bytes"
	"regexp"
	"strings"

	"govirt/virerr"
)

// Domain metadata as virDomainGetMetadata/virDomainSetMetadata see it:
// the title, the description, and the application elements under
// <metadata>, each identified by its namespace URI.

// Metadata types (virDomainMetadataType).
const (
	MetadataDescription = 0
	MetadataTitle       = 1
	MetadataElement     = 2
)

func errNoMetadata() error {
	return virerr.New(virerr.FromDomain, virerr.ErrNoDomainMetadata, "%s", "Requested metadata element is not present")
}

// nsURI resolves the namespace of element n (prefix or default), looking
// at n's own declarations, then at its ancestors (innermost first).
func nsURI(n *node, ancestors []*node) string {
	decl := "xmlns"
	if i := strings.IndexByte(n.name, ':'); i >= 0 {
		decl = "xmlns:" + n.name[:i]
	}
	if n.attrIndex(decl) >= 0 {
		return n.attr(decl)
	}
	for i := len(ancestors) - 1; i >= 0; i-- {
		if ancestors[i].attrIndex(decl) >= 0 {
			return ancestors[i].attr(decl)
		}
	}
	return ""
}

// metadataChild is virXMLFindChildNodeByNs: the first element under
// <metadata> in namespace uri.
func (d *Domain) metadataChild(uri string) (meta, child *node) {
	if d.x == nil {
		return nil, nil
	}
	meta = d.x.child("metadata")
	if meta == nil {
		return nil, nil
	}
	for _, k := range meta.elems() {
		if u := nsURI(k, []*node{d.x, meta}); u != "" && u == uri {
			return meta, k
		}
	}
	return meta, nil
}

// GetMetadata is virDomainObjGetMetadata on one definition.
func (d *Domain) GetMetadata(typ int32, uri string) (string, error) {
	var s string
	switch typ {
	case MetadataDescription:
		s = d.Description
	case MetadataTitle:
		s = d.Title
	case MetadataElement:
		meta, el := d.metadataChild(uri)
		if el == nil {
			return "", errNoMetadata()
		}
		return extractNamespace(el.clone(), []*node{d.x, meta}, uri), nil
	default:
		return "", virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "unknown metadata type '%d'", typ)
	}
	if s == "" {
		return "", errNoMetadata()
	}
	return s, nil
}

// extractNamespace is virXMLExtractNamespaceXML: the element with the
// namespace uri taken off it and its descendants, and its declaration
// dropped.
func extractNamespace(n *node, ancestors []*node, uri string) string {
	var strip func(e *node, anc []*node)
	strip = func(e *node, anc []*node) {
		if nsURI(e, anc) == uri {
			if i := strings.IndexByte(e.name, ':'); i >= 0 {
				e.name = e.name[i+1:]
			} else {
				e.delAttr("xmlns")
			}
		}
		if len(anc) > maxDepth {
			return
		}
		for _, k := range e.elems() {
			strip(k, append(anc[:len(anc):len(anc)], e))
		}
	}
	// Declarations are read before the names change.
	declared := n.clone()
	strip(n, ancestors)
	for _, a := range declared.attrs {
		if strings.HasPrefix(a.name, "xmlns:") && a.value == uri {
			n.delAttr(a.name)
		}
	}
	return strings.TrimSuffix(string(writeTreeDQ(n)), "\n")
}

var ncName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*$`)

// SetMetadata is virDomainDefSetMetadata. metadata nil removes.
func (d *Domain) SetMetadata(typ int32, metadata *string, key, uri string) error {
	val := ""
	if metadata != nil {
		val = *metadata
	}
	switch typ {
	case MetadataDescription:
		d.Description = val
		return nil
	case MetadataTitle:
		d.Title = val
		return nil
	case MetadataElement:
	default:
		return virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "unknown metadata type '%d'", typ)
	}
	var add *node
	if metadata != nil {
		n, err := parseTree([]byte(val), virerr.FromDomain, "(metadata_xml)")
		if err != nil {
			return err
		}
		if !ncName.MatchString(key) {
			return virerr.New(virerr.FromXML, virerr.ErrInternalError, "%s", "failed to validate prefix for a new XML namespace")
		}
		n.name = key + ":" + localName(n.name)
		// xmlNewNs adds the declaration after the node's own ones.
		at := 0
		for at < len(n.attrs) && (n.attrs[at].name == "xmlns" || strings.HasPrefix(n.attrs[at].name, "xmlns:")) {
			at++
		}
		n.delAttr("xmlns:" + key)
		if at > len(n.attrs) {
			at = len(n.attrs)
		}
		n.attrs = append(n.attrs[:at], append([]attr{{name: "xmlns:" + key, value: uri}}, n.attrs[at:]...)...)
		add = n
	}
	if d.x == nil {
		d.x = newElem("domain")
	}
	for {
		meta, el := d.metadataChild(uri)
		if el == nil {
			break
		}
		meta.removeChild(el)
	}
	if add != nil {
		d.x.ensureChild("metadata").kids = append(d.x.ensureChild("metadata").kids, add)
	}
	return nil
}

// writeTreeDQ writes an element as libxml2 does inside <metadata>.
func writeTreeDQ(n *node) []byte {
	var b bytes.Buffer
	writeNode(&b, n, 0, true, true)
	return b.Bytes()
}
