package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// virterror.h's enums become virerr/codes.go: virErrorNumber's VIR_ERR_*
// members as Code constants, virErrorDomain's VIR_FROM_* as Domain. The
// VIR_WAR_* warnings share virErrorNumber but are never sent by govirt,
// and the sentinels exist only under VIR_ENUM_SENTINELS: both are left out.

// cEnum is one typedef'd C enum: its members with explicit values, in order.
type cEnum struct {
	names  []string
	values []int64
}

var (
	cComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	cMember  = regexp.MustCompile(`^\s*([A-Z][A-Z0-9_]*)\s*=\s*(-?[0-9]+)\s*,?\s*$`)
)

// parseCEnum finds "typedef enum { ... } name;" in src and returns its
// members that carry an explicit value, skipping preprocessor blocks.
func parseCEnum(src, name string) (*cEnum, error) {
	end := strings.Index(src, "} "+name+";")
	if end < 0 {
		return nil, fmt.Errorf("enum %s not found", name)
	}
	start := strings.LastIndex(src[:end], "typedef enum {")
	if start < 0 {
		return nil, fmt.Errorf("enum %s has no typedef", name)
	}
	body := cComment.ReplaceAllString(src[start+len("typedef enum {"):end], "")
	e := &cEnum{}
	depth := 0
	for _, line := range strings.Split(body, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "#"):
			d := strings.TrimSpace(t[1:])
			if strings.HasPrefix(d, "if") {
				depth++
			} else if strings.HasPrefix(d, "endif") {
				depth--
			}
			continue
		case t == "" || depth > 0:
			continue
		}
		m := cMember.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("enum %s: cannot read %q", name, t)
		}
		v, _ := strconv.ParseInt(m[2], 10, 64)
		e.names = append(e.names, m[1])
		e.values = append(e.values, v)
	}
	return e, nil
}

// errWords are the words of the C names spelled as Go initialisms.
var errWords = map[string]string{"OS": "OS", "XML": "XML", "RPC": "RPC", "MAC": "MAC", "SSH": "SSH",
	"DBUS": "DBus", "CPU": "CPU", "URI": "URI", "TPM": "TPM", "BPF": "BPF"}

// errGoName turns VIR_ERR_NO_DOMAIN (prefix VIR_ERR_) into ErrNoDomain
// (goPrefix Err).
func errGoName(c, prefix, goPrefix string) string {
	var b strings.Builder
	b.WriteString(goPrefix)
	for _, w := range strings.Split(strings.TrimPrefix(c, prefix), "_") {
		if s, ok := errWords[w]; ok {
			b.WriteString(s)
			continue
		}
		b.WriteString(w[:1] + strings.ToLower(w[1:]))
	}
	return b.String()
}

// emitErrorCodes writes virerr/codes.go from virterror.h.
func emitErrorCodes(b *bytes.Buffer, src string) error {
	header(b, "virerr", "virterror.h")
	for _, k := range []struct{ enum, prefix, goPrefix, typ, doc string }{
		{"virErrorNumber", "VIR_ERR_", "Err", "Code", "// Code is a virErrorNumber.\n"},
		{"virErrorDomain", "VIR_FROM_", "From", "Domain", "// Domain is a virErrorDomain: the subsystem an error comes from.\n"},
	} {
		e, err := parseCEnum(src, k.enum)
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "%stype %s int32\n\nconst (\n", k.doc, k.typ)
		n := 0
		for i, c := range e.names {
			if !strings.HasPrefix(c, k.prefix) {
				continue // VIR_WAR_*
			}
			fmt.Fprintf(b, "\t%s %s = %d\n", errGoName(c, k.prefix, k.goPrefix), k.typ, e.values[i])
			n++
		}
		if n == 0 {
			return fmt.Errorf("enum %s: no %s members", k.enum, k.prefix)
		}
		b.WriteString(")\n\n")
	}
	return nil
}
