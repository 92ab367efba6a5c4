package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"govirt/internal/cpux86"
	"govirt/testguest"
)

// The guest CPU after a start, as libvirt 9.0 records it: host-model
// turned into the named model QEMU runs, a custom CPU updated with what
// QEMU added or dropped and check='full', check='partial'/'full'
// refusals, and automatic NUMA placement without numad.

// cpuGuestXML is a TCG guest (no devices needed: QEMU only has to
// start) with the given <vcpu>/<cpu>/<numatune> part.
func cpuGuestXML(t *testing.T, dir, name, typ, part string) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	kernel, initrd := testguest.Ensure(t)
	if !strings.Contains(part, "<vcpu") {
		part = "<vcpu>1</vcpu>\n  " + part
	}
	xml := fmt.Sprintf(`<domain type='%s'>
  <name>%s</name>
  <memory unit='MiB'>128</memory>
  %s
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>%s</kernel><initrd>%s</initrd></os>
  <devices></devices>
</domain>
`, typ, name, part, kernel, initrd)
	p := filepath.Join(dir, name+".xml")
	if err := os.WriteFile(p, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var liveCPURE = regexp.MustCompile(`(?s)  <cpu[^>]*/>\n|  <cpu[^>]*[^/]>\n.*?\n  </cpu>\n`)

// liveCPUElem is the <cpu> element of a dumpxml output.
func liveCPUElem(xml string) string { return liveCPURE.FindString(xml) }

// cpuCase is one definition started on govirtd (and libvirtd).
type cpuCase struct {
	name, typ, part string
	// without libvirtd: the start's error (substring), or what the live
	// <cpu> must contain.
	wantErr  string
	wantLive []string
}

var guestCPUCases = []cpuCase{
	{name: "hostmodel", typ: "qemu", part: "<cpu mode='host-model'/>",
		wantLive: []string{"<cpu mode='custom' match='exact' check='full'>", "<model fallback='forbid'>", "<vendor>"}},
	{name: "nocpu", typ: "qemu", part: "",
		wantLive: []string{"<cpu mode='custom' match='exact' check='full'>", "<model fallback='forbid'>qemu64</model>",
			"<feature policy='require' name='hypervisor'/>", "<feature policy='require' name='lahf_lm'/>"}},
	{name: "q64none", typ: "qemu", part: "<cpu mode='custom' match='exact'><model>qemu64</model><topology sockets='1' cores='1' threads='1'/></cpu>",
		wantLive: []string{"<cpu mode='custom' match='exact' check='full'>", "<topology sockets='1' dies='1' cores='1' threads='1'/>",
			"<feature policy='require' name='hypervisor'/>"}},
	{name: "q64full", typ: "qemu", part: "<cpu mode='custom' match='exact' check='full'><model>qemu64</model></cpu>",
		wantErr: "operation failed: guest CPU doesn't match specification: extra features: hypervisor,lahf_lm"},
	{name: "q64fullok", typ: "qemu", part: "<cpu mode='custom' match='exact' check='full'><model>qemu64</model>" +
		"<feature policy='require' name='hypervisor'/><feature policy='require' name='lahf_lm'/></cpu>",
		wantLive: []string{"check='full'", "<feature policy='require' name='lahf_lm'/>"}},
	{name: "skypartial", typ: "qemu", part: "<cpu mode='custom' match='exact' check='partial'><model>Skylake-Client</model></cpu>",
		wantErr: "the CPU is incompatible with host CPU: Host CPU does not provide required features: "},
	{name: "skyfull", typ: "qemu", part: "<cpu mode='custom' match='exact' check='full'><model>Skylake-Client</model></cpu>",
		wantErr: "operation failed: guest CPU doesn't match specification: extra features: hypervisor, missing features: "},
	{name: "maximum", typ: "qemu", part: "<cpu mode='maximum'/>",
		wantLive: []string{"<cpu mode='maximum' check='none'/>"}},
	{name: "maxpartial", typ: "qemu", part: "<cpu mode='maximum' check='partial'><feature policy='require' name='vmx'/></cpu>",
		wantLive: []string{"<cpu mode='maximum' check='partial'>"}},
	{name: "unknownfeat", typ: "qemu", part: "<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='disable' name='bogusfeat'/></cpu>",
		wantErr: "unsupported configuration: unknown CPU feature: bogusfeat"},
	{name: "optional", typ: "qemu", part: "<cpu mode='custom' match='exact' check='full'><model>qemu64</model>" +
		"<feature policy='optional' name='hypervisor'/><feature policy='optional' name='lahf_lm'/></cpu>",
		wantLive: []string{"check='full'", "<feature policy='require' name='hypervisor'/>"}},
	{name: "maxfull", typ: "qemu", part: "<cpu mode='maximum' check='full'><feature policy='require' name='vmx'/></cpu>",
		wantErr: "operation failed: guest CPU doesn't match specification: missing features: vmx"},
}

// TestGuestCPULiveXML starts each CPU definition through virsh and
// compares the start's outcome and the live <cpu> with libvirtd 9.0
// running the same definition (when it runs here), or with what libvirt
// gives otherwise. The host-model guest's live CPU must be the CPU QEMU
// really runs (read back over QMP), survive a daemon restart, and leave
// the persistent definition host-model.
func TestGuestCPULiveXML(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	lv := libvirtdUp()
	for _, c := range guestCPUCases {
		name := "gvcpu-" + c.name
		path := cpuGuestXML(t, dir, name, c.typ, c.part)
		out, errOut, rc := virsh(t, uri, "create", path)
		live := ""
		if rc == 0 {
			live = liveCPUElem(mustVirsh(t, uri, "dumpxml "+name))
		}
		if lv {
			lout, lerr, lrc := virsh(t, libvirtdURI, "create", path)
			llive := ""
			if lrc == 0 {
				llive = liveCPUElem(mustVirsh(t, libvirtdURI, "dumpxml "+name))
				virsh(t, libvirtdURI, "destroy", name)
			}
			if rc != lrc || errOut != lerr || live != llive {
				t.Errorf("%s: govirtd (rc %d) %s%s%s--- libvirtd (rc %d) %s%s%s", c.name, rc, out, errOut, live, lrc, lout, lerr, llive)
			}
		}
		switch {
		case c.wantErr != "":
			if rc == 0 || !strings.Contains(errOut, c.wantErr) {
				t.Errorf("%s: rc %d, stderr %q; want error %q", c.name, rc, errOut, c.wantErr)
			}
		case rc != 0:
			t.Errorf("%s: start failed: %s", c.name, errOut)
		default:
			for _, w := range c.wantLive {
				if !strings.Contains(live, w) {
					t.Errorf("%s: live <cpu> lacks %q:\n%s", c.name, w, live)
				}
			}
		}
		if rc == 0 && c.name != "hostmodel" {
			mustVirsh(t, uri, "destroy "+name)
		}
	}

	// The host-model guest: its live features are QEMU's.
	const hm = "gvcpu-hostmodel"
	live := liveCPUElem(mustVirsh(t, uri, "dumpxml "+hm))
	cpuPath := firstCPUPath(t, uri, hm)
	feat := regexp.MustCompile(`<feature policy='(require|disable)' name='([^']+)'/>`)
	checked := 0
	for _, m := range feat.FindAllStringSubmatch(live, -1) {
		got := qomGet(t, uri, hm, cpuPath, cpux86.FeatureToQEMU(m[2]))
		if want := m[1] == "require"; got != want {
			t.Errorf("live XML says %s %s, QEMU's vCPU has %v", m[1], m[2], got)
		}
		checked++
	}
	if checked == 0 {
		t.Errorf("host-model live <cpu> has no features:\n%s", live)
	}
	// The live CPU is in the status file: a restarted daemon shows it.
	d.crashRestart()
	waitState(t, d, hm, "running (booted)", 30e9)
	if after := liveCPUElem(mustVirsh(t, uri, "dumpxml "+hm)); after != live {
		t.Errorf("live <cpu> after a daemon restart:\n%s\nwant\n%s", after, live)
	}
	mustVirsh(t, uri, "destroy "+hm)

	// QEMU added features to a qemu64 CPU: migratable XML and the save
	// image keep the CPU it was started with, the restored guest's live
	// CPU is QEMU's again.
	seq := func(u, name, path string) string {
		img := filepath.Join(dir, name+".save")
		defer os.Remove(img)
		var b strings.Builder
		mustVirsh(t, u, "create "+path)
		b.WriteString(liveCPUElem(mustVirsh(t, u, "dumpxml --migratable "+name)))
		mustVirsh(t, u, "save "+name+" "+img)
		b.WriteString(liveCPUElem(mustVirsh(t, u, "save-image-dumpxml "+img)))
		mustVirsh(t, u, "restore "+img)
		b.WriteString(liveCPUElem(mustVirsh(t, u, "dumpxml "+name)))
		b.WriteString(liveCPUElem(mustVirsh(t, u, "dumpxml --migratable "+name)))
		mustVirsh(t, u, "destroy "+name)
		return b.String()
	}
	q64 := cpuGuestXML(t, dir, "gvcpu-q64save", "qemu", "<cpu mode='custom' match='exact'><model>qemu64</model></cpu>")
	got := seq(uri, "gvcpu-q64save", q64)
	orig := "  <cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n  </cpu>\n"
	updated := "  <cpu mode='custom' match='exact' check='full'>\n    <model fallback='forbid'>qemu64</model>\n" +
		"    <feature policy='require' name='hypervisor'/>\n    <feature policy='require' name='lahf_lm'/>\n  </cpu>\n"
	if want := orig + orig + updated + orig; got != want {
		t.Errorf("migratable / save image / restored / migratable <cpu>:\n%s\nwant\n%s", got, want)
	}
	if lv {
		if lgot := seq(libvirtdURI, "gvcpu-q64save", q64); lgot != got {
			t.Errorf("save sequence: govirtd\n%s--- libvirtd\n%s", got, lgot)
		}
	}

	// A persistent guest keeps host-model in its definition.
	path := cpuGuestXML(t, dir, "gvcpu-persist", "qemu", "<cpu mode='host-model'/>")
	mustVirsh(t, uri, "define "+path)
	mustVirsh(t, uri, "start gvcpu-persist")
	if got := liveCPUElem(mustVirsh(t, uri, "dumpxml gvcpu-persist")); !strings.Contains(got, "mode='custom'") {
		t.Errorf("running host-model guest:\n%s", got)
	}
	want := "  <cpu mode='host-model' check='partial'/>\n"
	if got := liveCPUElem(mustVirsh(t, uri, "dumpxml --inactive gvcpu-persist")); got != want {
		t.Errorf("inactive definition while running: %q, want %q", got, want)
	}
	mustVirsh(t, uri, "destroy gvcpu-persist")
	if got := liveCPUElem(mustVirsh(t, uri, "dumpxml gvcpu-persist")); got != want {
		t.Errorf("definition after destroy: %q, want %q", got, want)
	}
	// dumpxml --update-cpu of the inactive definition: the host-model
	// CPU as a start would name it, fallback and check untouched.
	upd := liveCPUElem(mustVirsh(t, uri, "dumpxml --update-cpu gvcpu-persist"))
	for _, w := range []string{"<cpu mode='custom' match='exact' check='partial'>", "<model fallback='allow'>", "<vendor>"} {
		if !strings.Contains(upd, w) {
			t.Errorf("dumpxml --update-cpu lacks %q:\n%s", w, upd)
		}
	}
	if lv {
		mustVirsh(t, libvirtdURI, "define "+path)
		lupd := liveCPUElem(mustVirsh(t, libvirtdURI, "dumpxml --update-cpu gvcpu-persist"))
		virsh(t, libvirtdURI, "undefine", "gvcpu-persist")
		if upd != lupd {
			t.Errorf("dumpxml --update-cpu: govirtd\n%s--- libvirtd\n%s", upd, lupd)
		}
	}
	mustVirsh(t, uri, "undefine gvcpu-persist")
}

// TestNUMAPlacementAutoWithoutNumad defines guests with automatic vCPU
// or memory placement: the definition gets libvirt's numatune defaults,
// and a start fails as Debian's libvirt 9.0 fails without numad. Each
// is compared with libvirtd when it runs here.
func TestNUMAPlacementAutoWithoutNumad(t *testing.T) {
	if _, err := os.Stat("/usr/bin/numad"); err == nil {
		t.Skip("numad is installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	lv := libvirtdUp()
	cases := []struct{ name, part, want string }{
		{"vcpuauto", "<vcpu placement='auto'>1</vcpu>",
			"<vcpu placement='auto'>1</vcpu>\n  <numatune>\n    <memory mode='strict' placement='auto'/>\n  </numatune>\n"},
		{"memauto", "<vcpu>1</vcpu><numatune><memory placement='auto'/></numatune>",
			"<vcpu placement='auto'>1</vcpu>\n  <numatune>\n    <memory mode='strict' placement='auto'/>\n  </numatune>\n"},
		{"interleave", "<vcpu placement='auto'>1</vcpu><numatune><memory mode='interleave'/></numatune>",
			"<vcpu placement='auto'>1</vcpu>\n  <numatune>\n    <memory mode='interleave' placement='auto'/>\n  </numatune>\n"},
		{"cpuset", "<vcpu placement='auto' cpuset='0'>1</vcpu>",
			"<vcpu placement='auto'>1</vcpu>\n  <numatune>\n    <memory mode='strict' placement='auto'/>\n  </numatune>\n"},
		{"pinned", "<vcpu cpuset='0'>1</vcpu><numatune><memory placement='auto'/></numatune>",
			"<vcpu placement='static' cpuset='0'>1</vcpu>\n  <numatune>\n    <memory mode='strict' placement='auto'/>\n  </numatune>\n"},
		{"static", "<vcpu>1</vcpu><numatune><memory mode='strict' placement='static' nodeset='0'/></numatune>", ""},
	}
	section := regexp.MustCompile(`(?s)  <vcpu.*?\n  <os>`)
	const numadErr = "error: Failed to start domain '%s'\nerror: operation failed: Failed to query numad for the advisory nodeset\n"
	for _, c := range cases {
		name := "gvnuma-" + c.name
		path := cpuGuestXML(t, dir, name, "qemu", c.part)
		run := func(u string) (xml, errOut string, rc int) {
			mustVirsh(t, u, "define "+path)
			defer virsh(t, u, "undefine", name)
			xml = strings.TrimSuffix(section.FindString(mustVirsh(t, u, "dumpxml "+name)), "  <os>")
			_, errOut, rc = virsh(t, u, "start", name)
			if rc == 0 {
				virsh(t, u, "destroy", name)
			}
			return
		}
		xml, errOut, rc := run(uri)
		if lv {
			lxml, lerr, lrc := run(libvirtdURI)
			if xml != lxml || errOut != lerr || rc != lrc {
				t.Errorf("%s: govirtd (rc %d):\n%s%s--- libvirtd (rc %d):\n%s%s", c.name, rc, xml, errOut, lrc, lxml, lerr)
			}
		}
		if c.want == "" {
			if rc != 0 {
				t.Errorf("%s: start failed: %s", c.name, errOut)
			}
			continue
		}
		if want := "  " + c.want; xml != want {
			t.Errorf("%s: definition\n%s\nwant\n%s", c.name, xml, want)
		}
		if want := fmt.Sprintf(numadErr, name); rc == 0 || errOut != want {
			t.Errorf("%s: start rc %d, stderr %q; want %q", c.name, rc, errOut, want)
		}
	}
}

// guestCPUErrScript starts each definition file given and prints the
// error code and domain python-libvirt sees (or "started").
const guestCPUErrScript = `import libvirt, sys
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
for f in sys.argv[2:]:
    d = c.defineXML(open(f).read())
    try:
        d.create()
        d.destroy()
        print("started")
    except libvirt.libvirtError as e:
        print(e.get_error_code(), e.get_error_domain())
    d.undefine()
`

// TestGuestCPUErrorCodesPython: the start refusals carry libvirt's error
// codes and domains (CPU incompatible and operation failed from the CPU
// driver, config unsupported from the QEMU driver, operation failed
// with no domain for numad), seen through python-libvirt.
func TestGuestCPUErrorCodesPython(t *testing.T) {
	if _, err := os.Stat("/usr/bin/numad"); err == nil {
		t.Skip("numad is installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	dir := t.TempDir()
	script := filepath.Join(dir, "errs.py")
	if err := os.WriteFile(script, []byte(guestCPUErrScript), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []string{
		cpuGuestXML(t, dir, "gverr-partial", "qemu", "<cpu mode='custom' match='exact' check='partial'><model>Skylake-Client</model></cpu>"),
		cpuGuestXML(t, dir, "gverr-full", "qemu", "<cpu mode='custom' match='exact' check='full'><model>qemu64</model></cpu>"),
		cpuGuestXML(t, dir, "gverr-invtsc", "qemu", "<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='require' name='invtsc'/></cpu>"),
		cpuGuestXML(t, dir, "gverr-unknown", "qemu", "<cpu mode='custom' match='exact'><model>qemu64</model><feature policy='require' name='bogus'/></cpu>"),
		cpuGuestXML(t, dir, "gverr-pvspin", "qemu", "<features><acpi/><pvspinlock state='on'/></features>"),
		cpuGuestXML(t, dir, "gverr-numad", "qemu", "<vcpu placement='auto'>1</vcpu>"),
		cpuGuestXML(t, dir, "gverr-ok", "qemu", "<cpu mode='host-model'/>"),
	}
	got := pythonSlow(t, script, append([]string{d.URI("qemu")}, files...)...)
	want := []string{"91 31", "9 31", "67 10", "67 31", "67 10", "9 0", "started"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("error codes %q, want %q", got, want)
	}
	if libvirtdUp() {
		if lv := pythonSlow(t, script, append([]string{libvirtdURI}, files...)...); strings.Join(lv, "\n") != strings.Join(got, "\n") {
			t.Errorf("error codes: govirtd %q, libvirtd %q", got, lv)
		}
	}
}

// pythonSlow runs a python-libvirt script that starts several QEMUs:
// on a loaded machine that takes longer than pythonStdout allows.
func pythonSlow(t *testing.T, script string, argv ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", append([]string{script}, argv...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s%s", script, argv, err, out, stderr.Bytes())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
