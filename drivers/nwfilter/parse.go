package nwfilter

import (
	"strings"

	"govirt/conf"
	"govirt/uuid"
	"govirt/virerr"
)

const from = virerr.FromNwfilter

// DefineValidate is VIR_NWFILTER_DEFINE_VALIDATE.
const DefineValidate = 1 << 0

func errf(code virerr.Code, format string, a ...any) error {
	return virerr.New(from, code, format, a...)
}

// Filter priorities (nwfilter_conf.h).
const (
	minRulePriority   = -1000
	maxRulePriority   = 1000
	minFilterPriority = -1000
	maxFilterPriority = maxRulePriority
	maxChainSuffix    = 12
	validChainChars   = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-"
	validIPSetChars   = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-+ "
	validVarName      = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
	validVarValue     = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:"
	maxIterID         = 1000
)

// chainSuffixes are libvirt's chain name prefixes, in its order, and
// the default priorities of those that have one.
var (
	chainSuffixes   = []string{"root", "mac", "vlan", "stp", "arp", "rarp", "ipv4", "ipv6"}
	chainPriorities = map[string]int32{"root": 0, "mac": -800, "vlan": -750, "ipv4": -700, "ipv6": -600, "arp": -500, "rarp": -400}
)

// ParseFilter reads a filter definition as virNWFilterDefParse does,
// with its errors. A definition without <uuid> gets a random one.
func ParseFilter(data []byte, flags uint32) (*Filter, error) {
	root, err := conf.ParseDocument(data, from, "(nwfilter_definition)", "filter")
	if err != nil {
		return nil, err
	}
	if flags&DefineValidate != 0 {
		if err := validateFilter(root); err != nil {
			return nil, err
		}
	}
	// virXPathString gives NULL for an empty result: empty counts as absent.
	f := &Filter{}
	f.Name, _ = root.Attr("name")
	if f.Name == "" {
		return nil, errf(virerr.ErrInternalError, "filter has no name")
	}
	prio, _ := root.Attr("priority")
	var chainPrio int32
	if prio != "" {
		p, ok := strToI(prio)
		if !ok {
			return nil, errf(virerr.ErrInvalidArg, "Could not parse chain priority '%s'", prio)
		}
		if p < minFilterPriority || p > maxFilterPriority {
			return nil, errf(virerr.ErrInvalidArg, "Priority '%d' is outside valid range of [%d,%d]", p, minFilterPriority, maxFilterPriority)
		}
		chainPrio = p
	}
	if chain, _ := root.Attr("chain"); chain != "" {
		prefix, err := allowedChain(chain)
		if err != nil {
			return nil, err
		}
		f.Chain = chain
		if prio != "" {
			f.ChainPriority = chainPrio
		} else if p, ok := chainPriorities[prefix]; ok {
			f.ChainPriority = p
		} else {
			f.ChainPriority = (maxFilterPriority + minFilterPriority) / 2
		}
	} else {
		f.Chain = "root"
	}
	if u := firstText(root, "uuid"); u == "" {
		f.UUID = uuid.New()
	} else {
		f.UUIDSpecified = true
		if f.UUID, err = uuid.Parse(u); err != nil {
			return nil, errf(virerr.ErrXMLError, "malformed uuid element")
		}
	}
	for _, k := range root.Children("") {
		switch k.Name() {
		case "rule":
			r, err := parseRule(k)
			if err != nil {
				return nil, err
			}
			f.Entries = append(f.Entries, Entry{Rule: r})
		case "filterref":
			name, ok := k.Attr("filter")
			if !ok {
				// libvirt's message for a filterref without filter.
				return nil, errf(virerr.ErrInternalError, "rule node requires action attribute")
			}
			f.Entries = append(f.Entries, Entry{Ref: &FilterRef{Filter: name, Params: ParseParams(k)}})
		}
	}
	return f, nil
}

// firstText is string(./name): the text of the first such child, not
// trimmed.
func firstText(e *conf.Element, name string) string {
	if c := e.Child(name); c != nil {
		return strings.TrimSpace(c.Text())
	}
	return ""
}

