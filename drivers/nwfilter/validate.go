package nwfilter

import (
	"fmt"
	"strings"

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
				return inFilter(err, "filterref", fail)
			}
		case "rule":
			if err := checkRule(k, fail); err != nil {
				return inFilter(err, "rule", fail)
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

// inFilter adds the lines libxml2 writes when an element of the filter's
// interleave failed.
func inFilter(err error, elem string, fail func(string, ...any) error) error {
	if e, ok := err.(interface{ detail() string }); ok {
		return fail("%s\nExtra element %s in interleave\nElement filter failed to validate content", e.detail(), elem)
	}
	return err
}

type schemaDetail string

func (s schemaDetail) Error() string  { return string(s) }
func (s schemaDetail) detail() string { return string(s) }

// checkRule checks a rule's attributes (libvirt's action, direction,
// priority and statematch types) and its protocol element.
func checkRule(k *conf.Element, _ func(string, ...any) error) error {
	bad := func(format string, a ...any) error { return schemaDetail(fmt.Sprintf(format, a...)) }
	for _, a := range k.AttrNames() {
		v, _ := k.Attr(a)
		ok := true
		switch a {
		case "action":
			ok = indexOf(actionNames, v) >= 0
		case "direction":
			ok = indexOf(directionNames, v) >= 0
		case "priority":
			p, isInt := strToI(v)
			ok = isInt && p >= minRulePriority && p <= maxRulePriority && strings.TrimSpace(v) == v
		case "statematch":
			ok = v == "0" || strings.EqualFold(v, "false")
		default:
			ok = false
		}
		if !ok {
			return bad("Invalid attribute %s for element rule", a)
		}
	}
	for _, p := range k.Children("") {
		var pd *protoDef
		for i := range protocols {
			if protocols[i].id == p.Name() {
				pd = &protocols[i]
			}
		}
		if pd == nil {
			return bad("Element rule has extra content: %s", p.Name())
		}
		for _, a := range p.AttrNames() {
			known := a == "match"
			for _, d := range pd.attrs {
				known = known || d.name == a
			}
			if !known {
				return bad("Element rule has extra content: %s", p.Name())
			}
		}
	}
	return nil
}
