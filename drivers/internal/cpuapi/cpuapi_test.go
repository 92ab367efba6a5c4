package cpuapi

import (
	"strings"
	"testing"

	"govirt/virerr"
)

func code(err error) virerr.Code { return virerr.CodeOf(err) }

func TestModelNames(t *testing.T) {
	if m, err := ModelNames(virerr.FromQemu, "f", "x86_64", 0); err != nil || len(m) != 58 {
		t.Fatalf("x86_64: %d %v", len(m), err)
	}
	if m, err := ModelNames(virerr.FromQemu, "f", "aarch64", 0); err != nil || len(m) != 0 {
		t.Fatalf("aarch64: %v %v", m, err)
	}
	if _, err := ModelNames(virerr.FromQemu, "f", "foo", 0); code(err) != virerr.ErrInvalidArg || !strings.Contains(err.Error(), "cannot find architecture foo") {
		t.Fatalf("foo: %v", err)
	}
	if _, err := ModelNames(virerr.FromQemu, "f", "x86_64", 1); code(err) != virerr.ErrInvalidArg {
		t.Fatalf("flags: %v", err)
	}
	if _, err := ModelNames(virerr.FromQemu, "f", "mips", 0); code(err) != virerr.ErrNoSupport {
		t.Fatalf("mips: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		xml  string
		code virerr.Code
		msg  string
	}{
		{"", virerr.ErrInvalidArg, "missing CPU definition"},
		{"<domain/>", virerr.ErrXMLError, "expected 'cpu' element"},
		{"<cpu><arch>x86_64</arch></cpu>", virerr.ErrXMLError, "Missing CPU model name"},
		{"<cpu><arch>foo</arch><model>Penryn</model></cpu>", virerr.ErrConfigUnsupported, "Unknown architecture foo"},
		{"<cpu mode='bogus'/>", virerr.ErrConfigUnsupported, "Invalid mode attribute 'bogus'"},
		{"<cpu><model>Penryn</model><feature name='sse'/><feature name='sse'/></cpu>", virerr.ErrXMLError, "specified more than once"},
		{"<cpu><model>Penryn</model><feature policy='x' name='sse'/></cpu>", virerr.ErrConfigUnsupported, "Invalid CPU feature policy"},
		{"<cpu><vendor>Intel</vendor></cpu>", virerr.ErrXMLError, "CPU vendor specified without CPU model"},
		{"<cpu", virerr.ErrXMLError, ""},
	} {
		_, err := Parse(tc.xml, "")
		if code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: %v (code %d)", tc.xml, err, code(err))
		}
	}
}

func TestBaselineErrors(t *testing.T) {
	if _, err := Baseline(virerr.FromTest, "f", nil, 0, false); code(err) != virerr.ErrInvalidArg {
		t.Errorf("no cpus: %v", err)
	}
	if _, err := Baseline(virerr.FromTest, "f", []string{"<cpu><arch>x86_64</arch><model>Penryn</model></cpu>"}, 2, false); code(err) != virerr.ErrInvalidArg {
		t.Errorf("migratable on the test driver: %v", err)
	}
	if _, err := Baseline(virerr.FromQemu, "f", []string{"<cpu><model>Penryn</model></cpu>"}, 0, true); code(err) != virerr.ErrXMLError || !strings.Contains(err.Error(), "Missing CPU architecture") {
		t.Errorf("guest cpu: %v", err)
	}
	out, err := Baseline(virerr.FromQemu, "f", []string{"<cpu><arch>x86_64</arch><model>Penryn</model></cpu>", "<cpu><arch>x86_64</arch><model>Westmere</model></cpu>"}, 0, true)
	if err != nil || !strings.Contains(out, "<model fallback='allow'>Penryn</model>") {
		t.Errorf("Penryn+Westmere: %v\n%s", err, out)
	}
}

func TestCompareUnknownHost(t *testing.T) {
	r, err := Compare(virerr.FromQemu, "f", nil, "<cpu><model>Penryn</model></cpu>", CompareFailIncompatible)
	if r != -1 || code(err) != virerr.ErrCPUIncompatible {
		t.Errorf("%d %v", r, err)
	}
	r, err = Compare(virerr.FromQemu, "f", nil, "<cpu><model>Penryn</model></cpu>", 0)
	if r != 0 || err != nil {
		t.Errorf("%d %v", r, err)
	}
}