func allowedChain(name string) (string, error) {
	if len(name) > maxChainSuffix {
		return "", errf(virerr.ErrInvalidArg, "Name of chain is longer than %d characters", maxChainSuffix)
	}
	if strings.Trim(name, validChainChars) != "" {
		return "", errf(virerr.ErrInvalidArg, "Chain name contains invalid characters")
	}
	for i, s := range chainSuffixes {
		if i == 0 {
			if name == s {
				return s, nil
			}
			if strings.HasPrefix(name, s) {
				break
			}
		}
		if strings.HasPrefix(name, s) {
			return s, nil
		}
	}
	return "", errf(virerr.ErrInvalidArg, "Invalid chain name '%s'. Please use a chain name called 'root' or any of the following prefixes: %s",
		name, strings.Join(chainSuffixes[1:], ", "))
}

// ParseParams reads the <parameter name value/> children of a
// filterref as libvirt does: invalid names or values are skipped, a
// repeated name makes a list.
func ParseParams(e *conf.Element) Params {
	p := Params{}
	for _, c := range e.Children("parameter") {
		n, ok1 := c.Attr("name")
		v, ok2 := c.Attr("value")
		if !ok1 || !ok2 || strings.Trim(n, validVarName) != "" || v == "" || strings.Trim(v, validVarValue) != "" {
			continue
		}
		p[n] = append(p[n], v)
	}
	return p
}

func parseRule(e *conf.Element) (*Rule, error) {
	r := &Rule{}
	action, ok := e.Attr("action")
	if !ok {
		return nil, errf(virerr.ErrInternalError, "rule node requires action attribute")
	}
	if r.Action = indexOf(actionNames, action); r.Action < 0 {
		return nil, errf(virerr.ErrConfigUnsupported, "unknown rule action attribute value")
	}
	dir, ok := e.Attr("direction")
	if !ok {
		return nil, errf(virerr.ErrInternalError, "rule node requires direction attribute")
	}
	if r.Direction = indexOf(directionNames, dir); r.Direction < 0 {
		return nil, errf(virerr.ErrConfigUnsupported, "unknown rule direction attribute value")
	}
	r.Priority = maxRulePriority / 2
	if p, ok := e.Attr("priority"); ok {
		if v, ok := strToI(p); ok && v <= maxRulePriority && v >= minRulePriority {
			r.Priority = v
		}
	}
	if sm, ok := e.Attr("statematch"); ok && (sm == "0" || strings.EqualFold(sm, "false")) {
		r.Flags |= NoStateMatch
	}
	// The first protocol element decides; later elements of that same
	// name are read into the same rule, others are ignored.
	var pd *protoDef
	for _, k := range e.Children("") {
		if pd == nil {
			for i := range protocols {
				if protocols[i].id == k.Name() {
					pd = &protocols[i]
					break
				}
			}
			if pd == nil {
				continue
			}
			r.Proto = pd.proto
		} else if k.Name() != pd.id {
			continue
		}
		if err := parseDetails(k, r, pd); err != nil {
			return nil, err
		}
		if err := validateRule(r, pd); err != nil {
			return nil, err
		}
	}
	if pd != nil {
		fixupRule(r, pd)
	}
	return r, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func validateRule(r *Rule, pd *protoDef) error {
	if !pd.ipPort {
		return nil
	}
	if !r.has("srcportstart") && !r.has("dstportstart") && !r.has("srcportend") && !r.has("dstportend") {
		return nil
	}
	if r.has("protocol") {
		switch r.items["protocol"].num {
		case 6, 17, 33, 132:
			return nil
		}
	}
	name := "IP"
	if pd.proto == ProtoIPv6 {
		name = "IPv6"
	}
	return errf(virerr.ErrInternalError, "%s rule with port specification requires protocol specification with protocol to be either one of tcp(6), udp(17), dccp(33), or sctp(132)", name)
}

// fixupRule is virNWFilterRuleDefFixup: masks and range ends take the
// negation of their address or start, and the ipset fixup (which, as in
// libvirt 9.0, drops an ipset given together with ipsetflags).
func fixupRule(r *Rule, pd *protoDef) {
	for _, p := range pd.negs {
		dst, src := r.item(p[0]), r.item(p[1])
		dst.flags = dst.flags&^itemNeg | src.flags&itemNeg
	}
	if pd.ipset {
		set, fl := r.item("ipset"), r.item("ipsetflags")
		if set.flags&itemExists != 0 && fl.flags&itemExists == 0 {
			fl.flags = itemExists
			fl.setNum, fl.setFlags = 1, 1
		} else {
			set.flags, fl.flags = 0, 0
		}
	}
}
