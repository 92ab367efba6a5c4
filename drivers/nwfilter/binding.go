package nwfilter

import (
	"fmt"
	"strings"

	"govirt/conf"
	"govirt/uuid"
	"govirt/virerr"
)

// BindingCreateValidate is VIR_NWFILTER_BINDING_CREATE_VALIDATE.
const BindingCreateValidate = 1 << 0

// Binding is a filter bound to a port device (libvirt's
// virNWFilterBindingDef).
type Binding struct {
	OwnerName string
	OwnerUUID uuid.UUID
	PortDev   string
	LinkDev   string
	MAC       [6]byte
	Filter    string
	Params    Params
}

// ParseBinding reads a binding as virNWFilterBindingDefParse does.
func ParseBinding(data []byte, flags uint32) (*Binding, error) {
	root, err := conf.ParseDocument(data, from, "(nwfilterbinding_definition)", "filterbinding")
	if err != nil {
		return nil, err
	}
	if flags&BindingCreateValidate != 0 {
		if err := validateBinding(root); err != nil {
			return nil, err
		}
	}
	b := &Binding{Params: Params{}}
	attrOf := func(elem, attr string) string {
		if c := root.Child(elem); c != nil {
			v, _ := c.Attr(attr)
			return v
		}
		return ""
	}
	if b.PortDev = attrOf("portdev", "name"); b.PortDev == "" {
		return nil, errf(virerr.ErrInternalError, "filter binding has no port dev name")
	}
	if root.Child("linkdev") != nil {
		if b.LinkDev = attrOf("linkdev", "name"); b.LinkDev == "" {
			return nil, errf(virerr.ErrInternalError, "filter binding has no link dev name")
		}
	}
	owner := root.Child("owner")
	if owner != nil {
		b.OwnerName = firstText(owner, "name")
	}
	if b.OwnerName == "" {
		return nil, errf(virerr.ErrInternalError, "filter binding has no owner name")
	}
	u := ""
	if owner != nil {
		u = firstText(owner, "uuid")
	}
	if u == "" {
		return nil, errf(virerr.ErrInternalError, "filter binding has no owner UUID")
	}
	if b.OwnerUUID, err = uuid.Parse(u); err != nil {
		return nil, errf(virerr.ErrInternalError, "Unable to parse UUID '%s'", u)
	}
	mac := attrOf("mac", "address")
	if mac == "" {
		return nil, errf(virerr.ErrInternalError, "filter binding has no MAC address")
	}
	var ok bool
	if b.MAC, ok = parseMAC(mac); !ok {
		return nil, errf(virerr.ErrInternalError, "Unable to parse MAC '%s'", mac)
	}
	if b.Filter = attrOf("filterref", "filter"); b.Filter == "" {
		return nil, errf(virerr.ErrInternalError, "filter binding has no filter reference")
	}
	b.Params = ParseParams(root.Child("filterref"))
	return b, nil
}

// Format writes the binding as virNWFilterBindingDefFormat does.
func (b *Binding) Format() string {
	var s strings.Builder
	b.formatTo(&s, "")
	return s.String()
}

func (b *Binding) formatTo(s *strings.Builder, in string) {
	fmt.Fprintf(s, "%s<filterbinding>\n", in)
	fmt.Fprintf(s, "%s  <owner>\n%s    <name>%s</name>\n%s    <uuid>%s</uuid>\n%s  </owner>\n", in, in, escape(b.OwnerName), in, b.OwnerUUID, in)
	fmt.Fprintf(s, "%s  <portdev name='%s'/>\n", in, escape(b.PortDev))
	if b.LinkDev != "" {
		fmt.Fprintf(s, "%s  <linkdev name='%s'/>\n", in, escape(b.LinkDev))
	}
	fmt.Fprintf(s, "%s  <mac address='%s'/>\n", in, formatMAC(b.MAC))
	formatRef(s, in+"  ", b.Filter, b.Params)
	fmt.Fprintf(s, "%s</filterbinding>\n", in)
}

// Clone copies the binding.
func (b *Binding) Clone() *Binding {
	c := *b
	c.Params = b.Params.Clone()
	return &c
}

func validateBinding(root *conf.Element) error {
	fail := func(format string, a ...any) error {
		return conf.SchemaError(from, "nwfilterbinding.rng", format, a...)
	}
	if err := onlyAttrs(root, "filterbinding", fail); err != nil {
		return err
	}
	for _, k := range root.Children("") {
		switch k.Name() {
		case "owner":
			for _, o := range k.Children("") {
				if o.Name() != "name" && o.Name() != "uuid" {
					return fail("Element owner has extra content: %s", o.Name())
				}
			}
		case "portdev", "linkdev":
			if err := onlyAttrs(k, k.Name(), fail, "name"); err != nil {
				return err
			}
		case "mac":
			if err := onlyAttrs(k, "mac", fail, "address"); err != nil {
				return err
			}
		case "filterref":
			if err := checkRef(k, fail); err != nil {
				return err
			}
		default:
			return fail("Element filterbinding has extra content: %s", k.Name())
		}
	}
	return nil
}
