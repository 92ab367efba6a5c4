package nwfilter

import (
	"sort"
	"strings"

	"govirt/virerr"
)

// InstRule is one rule of a binding's filter tree with the variables in
// force where it appears (libvirt's virNWFilterRuleInst).
type InstRule struct {
	ChainSuffix   string
	ChainPriority int32
	Rule          *Rule
	Priority      int32
	Vars          Params
}

// Standard variables (nwfilter_params.h).
const (
	varIP       = "IP"
	varMAC      = "MAC"
	varLearning = "CTRL_IP_LEARNING"
)

// refByName is virNWFilterObjListFindInstantiateFilter.
func (m *Manager) refByName(name string, removing *Filter) (*Filter, error) {
	f := m.byName(name)
	if f == nil {
		return nil, errf(virerr.ErrInternalError, "referenced filter '%s' is missing", name)
	}
	if f == removing {
		return nil, errf(virerr.ErrNoNwfilter, "Filter '%s' is in use.", name)
	}
	return f, nil
}

// merged is virNWFilterCreateVarsFrom: inner's values, overridden by
// outer's.
func merged(inner, outer Params) Params {
	out := inner.Clone()
	for k, v := range outer {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// ruleVars lists a rule's variable references once each.
func ruleVars(r *Rule) []*VarAccess {
	var out []*VarAccess
	pd := protoByType(r.Proto)
	if pd == nil {
		return nil
	}
	for _, a := range pd.attrs {
		it := r.items[a.name]
		if it == nil || it.flags&itemVar == 0 {
			continue
		}
		dup := false
		for _, v := range out {
			if *v == *it.v {
				dup = true
			}
		}
		if !dup {
			out = append(out, it.v)
		}
	}
	return out
}

func available(v *VarAccess, vars Params) bool {
	vals, ok := vars[v.Name]
	if !ok {
		return false
	}
	return !v.Elem || int(v.Index) < len(vals)
}

// missingVars is virNWFilterDetermineMissingVarsRec.
func (m *Manager) missingVars(f *Filter, vars Params, missing map[string]bool, removing *Filter) error {
	for _, e := range f.Entries {
		if e.Rule != nil {
			for _, v := range ruleVars(e.Rule) {
				if !available(v, vars) {
					missing[v.String()] = true
				}
			}
			continue
		}
		next, err := m.refByName(e.Ref.Filter, removing)
		if err != nil {
			return err
		}
		if err := m.missingVars(next, merged(e.Ref.Params, vars), missing, removing); err != nil {
			return err
		}
	}
	return nil
}

// toInst is virNWFilterDefToInst: the tree's rules, depth first.
func (m *Manager) toInst(f *Filter, vars Params, out *[]*InstRule, removing *Filter) error {
	for _, e := range f.Entries {
		if e.Rule != nil {
			*out = append(*out, &InstRule{ChainSuffix: f.Chain, ChainPriority: f.ChainPriority, Rule: e.Rule, Priority: e.Rule.Priority, Vars: vars.Clone()})
			continue
		}
		next, err := m.refByName(e.Ref.Filter, removing)
		if err != nil {
			return err
		}
		if err := m.toInst(next, merged(e.Ref.Params, vars), out, removing); err != nil {
			return err
		}
	}
	return nil
}

// instantiate is virNWFilterInstantiateFilter for b (mu held): nothing
// when the port does not exist (libvirt skips those quietly); else the
// binding's MAC becomes its MAC variable, every variable of the tree must
// be known, and the technology driver gets the rules. removing is a
// filter about to be undefined, which must not be used.
//
// A tree whose only unknown variable is IP (CTRL_IP_LEARNING any or
// dhcp) gets its rules once Config.LearnIP or Config.SniffIP finds the
// address (learn.go); until then no rules are applied (libvirt applies
// its learning rules meanwhile).
func (m *Manager) instantiate(b *Binding, removing *Filter) error {
	if !m.cfg.PortExists(b.PortDev) {
		return nil
	}
	f, err := m.refByName(b.Filter, removing)
	if err != nil {
		return err
	}
	if _, ok := b.Params[varMAC]; !ok {
		b.Params[varMAC] = []string{formatMAC(b.MAC)}
	}
	missing := map[string]bool{}
	if err := m.missingVars(f, b.Params, missing, removing); err != nil {
		return err
	}
	learning := "any"
	if v := b.Params[varLearning]; len(v) > 0 {
		learning = v[0]
	}
	reportIP := false
	if len(missing) == 1 && missing[varIP] {
		switch {
		case strings.EqualFold(learning, "none"):
			reportIP = true
		case strings.EqualFold(learning, "dhcp"), strings.EqualFold(learning, "any"):
			m.startLearning(b)
			return nil
		default:
			return errf(virerr.ErrParseFailed, "filter '%s' learning value '%s' invalid.", f.Name, learning)
		}
	}
	if len(missing) > 0 {
		var names []string
		for n := range missing {
			if (n == varIP && !reportIP) || n == varMAC {
				continue
			}
			names = append(names, n)
		}
		sort.Strings(names)
		return errf(virerr.ErrInternalError, "Cannot instantiate filter due to unresolvable variables or unavailable list elements: %s", strings.Join(names, ", "))
	}
	var rules []*InstRule
	if err := m.toInst(f, b.Params, &rules, removing); err != nil {
		return err
	}
	if m.cfg.Tech == nil {
		return nil
	}
	return m.cfg.Tech.Apply(b, rules)
}

// uses reports whether f's tree references the filter named name.
func (m *Manager) uses(f *Filter, name string, depth int) bool {
	if f.Name == name {
		return true
	}
	if depth > 64 {
		return false
	}
	for _, e := range f.Entries {
		if e.Ref == nil {
			continue
		}
		if next := m.byName(e.Ref.Filter); next != nil && m.uses(next, name, depth+1) {
			return true
		}
	}
	return false
}
