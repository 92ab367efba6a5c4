package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// program describes one RPC program of the .x files.
type program struct {
	file     *File
	w        *world
	enum     string // "remote_procedure"
	prefix   string // "REMOTE_PROC_"
	goPrefix string // "" for REMOTE, "Qemu" for QEMU...
	progSym  string // "REMOTE_PROGRAM"
	structs  string // struct prefix: "remote_", "qemu_"
	api      string // "vir" or "virAdm"
	procs    []*proc
}

type proc struct {
	Name, Const, API string
	Num              int64
	Ann              map[string][]string
	Args, Ret, Msg   string // Go type names, "" when void
	ArgsStruct       *Struct
	RetStruct        *Struct
	ReadOnly         []roRule
}

// roRule is one line of readonly.txt.
type roRule struct {
	Kind    string // always, flags, equals, secure
	Arg     string // C argument name: flags, source
	Value   uint32
	Names   string
	Message string
}

// readOnlyData parses readonly.txt: rules per API and the public API names.
func readOnlyData(src string) (map[string][]roRule, map[string]string, error) {
	rules := map[string][]roRule{}
	apis := map[string]string{} // lower-case -> exact
	sc := bufio.NewScanner(strings.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		switch {
		case f[0] == "api" && len(f) == 2:
			apis[strings.ToLower(f[1])] = f[1]
		case f[0] == "readonly" && len(f) == 2:
			rules[f[1]] = append(rules[f[1]], roRule{Kind: "always"})
		case (f[0] == "readonly" || f[0] == "secure") && len(f) >= 4:
			r := roRule{Kind: f[0], Names: f[3]}
			var val string
			if a, v, ok := strings.Cut(f[2], "&"); ok {
				r.Arg, val = a, v
				if r.Kind == "readonly" {
					r.Kind = "flags"
				}
			} else if a, v, ok := strings.Cut(f[2], "=="); ok && r.Kind == "readonly" {
				r.Arg, val, r.Kind = a, v, "equals"
			} else {
				return nil, nil, fmt.Errorf("readonly.txt: bad condition in %q", line)
			}
			n, err := strconv.ParseUint(val, 0, 32)
			if err != nil {
				return nil, nil, fmt.Errorf("readonly.txt: bad value in %q", line)
			}
			r.Value = uint32(n)
			if r.Kind == "secure" {
				r.Message = strings.Join(f[4:], " ")
				if r.Message == "" {
					return nil, nil, fmt.Errorf("readonly.txt: no message in %q", line)
				}
			}
			rules[f[1]] = append(rules[f[1]], r)
		default:
			return nil, nil, fmt.Errorf("readonly.txt: bad line %q", line)
		}
	}
	return rules, apis, sc.Err()
}

// fixup is gendispatch.pl's per-word spelling of a procedure name.
func fixup(w string) string {
	for _, r := range [][2]string{{"Nwfilter", "NWFilter"}, {"Pm", "PM"}, {"Scsi", "SCSI"}} {
		w = strings.Replace(w, r[0], r[1], 1)
	}
	for _, r := range [][2]string{{"Xml", "XML"}, {"Xml2", "XML2"}, {"Uri", "URI"}, {"Uuid", "UUID"},
		{"Id", "ID"}, {"Mac", "MAC"}, {"Cpu", "CPU"}, {"Os", "OS"}, {"Nmi", "NMI"}, {"Fstrim", "FSTrim"},
		{"Fsfreeze", "FSFreeze"}, {"Fsthaw", "FSThaw"}, {"Fsinfo", "FSInfo"}, {"Iothread", "IOThread"},
		{"Wwn", "WWN"}, {"Dhcp", "DHCP"}} {
		if strings.HasSuffix(w, r[0]) {
			return strings.TrimSuffix(w, r[0]) + r[1]
		}
	}
	return w
}

