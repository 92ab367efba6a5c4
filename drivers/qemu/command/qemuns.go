package command

import (
	"slices"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// qemuNS is libvirt's QEMU namespace for domain XML: extra arguments and
// environment, capability overrides, -device property overrides and
// the deprecation behaviour (qemuDomainXmlNsDef).
const qemuNS = "http://libvirt.org/schemas/domain/qemu/1.0"

type nsOverride struct {
	name string
	val  any // nil: remove the property
}

type qemuNSDef struct {
	args        []string
	env         []string
	capsAdd     []string
	capsDel     []string
	overrides   map[string][]nsOverride // device alias -> properties
	deprecation string
}

// nsOf is the namespace of element e, whose prefix is declared on e or
// on one of scopes (its ancestors, innermost first).
func nsOf(e *conf.Element, scopes ...*conf.Element) string {
	key := "xmlns"
	if prefix, _, ok := strings.Cut(e.Name(), ":"); ok {
		key = "xmlns:" + prefix
	}
	for _, s := range append([]*conf.Element{e}, scopes...) {
		if v, ok := s.Attr(key); ok {
			return v
		}
	}
	return ""
}

// localName is an element's name without its prefix.
func localName(e *conf.Element) string {
	if _, l, ok := strings.Cut(e.Name(), ":"); ok {
		return l
	}
	return e.Name()
}

// withoutQemuNS splits the QEMU namespace elements off a definition,
// whatever prefix (or default namespace) declares it, on <domain> or on
// the element itself.
func withoutQemuNS(t *conf.Element) (*conf.Element, []*conf.Element) {
	rest := t
	var ext []*conf.Element
	for _, k := range t.Children("") {
		if nsOf(k, t) == qemuNS {
			ext = append(ext, k)
			rest = rest.Without(k.Name())
		}
	}
	return rest, ext
}

func nsErr(format string, args ...any) error {
	return virerr.New(virerr.FromDomain, virerr.ErrXMLError, format, args...)
}

// parseQemuNS reads the namespace elements (qemuDomainDefNamespaceParse)
// and applies the capability overrides to the builder's capabilities.
func (b *builder) parseQemuNS() error {
	root := b.tree()
	_, ext := withoutQemuNS(root)
	ns := &qemuNSDef{overrides: map[string][]nsOverride{}}
	// in lists the children of e in the QEMU namespace called name.
	in := func(e *conf.Element, name string, scopes ...*conf.Element) []*conf.Element {
		var out []*conf.Element
		for _, k := range e.Children("") {
			if localName(k) == name && nsOf(k, append([]*conf.Element{e}, scopes...)...) == qemuNS {
				out = append(out, k)
			}
		}
		return out
	}
	for _, e := range ext {
		switch localName(e) {
		case "commandline":
			for _, k := range e.Children("") {
				if nsOf(k, e, root) != qemuNS {
					return unsupportedElem("qemu:commandline/" + k.Name())
				}
				switch localName(k) {
				case "arg":
					v, ok := k.Attr("value")
					if !ok {
						return nsErr("No qemu command-line argument specified")
					}
					ns.args = append(ns.args, v)
				case "env":
					name := attr(k, "name")
					if name == "" {
						return nsErr("No qemu environment name specified")
					}
					ok := name[0] == '_' || name[0] >= 'A' && name[0] <= 'Z' || name[0] >= 'a' && name[0] <= 'z'
					for _, r := range name {
						ok = ok && (r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
					}
					if !ok {
						return nsErr("Invalid environment name, it must begin with a letter or underscore")
					}
					ns.env = append(ns.env, name+"="+attr(k, "value"))
				default:
					return unsupportedElem("qemu:commandline/" + k.Name())
				}
			}
		case "capabilities":
			for _, k := range e.Children("") {
				c := attr(k, "capability")
				switch localName(k) {
				case "add":
					ns.capsAdd = append(ns.capsAdd, c)
				case "del":
					ns.capsDel = append(ns.capsDel, c)
				default:
					return unsupportedElem("qemu:capabilities/" + k.Name())
				}
			}
		case "override":
			for _, d := range in(e, "device", root) {
				alias := attr(d, "alias")
				if alias == "" {
					return nsErr("missing 'alias' attribute for qemu:device")
				}
				for _, fe := range in(d, "frontend", e, root) {
					for _, p := range in(fe, "property", d, e, root) {
						ov, err := parseOverride(p)
						if err != nil {
							return err
						}
						ns.overrides[alias] = append(ns.overrides[alias], ov)
					}
				}
			}
		case "deprecation":
			switch v := attr(e, "behavior"); v {
			case "none", "omit", "reject", "crash":
				ns.deprecation = v
			default:
				return nsErr("Invalid value for attribute 'behavior' in element 'deprecation': '%s'.", v)
			}
		default:
			return unsupportedElem("qemu:" + localName(e))
		}
	}
	b.ns = ns
	if len(ns.capsAdd)+len(ns.capsDel) > 0 {
		b.caps = nsCaps{Caps: b.caps, add: ns.capsAdd, del: ns.capsDel}
	}
	return nil
}

func parseOverride(p *conf.Element) (nsOverride, error) {
	name := attr(p, "name")
	if name == "" {
		return nsOverride{}, nsErr("missing 'name' attribute for qemu:property")
	}
	v := attr(p, "value")
	typ := attr(p, "type")
	bad := func() (nsOverride, error) {
		return nsOverride{}, nsErr("invalid value '%s' of type '%s' for qemu:property '%s'", v, typ, name)
	}
	switch typ {
	case "string":
		return nsOverride{name, v}, nil
	case "signed":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return bad()
		}
		return nsOverride{name, n}, nil
	case "unsigned":
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return bad()
		}
		return nsOverride{name, n}, nil
	case "bool":
		switch v {
		case "true":
			return nsOverride{name, true}, nil
		case "false":
			return nsOverride{name, false}, nil
		}
		return bad()
	case "remove":
		return nsOverride{name, nil}, nil
	}
	return nsOverride{}, nsErr("Invalid value for attribute 'type' in element 'property': '%s'.", typ)
}

