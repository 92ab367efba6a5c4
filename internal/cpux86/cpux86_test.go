package cpux86

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func mustMap(t *testing.T) *Map {
	t.Helper()
	m, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestModelNames(t *testing.T) {
	names := mustMap(t).ModelNames()
	if len(names) != 58 || names[0] != "486" || names[len(names)-1] != "Dhyana" {
		t.Fatalf("models: %d %v", len(names), names)
	}
}

// The host CPU libvirt decodes from each CPUID dump.
func TestDecodeHost(t *testing.T) {
	m := mustMap(t)
	files, _ := filepath.Glob("testdata/x86_64-cpuid-*-host.xml")
	if len(files) < 5 {
		t.Fatal("no host files")
	}
	for _, hf := range files {
		name := strings.TrimSuffix(filepath.Base(hf), "-host.xml")
		t.Run(name, func(t *testing.T) {
			data, err := ParseCPUData(read(t, name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			cpu, err := m.Decode(TypeHost, data, nil, nil, false, false)
			if err != nil {
				t.Fatal(err)
			}
			cpu.Arch = "x86_64"
			if got, want := cpu.FormatHost(), read(t, filepath.Base(hf)); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

var cpuRe = regexp.MustCompile(`(?s)<cpu[ >].*?</cpu>`)

func TestBaseline(t *testing.T) {
	m := mustMap(t)
	for _, tc := range []struct {
		name, suffix string
		expand, migr bool
		fail         bool
	}{
		{name: "incompatible-vendors", fail: true},
		{name: "no-vendor", suffix: "result"},
		{name: "some-vendors", suffix: "result"},
		{name: "simple", suffix: "result"},
		{name: "simple", suffix: "expanded", expand: true},
		{name: "features", suffix: "result"},
		{name: "features", suffix: "expanded", expand: true},
		{name: "Westmere+Nehalem", suffix: "result"},
		{name: "Westmere+Nehalem", suffix: "migratable", migr: true},
	} {
		t.Run(tc.name+"-"+tc.suffix, func(t *testing.T) {
			var cpus []*CPUDef
			for _, s := range cpuRe.FindAllString(read(t, "x86_64-baseline-"+tc.name+".xml"), -1) {
				c, err := ParseXML(s, TypeHost)
				if err != nil {
					t.Fatal(err)
				}
				cpus = append(cpus, c)
			}
			b, err := m.Baseline(cpus, nil, nil, tc.migr)
			if tc.fail {
				if err == nil {
					t.Fatal("baseline succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.expand {
				if err := m.ExpandFeatures(b); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := b.FormatGuest(""), read(t, "x86_64-baseline-"+tc.name+"-"+tc.suffix+".xml"); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	m := mustMap(t)
	for _, tc := range []struct {
		host, cpu string
		want      int
	}{
		{"host", "host", CompareIdentical},
		{"host", "host-better", CompareIncompatible},
		{"host", "host-worse", CompareSuperset},
		{"host", "host-amd-fake", CompareIncompatible},
		{"host", "host-no-vendor", CompareIdentical},
		{"host-no-vendor", "host", CompareIncompatible},
		{"host", "bogus-model", CompareError},
		{"host", "bogus-feature", CompareError},
		{"host", "min", CompareSuperset},
		{"host", "pentium3", CompareSuperset},
		{"host", "exact", CompareSuperset},
		{"host", "exact-forbid", CompareIncompatible},
		{"host", "exact-forbid-extra", CompareSuperset},
		{"host", "exact-disable", CompareSuperset},
		{"host", "exact-disable2", CompareSuperset},
		{"host", "exact-disable-extra", CompareSuperset},
		{"host", "exact-require", CompareSuperset},
		{"host", "exact-require-extra", CompareIncompatible},
		{"host", "exact-force", CompareSuperset},
		{"host", "strict", CompareIncompatible},
		{"host", "strict-full", CompareIdentical},
		{"host", "strict-disable", CompareIdentical},
		{"host", "strict-force-extra", CompareIdentical},
		{"host", "guest", CompareSuperset},
	} {
		t.Run(tc.host+"/"+tc.cpu, func(t *testing.T) {
			host, err := ParseXML(read(t, "x86_64-"+tc.host+".xml"), TypeHost)
			if err != nil {
				t.Fatal(err)
			}
			cpu, err := ParseXML(read(t, "x86_64-"+tc.cpu+".xml"), "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Compare(host, cpu, false)
			if got != tc.want {
				t.Errorf("got %d (%v), want %d", got, err, tc.want)
			}
		})
	}
}
