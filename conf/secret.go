package conf

import (
	"strings"

	"govirt/uuid"
	"govirt/virerr"
)

// Secret is libvirt's <secret> definition (virSecretDef): the flags, the
// UUID, an optional description and the usage the secret serves.
type Secret struct {
	Ephemeral bool
	Private   bool
	UUID      uuid.UUID
	// Description is nil when the document has none (or an empty one:
	// libvirt's XPath string reads an empty text as absent).
	Description *string
	UsageType   int32 // SecretUsage*
	UsageID     string
}

// Secret usage types (virSecretUsageType).
const (
	SecretUsageNone int32 = iota
	SecretUsageVolume
	SecretUsageCeph
	SecretUsageISCSI
	SecretUsageTLS
	SecretUsageVTPM
)

// SecretDefineValidate is VIR_SECRET_DEFINE_VALIDATE.
const SecretDefineValidate = 1 << 0

// SecretUsageNames are the usage types' names in the XML, by value.
var SecretUsageNames = []string{"none", "volume", "ceph", "iscsi", "tls", "vtpm"}

// secretUsageElem is the child of <usage> holding the usage ID per type.
var secretUsageElem = []string{"", "volume", "name", "target", "name", "name"}

// secretUsageMissing are virSecretDefParseUsage's messages for a usage
// without its ID.
var secretUsageMissing = []string{"",
	"volume usage specified, but volume path is missing",
	"Ceph usage specified, but name is missing",
	"iSCSI usage specified, but target is missing",
	"TLS usage specified, but name is missing",
	"vTPM usage specified, but name is missing"}

// SecretUsageType returns the value of a usage type name, -1 for none.
func SecretUsageType(name string) int32 {
	for i, n := range SecretUsageNames {
		if n == name {
			return int32(i)
		}
	}
	return -1
}

// ParseSecret reads a secret definition as virSecretDefParse does, with
// its errors; flags may hold SecretDefineValidate (the schema check). A
// definition without <uuid> gets a random one.
func ParseSecret(data []byte, flags uint32) (*Secret, error) {
	const from = virerr.FromSecret
	root, err := parseTree(data, from, "(definition_of_secret)")
	if err != nil {
		return nil, err
	}
	if root.name != "secret" {
		return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "expecting root element of 'secret', not '%s'", root.name)
	}
	if flags&SecretDefineValidate != 0 {
		if err := validateSecret(root); err != nil {
			return nil, err
		}
	}
	s := &Secret{}
	// virXPathString gives NULL for an empty result: an empty attribute
	// or element counts as absent throughout.
	yesNo := func(name string, dst *bool) error {
		v := root.attr(name)
		switch v {
		case "":
		case "yes":
			*dst = true
		case "no":
		default:
			return virerr.New(from, virerr.ErrXMLError, "invalid value of '%s'", name)
		}
		return nil
	}
	if err := yesNo("ephemeral", &s.Ephemeral); err != nil {
		return nil, err
	}
	if err := yesNo("private", &s.Private); err != nil {
		return nil, err
	}
	if u := textOf(root.child("uuid")); u == "" {
		s.UUID = uuid.New()
	} else if s.UUID, err = uuid.Parse(u); err != nil {
		return nil, virerr.New(from, virerr.ErrInternalError, "malformed uuid element")
	}
	if d := textOf(root.child("description")); d != "" {
		s.Description = &d
	}
	if usage := root.child("usage"); usage != nil {
		t := usage.attr("type")
		if t == "" {
			return nil, virerr.New(from, virerr.ErrXMLError, "unknown secret usage type")
		}
		s.UsageType = SecretUsageType(t)
		if s.UsageType < 0 {
			return nil, virerr.New(from, virerr.ErrConfigUnsupported, "unknown secret usage type %s", t)
		}
		if s.UsageType != SecretUsageNone {
			s.UsageID = textOf(usage.child(secretUsageElem[s.UsageType]))
			if s.UsageID == "" {
				return nil, virerr.New(from, virerr.ErrInternalError, "%s", secretUsageMissing[s.UsageType])
			}
		}
	}
	return s, nil
}

func textOf(n *node) string {
	if n == nil {
		return ""
	}
	return n.textContent()
}

// validateSecret is secret.rng: the two yes/no attributes, then at most
// one each of <uuid>, <description> and <usage> in any order, a usage
// being one of the typed forms with its single ID element.
func validateSecret(root *node) error {
	const schema = schemaDir + "/secret.rng"
	fail := func(format string, a ...any) error {
		// libxml2 ends its message with a newline, which libvirt keeps.
		return schemaError(virerr.FromSecret, schema, format+"\n", a...)
	}
	for _, a := range root.attrs {
		switch a.name {
		case "ephemeral", "private":
			if a.value != "yes" && a.value != "no" {
				return fail("Element secret failed to validate attributes")
			}
		default:
			if a.name != "xmlns" && !strings.HasPrefix(a.name, "xmlns:") {
				return fail("Invalid attribute %s for element secret", a.name)
			}
		}
	}
	seen := map[string]bool{}
	for _, k := range root.elems() {
		switch k.name {
		case "uuid", "description", "usage":
			if seen[k.name] {
				return fail("Extra element %s in interleave", k.name)
			}
			seen[k.name] = true
		default:
			return fail("Element secret has extra content: %s", k.name)
		}
		switch k.name {
		case "uuid":
			if _, err := uuid.Parse(k.textContent()); err != nil || len(k.elems()) > 0 {
				return fail("Element uuid failed to validate content")
			}
		case "usage":
			t := SecretUsageType(k.attr("type"))
			kids := k.elems()
			if t <= SecretUsageNone || len(kids) != 1 || kids[0].name != secretUsageElem[t] || len(k.attrs) != 1 {
				return fail("Element usage failed to validate attributes")
			}
			if id := kids[0].textContent(); id == "" || (t == SecretUsageVolume && !strings.HasPrefix(id, "/")) {
				return fail("Element %s failed to validate content", kids[0].name)
			}
		}
	}
	return nil
}

// Format writes the definition as virSecretDefFormat does.
func (s *Secret) Format() string {
	var b strings.Builder
	yn := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	b.WriteString("<secret ephemeral='" + yn(s.Ephemeral) + "' private='" + yn(s.Private) + "'>\n")
	b.WriteString("  <uuid>" + s.UUID.String() + "</uuid>\n")
	if s.Description != nil {
		b.WriteString("  <description>" + escapeSecretText(*s.Description) + "</description>\n")
	}
	if s.UsageType > SecretUsageNone && int(s.UsageType) < len(SecretUsageNames) {
		el := secretUsageElem[s.UsageType]
		b.WriteString("  <usage type='" + SecretUsageNames[s.UsageType] + "'>\n")
		b.WriteString("    <" + el + ">" + escapeSecretText(s.UsageID) + "</" + el + ">\n")
		b.WriteString("  </usage>\n")
	}
	b.WriteString("</secret>\n")
	return b.String()
}

// escapeSecretText is virBufferEscapeString's escaping: the five XML
// specials as entities, control characters other than tab, newline and
// carriage return dropped.
func escapeSecretText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\'':
			b.WriteString("&apos;")
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Encryption is the volume's <target><encryption>, nil without one.
func (v *StorageVolume) Encryption() *Element {
	if e := v.x.child("target"); e != nil {
		if enc := e.child("encryption"); enc != nil {
			return &Element{enc}
		}
	}
	return nil
}