// nsCaps are capabilities with the namespace's additions and removals.
type nsCaps struct {
	Caps
	add, del []string
}

func (c nsCaps) Has(flag string) bool {
	if slices.Contains(c.del, flag) {
		return false
	}
	return slices.Contains(c.add, flag) || c.Caps.Has(flag)
}

// applyOverrides changes the properties of the -device whose id the
// namespace overrides: each named property is removed, then appended
// with its new value unless the override removes it.
func (b *builder) applyOverrides(o obj) obj {
	if b.ns == nil || len(b.ns.overrides) == 0 {
		return o
	}
	id, _ := o.get("id")
	s, _ := id.(string)
	for _, ov := range b.ns.overrides[s] {
		o = slices.DeleteFunc(o, func(p kv) bool { return p.k == ov.name })
		if ov.val != nil {
			o = o.set(ov.name, ov.val)
		}
	}
	return o
}

// emitCompat writes -compat for the namespace's deprecation behaviour.
func (b *builder) emitCompat() {
	if b.ns == nil || b.ns.deprecation == "" || b.ns.deprecation == "none" || !b.caps.Has("compat-deprecated") {
		return
	}
	o := obj{}.set("deprecated-output", "hide")
	switch b.ns.deprecation {
	case "reject", "crash":
		o = o.set("deprecated-input", b.ns.deprecation)
	}
	b.add("-compat", o.String())
}

// emitNSArgs appends the namespace's extra arguments.
func (b *builder) emitNSArgs() error {
	if b.ns != nil {
		b.add(b.ns.args...)
	}
	return nil
}

// userEnv are the namespace's environment variables.
func (b *builder) userEnv() []string {
	if b.ns == nil {
		return nil
	}
	return b.ns.env
}

// taints are the taint flags of the namespace's content, in the order
// qemuDomainObjCheckTaint checks them.
func (b *builder) taints() []string {
	ns := b.ns
	if ns == nil {
		return nil
	}
	var out []string
	if len(ns.args) > 0 || len(ns.env) > 0 {
		out = append(out, "custom-argv")
	}
	if len(ns.overrides) > 0 {
		out = append(out, "custom-device")
	}
	if len(ns.capsAdd)+len(ns.capsDel) > 0 {
		out = append(out, "custom-hypervisor-feature")
	}
	return out
}
