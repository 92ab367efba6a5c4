package nwfilter

import (
	"govirt/conf"
)

// validateFilter is the structural part of libvirt's nwfilter.rng check
// (VIR_NWFILTER_DEFINE_VALIDATE): unknown elements and attributes are
// refused with libxml2's messages. Value patterns are left to the parser.
func validateFilter(root *conf.Element) error {
	fail := func(format string, a ...any) error { return conf.SchemaError(from, "nwfilter.rng", format, a...) }
	if err := onlyAttrs(root, "filter", fail, "name", "chain", "priority"); err != nil {
		return err
	}
	for _, k := range root.Children("") {
		switch k.Name() {
		case "uuid":
		case "filterref":
			if err := checkRef(k, fail); err != nil {
				return err
			}
		case "rule":
			if err := onlyAttrs(k, "rule", fail, "action", "direction", "priority", "statematch"); err != nil {
				return err
			}
			for _, p := range k.Children("") {
				var pd *protoDef
				for i := range protocols {
					if protocols[i].id == p.Name() {
						pd = &protocols[i]
					}
				}
				if pd == nil {
					return fail("Element rule has extra content: %s", p.Name())
				}
				names := []string{"match"}
				for _, a := range pd.attrs {
					names = append(names, a.name)
				}
				if err := onlyAttrs(p, p.Name(), fail, names...); err != nil {
					return err
				}
			}
		default:
			return fail("Element filter has extra content: %s", k.Name())
		}
	}
	return nil
}

func checkRef(k *conf.Element, fail func(string, ...any) error) error {
	if err := onlyAttrs(k, "filterref", fail, "filter"); err != nil {
		return err
	}
	for _, p := range k.Children("") {
		if p.Name() != "parameter" {
			return fail("Element filterref has extra content: %s", p.Name())
		}
		if err := onlyAttrs(p, "parameter", fail, "name", "value"); err != nil {
			return err
		}
	}
	return nil
}

func onlyAttrs(e *conf.Element, elem string, fail func(string, ...any) error, allowed ...string) error {
	for _, a := range e.AttrNames() {
		if a == "xmlns" || len(a) > 6 && a[:6] == "xmlns:" {
			continue
		}
		if indexOf(allowed, a) < 0 {
			return fail("Invalid attribute %s for element %s", a, elem)
		}
	}
	return nil
}
