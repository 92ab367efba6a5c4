// Command xdrgen generates govirt's wire protocol from libvirt's .x files
// (and its error numbers from virterror.h):
// the structs with their XDR codecs, the constants and bounds, the
// procedure numbers and names, and a per-procedure table of libvirt's
// annotations (priority, ACL, streams) and read-only rules.
//
// Usage (from protocol/generate.go, via go generate):
//
//	go run ../internal/xdrgen -x libvirt-9.0 -root ..
//
// Outputs, relative to -root:
//
//	remote/wire_*.go          REMOTE, QEMU and LXC structs (package remote)
//	remote/wire_consts.go     their constants
//	remote/wire_procs.go      count checks and read-only argument readers
//	protocol/adminwire/*.go   the ADMIN program's structs (package adminwire)
//	rpc/procs/*.go            procedure numbers, names, the Info table and
//	                          virnetprotocol.x's constants
//	virerr/codes.go           error numbers and domains, from virterror.h
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	xdir := flag.String("x", "libvirt-9.0", "directory with the .x files and readonly.txt")
	root := flag.String("root", "..", "module root to write into")
	flag.Parse()
	out, err := generate(*xdir)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range sortedKeys(out) {
		path := filepath.Join(*root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(path, out[name], 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// xfiles are the inputs, relative to the -x directory.
var xfiles = []string{"remote_protocol.x", "qemu_protocol.x", "lxc_protocol.x", "admin_protocol.x",
	"virnetprotocol.x", "virkeepaliveprotocol.x"}

const xdrPkg = "govirt/rpc/xdr"

// generate returns every output file, keyed by path relative to the root.
func generate(xdir string) (map[string][]byte, error) {
	files := map[string]*File{}
	for _, n := range xfiles {
		src, err := os.ReadFile(filepath.Join(xdir, n))
		if err != nil {
			return nil, err
		}
		if files[n], err = parse(n, string(src)); err != nil {
			return nil, err
		}
	}
	roSrc, err := os.ReadFile(filepath.Join(xdir, "readonly.txt"))
	if err != nil {
		return nil, err
	}
	rules, apis, err := readOnlyData(string(roSrc))
	if err != nil {
		return nil, err
	}
	rw, err := newWorld("remote_", files["remote_protocol.x"], files["qemu_protocol.x"], files["lxc_protocol.x"])
	if err != nil {
		return nil, err
	}
	aw, err := newWorld("admin_", files["admin_protocol.x"])
	if err != nil {
		return nil, err
	}
	kw, err := newWorld("", files["virkeepaliveprotocol.x"], files["virnetprotocol.x"])
	if err != nil {
		return nil, err
	}
	progs := []*program{
		{file: files["remote_protocol.x"], w: rw, enum: "remote_procedure", prefix: "REMOTE_PROC_", progSym: "REMOTE_PROGRAM", structs: "remote_", api: "vir"},
		{file: files["qemu_protocol.x"], w: rw, enum: "qemu_procedure", prefix: "QEMU_PROC_", goPrefix: "Qemu", progSym: "QEMU_PROGRAM", structs: "qemu_", api: "vir"},
		{file: files["lxc_protocol.x"], w: rw, enum: "lxc_procedure", prefix: "LXC_PROC_", goPrefix: "Lxc", progSym: "LXC_PROGRAM", structs: "lxc_", api: "vir"},
		{file: files["admin_protocol.x"], w: aw, enum: "admin_procedure", prefix: "ADMIN_PROC_", goPrefix: "Admin", progSym: "ADMIN_PROGRAM", structs: "admin_", api: "virAdm"},
		{file: files["virkeepaliveprotocol.x"], w: kw, enum: "keepalive_procedure", prefix: "KEEPALIVE_PROC_", goPrefix: "Keepalive", progSym: "KEEPALIVE_PROGRAM", structs: "keepalive_", api: "vir"},
	}
	for _, pg := range progs {
		if err := pg.load(rules, apis); err != nil {
			return nil, err
		}
	}
	out := map[string][]byte{}
	add := func(path string, b *bytes.Buffer) error {
		src, err := format.Source(b.Bytes())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		out[path] = src
		return nil
	}

	// REMOTE structs, grouped as before so the files stay navigable.
	groups := map[string]*strings.Builder{}
	var order []string
	for _, f := range []*File{files["remote_protocol.x"], files["qemu_protocol.x"], files["lxc_protocol.x"]} {
		for _, s := range f.Structs {
			if s.Name == "remote_error" || strings.HasSuffix(s.Name, "_typed_param") {
				continue // virNetMessageError's twin and the TypedParam union: hand-written in rpc
			}
			g := remoteGroup(s.Name)
			if groups[g] == nil {
				groups[g] = &strings.Builder{}
				order = append(order, g)
			}
			if err := rw.emitStruct(groups[g], s, f.Name, "xdr."); err != nil {
				return nil, err
			}
		}
	}
	for _, g := range order {
		var b bytes.Buffer
		header(&b, "remote", sourcesOf(g))
		fmt.Fprintf(&b, "import \"%s\"\n\n", xdrPkg)
		b.WriteString(groups[g].String())
		if err := add("remote/wire_"+g+".go", &b); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	header(&b, "remote", "remote_protocol.x, qemu_protocol.x and lxc_protocol.x")
	emitConsts(&b, rw, []*File{files["remote_protocol.x"], files["qemu_protocol.x"], files["lxc_protocol.x"]})
	if err := add("remote/wire_consts.go", &b); err != nil {
		return nil, err
	}
	b.Reset()
	if err := emitRemoteProcs(&b, progs[:3]); err != nil {
		return nil, err
	}
	if err := add("remote/wire_procs.go", &b); err != nil {
		return nil, err
	}

	// ADMIN structs for the admin program's dispatcher.
	b.Reset()
	header(&b, "adminwire", "admin_protocol.x")
	fmt.Fprintf(&b, "import \"%s\"\n\n", xdrPkg)
	b.WriteString("// TypedParam is admin_typed_param; see xdr.TypedParam.\ntype TypedParam = xdr.TypedParam\n\n")
	emitConsts(&b, aw, []*File{files["admin_protocol.x"]})
	for _, s := range files["admin_protocol.x"].Structs {
		if strings.HasSuffix(s.Name, "_typed_param") {
			continue
		}
		var sb strings.Builder
		if err := aw.emitStruct(&sb, s, "admin_protocol.x", "xdr."); err != nil {
			return nil, err
		}
		b.WriteString(sb.String())
	}
	if err := add("protocol/adminwire/adminwire.go", &b); err != nil {
		return nil, err
	}

	// The RPC layer's own constants (message sizes, types, status).
	b.Reset()
	header(&b, "procs", "virnetprotocol.x and virkeepaliveprotocol.x")
	emitConsts(&b, kw, []*File{files["virnetprotocol.x"], files["virkeepaliveprotocol.x"]})
	if err := add("rpc/procs/net.go", &b); err != nil {
		return nil, err
	}

	// Procedure numbers, names and metadata.
	if err := emitProcs(add, progs, []*world{rw, aw, kw}); err != nil {
		return nil, err
	}

	// libvirt's error numbers and domains.
	errSrc, err := os.ReadFile(filepath.Join(xdir, "virterror.h"))
	if err != nil {
		return nil, err
	}
	b.Reset()
	if err := emitErrorCodes(&b, string(errSrc)); err != nil {
		return nil, err
	}
	if err := add("virerr/codes.go", &b); err != nil {
		return nil, err
	}
	return out, nil
}

func header(b *bytes.Buffer, pkg, from string) {
	fmt.Fprintf(b, "// Code generated by internal/xdrgen from protocol/libvirt-9.0/%s; DO NOT EDIT.\n\n", from)
	fmt.Fprintf(b, "package %s\n\n", pkg)
}

// remoteGroup picks the output file of a struct: wire_domain.go for
// remote_domain_*, and so on, as the earlier generator split them.
func remoteGroup(name string) string {
	switch {
	case strings.HasPrefix(name, "qemu_"):
		return "qemu"
	case strings.HasPrefix(name, "lxc_"):
		return "lxc"
	}
	g := strings.SplitN(strings.TrimPrefix(name, "remote_"), "_", 2)[0]
	switch g {
	case "domain", "network", "storage", "connect", "node", "nonnull":
		return g
	}
	return "misc"
}

func sourcesOf(group string) string {
	switch group {
	case "qemu":
		return "qemu_protocol.x"
	case "lxc":
		return "lxc_protocol.x"
	}
	return "remote_protocol.x"
}

// emitConsts writes the files' constants and non-procedure enum members.
func emitConsts(b *bytes.Buffer, w *world, files []*File) {
	b.WriteString("// Constants and bounds of the .x files, under their libvirt names in Go spelling.\nconst (\n")
	for _, f := range files {
		for _, c := range f.Consts {
			fmt.Fprintf(b, "\t%s = %d // %s\n", constName(c.Name), w.consts[c.Name], c.Name)
		}
		for _, e := range f.Enums {
			if strings.HasSuffix(e.Name, "_procedure") {
				continue
			}
			for _, m := range e.Members {
				fmt.Fprintf(b, "\t%s = %d // %s\n", constName(m.Name), w.consts[m.Name], m.Name)
			}
		}
	}
	b.WriteString(")\n\n")
}

// emitProcs writes rpc/procs: numbers per program, names, and Info.
func emitProcs(add func(string, *bytes.Buffer) error, progs []*program, worlds []*world) error {
	var b bytes.Buffer
	header(&b, "procs", "*.x")
	b.WriteString("// Program numbers.\nconst (\n")
	for _, pg := range progs {
		fmt.Fprintf(&b, "\tProgram%s uint32 = %#x // %s\n", progGo(pg), pg.w.consts[pg.progSym], pg.progSym)
	}
	b.WriteString(")\n\n")
	for _, pg := range progs {
		fmt.Fprintf(&b, "// %s procedure numbers.\nconst (\n", pg.progSym)
		maxN := int64(0)
		for _, p := range pg.procs {
			fmt.Fprintf(&b, "\t%s int32 = %d\n", p.Const, p.Num)
			maxN = max(maxN, p.Num)
		}
		fmt.Fprintf(&b, ")\n\n")
		if pg.goPrefix == "" {
			fmt.Fprintf(&b, "// Max is the highest REMOTE procedure number in libvirt 9.0.\nconst Max = %d\n\n", maxN)
		}
	}
	if err := add("rpc/procs/procs.go", &b); err != nil {
		return err
	}

	b.Reset()
	header(&b, "procs", "*.x")
	for _, pg := range progs {
		if pg.goPrefix == "" {
			b.WriteString("// names maps REMOTE procedure numbers to libvirt's REMOTE_PROC_ names.\nvar names = [...]string{\n")
		} else {
			fmt.Fprintf(&b, "var names%s = [...]string{\n", progGo(pg))
		}
		for _, p := range pg.procs {
			fmt.Fprintf(&b, "\t%d: %q,\n", p.Num, p.Name)
		}
		b.WriteString("}\n\n")
	}
	if err := add("rpc/procs/names.go", &b); err != nil {
		return err
	}

	b.Reset()
	header(&b, "procs", "*.x and readonly.txt")
	for _, pg := range progs {
		fmt.Fprintf(&b, "var info%s = [...]Info{\n", progGo(pg))
		for _, p := range pg.procs {
			fmt.Fprintf(&b, "\t%d: {Prog: %#x, Proc: %d, Name: %q, API: %q", p.Num, pg.w.consts[pg.progSym], p.Num, p.Name, p.API)
			if p.Args != "" {
				fmt.Fprintf(&b, ", Args: %q", p.Args)
			}
			if p.Ret != "" {
				fmt.Fprintf(&b, ", Ret: %q", p.Ret)
			}
			if p.Msg != "" {
				fmt.Fprintf(&b, ", Msg: %q", p.Msg)
			}
			if g := strings.Join(p.Ann["generate"], ""); g != "" {
				fmt.Fprintf(&b, ", Generate: %q", g)
			}
			if strings.Join(p.Ann["priority"], "") == "high" {
				b.WriteString(", High: true")
			}
			for _, k := range []string{"acl", "aclfilter"} {
				if v := p.Ann[k]; len(v) > 0 {
					fmt.Fprintf(&b, ", %s: %#v", map[string]string{"acl": "ACL", "aclfilter": "ACLFilter"}[k], v)
				}
			}
			for _, k := range []string{"readstream", "writestream", "sparseflag"} {
				if v := strings.Join(p.Ann[k], ""); v != "" {
					fmt.Fprintf(&b, ", %s: %q", map[string]string{"readstream": "ReadStream", "writestream": "WriteStream", "sparseflag": "SparseFlag"}[k], v)
				}
			}
			if len(p.ReadOnly) > 0 {
				b.WriteString(", ReadOnly: []ReadOnlyRule{")
				for _, r := range p.ReadOnly {
					fmt.Fprintf(&b, "{Kind: %s", map[string]string{"always": "ROAlways", "flags": "ROFlags", "equals": "ROEquals", "secure": "ROSecure"}[r.Kind])
					if r.Kind != "always" {
						fmt.Fprintf(&b, ", Arg: %q, Value: %#x, Names: %q", camel(r.Arg), r.Value, r.Names)
					}
					if r.Message != "" {
						fmt.Fprintf(&b, ", Message: %q", r.Message)
					}
					b.WriteString("}, ")
				}
				b.WriteString("}")
			}
			b.WriteString("},\n")
		}
		b.WriteString("}\n\n")
	}
	b.WriteString("// lookup finds a program's table.\nfunc lookup(prog uint32) []Info {\n\tswitch prog {\n")
	for _, pg := range progs {
		fmt.Fprintf(&b, "\tcase Program%s:\n\t\treturn info%s[:]\n", progGo(pg), progGo(pg))
	}
	b.WriteString("\t}\n\treturn nil\n}\n\n")
	b.WriteString("// nameTable finds a program's names.\nfunc nameTable(prog uint32) []string {\n\tswitch prog {\n")
	for _, pg := range progs {
		n := "names" + progGo(pg)
		if pg.goPrefix == "" {
			n = "names"
		}
		fmt.Fprintf(&b, "\tcase Program%s:\n\t\treturn %s[:]\n", progGo(pg), n)
	}
	b.WriteString("\t}\n\treturn nil\n}\n")
	return add("rpc/procs/info.go", &b)
}

func progGo(pg *program) string {
	if pg.goPrefix == "" {
		return "Remote"
	}
	return pg.goPrefix
}

// emitRemoteProcs writes remote/wire_procs.go: gendispatch.pl's list-size
// checks as checkCounts methods on the args structs, and readers of the
// argument a conditional read-only rule tests.
func emitRemoteProcs(b *bytes.Buffer, progs []*program) error {
	header(b, "remote", "remote_protocol.x, qemu_protocol.x, lxc_protocol.x and readonly.txt")
	b.WriteString("import (\n\t\"govirt/rpc/procs\"\n\t\"govirt/rpc/xdr\"\n\t\"govirt/virerr\"\n)\n\n")
	for _, pg := range progs {
		for _, p := range pg.procs {
			lc, err := pg.listCheckOf(p)
			if err != nil {
				return err
			}
			if lc == nil {
				continue
			}
			f := camel(lc.Arg)
			fmt.Fprintf(b, "// checkCounts bounds %s's %s as libvirt's generated dispatcher does.\n", p.Name, lc.Arg)
			fmt.Fprintf(b, "func (a *%s) checkCounts() error {\n", p.Args)
			fmt.Fprintf(b, "\tif a.%s > %s {\n\t\treturn virerr.New(virerr.FromRPC, virerr.ErrRPC, \"%%s\", %q)\n\t}\n", f, constName(lc.Bound), lc.Arg+" > "+lc.Bound)
			if fieldType(p.ArgsStruct, lc.Arg) == "int" {
				fmt.Fprintf(b, "\tif a.%s < 0 {\n\t\treturn errNegative(%q, %q)\n\t}\n", f, lc.Arg, p.API)
			}
			b.WriteString("\treturn nil\n}\n\n")
		}
	}
	b.WriteString("// readOnlyArg decodes the argument that a conditional read-only rule of\n// the procedure tests (flags, or source for virDomainInterfaceAddresses).\n")
	b.WriteString("func readOnlyArg(prog uint32, proc int32, body []byte) (uint32, error) {\n\tswitch {\n")
	for _, pg := range progs {
		for _, p := range pg.procs {
			var arg string
			for _, r := range p.ReadOnly {
				if r.Kind != "always" {
					arg = r.Arg
				}
			}
			if arg == "" {
				continue
			}
			fmt.Fprintf(b, "\tcase prog == procs.Program%s && proc == procs.%s:\n", progGo(pg), p.Const)
			fmt.Fprintf(b, "\t\tvar a %s\n\t\terr := a.UnmarshalXDR(xdr.NewDecoder(body))\n\t\treturn uint32(a.%s), err\n", p.Args, camel(arg))
		}
	}
	b.WriteString("\t}\n\treturn 0, nil\n}\n\n")

	b.WriteString("// newArgs returns a new zero value of a procedure's generated argument\n// type, or nil when it takes none; tests and fuzzers use it.\n")
	b.WriteString("func newArgs(prog uint32, proc int32) any {\n\tswitch prog {\n")
	for _, pg := range progs {
		fmt.Fprintf(b, "\tcase procs.Program%s:\n\t\tswitch proc {\n", progGo(pg))
		for _, p := range pg.procs {
			if p.Args != "" {
				fmt.Fprintf(b, "\t\tcase procs.%s:\n\t\t\treturn new(%s)\n", p.Const, p.Args)
			}
		}
		b.WriteString("\t\t}\n")
	}
	b.WriteString("\t}\n\treturn nil\n}\n\n")

	b.WriteString("// arrayBounds lists, per argument type, the <MAX> bound of each\n// variable-length array field (strings and opaque data excluded).\n")
	b.WriteString("var arrayBounds = map[string]map[string]int64{\n")
	for _, pg := range progs {
		for _, p := range pg.procs {
			if p.ArgsStruct == nil {
				continue
			}
			var parts []string
			for _, f := range p.ArgsStruct.Fields {
				t, err := pg.w.resolve(f)
				if err != nil {
					return err
				}
				if t.kind == "slice" {
					parts = append(parts, fmt.Sprintf("%q: %d", camel(f.Name), t.max))
				}
			}
			if len(parts) > 0 {
				fmt.Fprintf(b, "\t%q: {%s},\n", p.Args, strings.Join(parts, ", "))
			}
		}
	}
	b.WriteString("}\n")
	return nil
}

var _ = sort.Strings
