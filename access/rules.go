package access

import (
	"fmt"
	"strconv"
	"strings"

	globpkg "govirt/internal/glob"
	"govirt/rpc"
)

// The rule file: one rule per line, the first rule that matches a check
// decides it, and a check no rule matches is denied.
//
//	# ACTION [KEY=VALUE]...
//	allow user=alice object=connect
//	allow user=alice object=domain name=web1 perm=getattr,read
//	deny  x509dn="CN=guest,*" object=domain perm=write,save,delete
//	allow group=admins
//
// ACTION is allow or deny. A rule without keys matches everything. Keys
// about the client (all must match; an identity without the attribute,
// e.g. a TCP client's uid, never matches):
//
//	uid, gid        the unix peer's numbers (SO_PEERCRED)
//	user, group     their names; group matches any group the user is in
//	x509dn          the TLS client certificate's subject (RFC 4514)
//	sasl            the SASL user name
//	transport       unix, tcp or tls
//
// Keys about what is checked:
//
//	object          kinds, comma separated: connect, domain, interface,
//	                network, network_port, node_device, nwfilter,
//	                nwfilter_binding, secret, storage_pool, storage_vol
//	perm            permissions, comma separated: a name of the kinds in
//	                object= (or of any kind), KIND:NAME, or *
//	driver          the connection's driver, QEMU or Test (any case)
//	name            the object's name (a volume's, a node device's; a
//	                secret's usage id; a filter binding's port device;
//	                a network port's network)
//	uuid            the object's UUID (a volume's key)
//	parent          a volume's pool, a network port's network
//
// Values are patterns where * is any run of characters and ? one
// character; a value with spaces or # is written in double quotes, with
// \" and \\ inside. Text after a # outside quotes is a comment.

// Rule is one parsed line.
type Rule struct {
	Line  int
	Allow bool
	conds []cond
	kinds []string
	perms []permPat
}

type cond struct{ key, pat string }

// permPat is one perm= entry: kind "" is any kind, name "*" any name.
type permPat struct{ kind, name string }

// Rules is a parsed rule file.
type Rules struct{ list []Rule }

var (
	identityKeys = map[string]bool{"uid": true, "gid": true, "user": true, "group": true,
		"x509dn": true, "sasl": true, "transport": true}
	objectKeys = map[string]bool{"driver": true, "name": true, "uuid": true, "parent": true}
)

// ParseRules reads a rule file's text; errors name the line.
func ParseRules(src string) (*Rules, error) {
	rs := &Rules{}
	for n, line := range strings.Split(src, "\n") {
		toks, err := tokenize(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n+1, err)
		}
		if len(toks) == 0 {
			continue
		}
		r, err := parseRule(toks)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n+1, err)
		}
		r.Line = n + 1
		rs.list = append(rs.list, r)
	}
	return rs, nil
}

// Len is the number of rules.
func (rs *Rules) Len() int { return len(rs.list) }

func parseRule(toks []string) (Rule, error) {
	var r Rule
	switch toks[0] {
	case "allow":
		r.Allow = true
	case "deny":
	default:
		return r, fmt.Errorf("expected allow or deny, not %q", toks[0])
	}
	seen := map[string]bool{}
	var permText string
	for _, t := range toks[1:] {
		key, val, ok := strings.Cut(t, "=")
		if !ok || key == "" {
			return r, fmt.Errorf("expected KEY=VALUE, not %q", t)
		}
		if seen[key] {
			return r, fmt.Errorf("%s given twice", key)
		}
		seen[key] = true
		switch {
		case key == "object":
			for _, k := range strings.Split(val, ",") {
				if _, ok := Perms[k]; !ok {
					return r, fmt.Errorf("unknown object kind %q", k)
				}
				r.kinds = append(r.kinds, k)
			}
		case key == "perm":
			permText = val
		case key == "uid" || key == "gid":
			if strings.Trim(val, "0123456789*?") != "" || val == "" {
				return r, fmt.Errorf("%s must be a number (or a pattern of digits), not %q", key, val)
			}
			r.conds = append(r.conds, cond{key, val})
		case key == "transport":
			if !globAny(val, "unix", "tcp", "tls") {
				return r, fmt.Errorf("transport %q matches none of unix, tcp, tls", val)
			}
			r.conds = append(r.conds, cond{key, val})
		case identityKeys[key] || objectKeys[key]:
			if key == "uuid" || key == "driver" {
				val = strings.ToLower(val)
			}
			r.conds = append(r.conds, cond{key, val})
		default:
			return r, fmt.Errorf("unknown key %q", key)
		}
	}
	if permText != "" {
		for _, p := range strings.Split(permText, ",") {
			pp, err := r.parsePerm(p)
			if err != nil {
				return r, err
			}
			r.perms = append(r.perms, pp)
		}
	}
	return r, nil
}