// procName is gendispatch.pl's name_to_ProcName: DOMAIN_GET_XML_DESC is
// DomainGetXMLDesc.
func procName(short string) string {
	var b strings.Builder
	for _, w := range strings.Split(short, "_") {
		if w == "" {
			continue
		}
		w = strings.ToLower(w)
		b.WriteString(fixup(strings.ToUpper(w[:1]) + w[1:]))
	}
	return b.String()
}

func (pg *program) load(rules map[string][]roRule, apis map[string]string) error {
	var e *Enum
	for _, x := range pg.file.Enums {
		if x.Name == pg.enum {
			e = x
		}
	}
	if e == nil {
		return fmt.Errorf("%s: no enum %s", pg.file.Name, pg.enum)
	}
	for _, m := range e.Members {
		short := strings.TrimPrefix(m.Name, pg.prefix)
		n, err := pg.w.eval(m.Value)
		if err != nil {
			return err
		}
		p := &proc{Name: m.Name, Const: pg.goPrefix + constName(short), Num: n, Ann: annotations(m.Doc)}
		pn := procName(short)
		switch pg.goPrefix {
		case "Qemu":
			pn = strings.Replace(pn, "Domain", "DomainQemu", 1)
		case "Lxc":
			pn = strings.Replace(pn, "Domain", "DomainLxc", 1)
		}
		p.API = pg.api + pn
		if exact, ok := apis[strings.ToLower(p.API)]; ok {
			p.API = exact
		}
		lower := pg.structs + strings.ToLower(short)
		if s := pg.w.structs[lower+"_args"]; s != nil {
			p.Args, p.ArgsStruct = pg.w.typeName(s.Name), s
		}
		if s := pg.w.structs[lower+"_ret"]; s != nil {
			p.Ret, p.RetStruct = pg.w.typeName(s.Name), s
		}
		if s := pg.w.structs[lower+"_msg"]; s != nil {
			p.Msg = pg.w.typeName(s.Name)
		}
		p.ReadOnly = rules[p.API]
		for _, r := range p.ReadOnly {
			if r.Kind != "always" && (p.ArgsStruct == nil || !hasField(p.ArgsStruct, r.Arg)) {
				return fmt.Errorf("%s: read-only rule on %s, which has no argument %s", m.Name, p.API, r.Arg)
			}
		}
		pg.procs = append(pg.procs, p)
	}
	return nil
}

func fieldType(s *Struct, name string) string {
	for _, f := range s.Fields {
		if f.Name == name {
			return f.Type
		}
	}
	return ""
}

func hasField(s *Struct, name string) bool {
	for _, f := range s.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// listCheck is gendispatch.pl's bound on a call that returns one list the
// caller sized: the "max<list>" argument must not exceed the list's bound.
type listCheck struct {
	Arg   string // C name of the count argument, maxnames
	Bound string // REMOTE_NETWORK_LIST_MAX
}

// listCheckOf finds the ret member annotated "insert@N" that is a bounded
// array, in a procedure whose server side libvirt generates.
func (pg *program) listCheckOf(p *proc) (*listCheck, error) {
	gen := strings.Join(p.Ann["generate"], "")
	if (gen != "both" && gen != "server") || p.RetStruct == nil || len(p.RetStruct.Fields) != 1 {
		return nil, nil
	}
	f := p.RetStruct.Fields[0]
	if f.Kind != VarArray || !strings.Contains(f.Comment, "insert@") {
		return nil, nil
	}
	switch f.Type {
	case "remote_nonnull_string", "admin_nonnull_string", "int", "hyper", "unsigned hyper":
	default:
		return nil, nil // gendispatch.pl builds these replies in other ways
	}
	arg := "max" + f.Name
	if p.ArgsStruct == nil || !hasField(p.ArgsStruct, arg) {
		return nil, fmt.Errorf("%s: list %s without argument %s", p.Name, f.Name, arg)
	}
	return &listCheck{Arg: arg, Bound: f.Size}, nil
}
