package cpuapi

import (
	"os"
	"path/filepath"
	"testing"

	"govirt/virerr"
)

// FuzzCPUXML feeds client CPU XML (any client may send it with
// cpu-compare and cpu-baseline) to the parser, the comparison against a
// fixed host and the baseline: errors are fine, panics are not.
func FuzzCPUXML(f *testing.F) {
	dir := filepath.Join("..", "..", "..", "internal", "cpux86", "testdata")
	files, _ := filepath.Glob(filepath.Join(dir, "x86_64-*.xml"))
	for i, p := range files {
		if i >= 12 {
			break
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b), "<cpu><arch>x86_64</arch><model>Westmere</model></cpu>", uint32(0))
		}
	}
	f.Add("<cpu mode='custom'><model fallback='forbid'>Skylake-Client</model><feature policy='require' name='vmx'/></cpu>", "<cpu/>", uint32(3))
	f.Add("<cpu><vendor>Intel</vendor><feature name='x'/><topology sockets='0' cores='0' threads='0'/></cpu>", "", uint32(1))
	hostXML, err := os.ReadFile(filepath.Join(dir, "x86_64-cpuid-Core-i7-8700-host.xml"))
	if err != nil {
		f.Skip("no host CPU test data")
	}
	host, err := Parse(string(hostXML), "host")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string, flags uint32) {
		if len(a) > 1<<16 || len(b) > 1<<16 {
			return
		}
		Parse(a, "guest")
		Parse(a, "host")
		Compare(virerr.FromCPU, "virConnectCompareCPU", host, a, flags)
		Baseline(virerr.FromCPU, "virConnectBaselineCPU", []string{a, b}, flags, false)
	})
}