// parsePerm checks one perm= entry against the rule's kinds.
func (r *Rule) parsePerm(p string) (permPat, error) {
	if p == "*" {
		return permPat{name: "*"}, nil
	}
	kinds := r.kinds
	if k, name, ok := strings.Cut(p, ":"); ok {
		if _, known := Perms[k]; !known {
			return permPat{}, fmt.Errorf("unknown object kind %q in perm %q", k, p)
		}
		if len(kinds) > 0 && !contains(kinds, k) {
			return permPat{}, fmt.Errorf("perm %q is not about a kind in object=", p)
		}
		if name != "*" && !ValidPerm(k, name) {
			return permPat{}, fmt.Errorf("%s has no permission %q", k, name)
		}
		return permPat{kind: k, name: name}, nil
	}
	if len(kinds) == 0 {
		kinds = kindNames()
	}
	for _, k := range kinds {
		if ValidPerm(k, p) {
			return permPat{name: p}, nil
		}
	}
	return permPat{}, fmt.Errorf("no permission %q for %s", p, strings.Join(r.kinds, ","))
}

func kindNames() []string {
	out := make([]string, 0, len(Perms))
	for k := range Perms {
		out = append(out, k)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// tokenize splits a line at blanks, honouring double quotes (only inside
// a token's value part or around it) and dropping a trailing comment.
func tokenize(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\':
			if i+1 >= len(line) || (line[i+1] != '"' && line[i+1] != '\\') {
				return nil, fmt.Errorf("only \\\" and \\\\ may be escaped")
			}
			i++
			cur.WriteByte(line[i])
		case c == '"':
			quoted, in = !quoted, true
		case quoted:
			cur.WriteByte(c)
		case c == '#':
			i = len(line)
		case c == ' ' || c == '\t' || c == '\r':
			if in {
				toks = append(toks, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if in {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

// matches reports whether the rule applies to this check.
func (r *Rule) matches(id *rpc.Identity, obj *Object, perm string) bool {
	if len(r.kinds) > 0 && !contains(r.kinds, obj.Kind) {
		return false
	}
	if len(r.perms) > 0 {
		ok := false
		for _, p := range r.perms {
			if (p.kind == "" || p.kind == obj.Kind) && (p.name == "*" || p.name == perm) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, c := range r.conds {
		if !c.matches(id, obj) {
			return false
		}
	}
	return true
}

func (c cond) matches(id *rpc.Identity, obj *Object) bool {
	switch c.key {
	case "uid":
		return id.Unix && glob(c.pat, strconv.FormatUint(uint64(id.UID), 10))
	case "gid":
		return id.Unix && glob(c.pat, strconv.FormatUint(uint64(id.GID), 10))
	case "user":
		return id.UserName != "" && glob(c.pat, id.UserName)
	case "group":
		return globAny(c.pat, id.Groups...)
	case "x509dn":
		return id.X509DName != "" && glob(c.pat, id.X509DName)
	case "sasl":
		return id.SASLUser != "" && glob(c.pat, id.SASLUser)
	case "transport":
		return glob(c.pat, id.Transport.String())
	case "driver":
		return glob(c.pat, strings.ToLower(obj.Driver))
	case "name":
		return glob(c.pat, obj.Name)
	case "uuid":
		return glob(c.pat, strings.ToLower(obj.UUID))
	case "parent":
		return glob(c.pat, obj.Parent)
	}
	return false
}

func globAny(pat string, ss ...string) bool {
	for _, s := range ss {
		if glob(pat, s) {
			return true
		}
	}
	return false
}

// glob matches s against pattern ('*' any run, '?' one character).
func glob(pattern, str string) bool { return globpkg.Match(pattern, str) }
