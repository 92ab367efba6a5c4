package integration

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCPUAPIsSameAsLibvirtd asks govirtd and the libvirtd 9.0 running on
// this host the same CPU questions through virsh, about host CPUs of
// libvirt's tests/cputestdata (Intel and AMD, old and new): cpu-compare
// (with and without --error), cpu-baseline (plain, --features), a
// baseline of two hosts together, and hypervisor-cpu-baseline against
// QEMU's TCG CPU models (plain and --features). stdout, stderr and the
// exit code must agree. Skipped when libvirtd is not reachable; the
// GOVIRT_LIBVIRTD_COMPARE=1 tests in qemu_cpu_test.go cover more inputs.
func TestCPUAPIsSameAsLibvirtd(t *testing.T) {
	if !libvirtdUp() {
		t.Skip("libvirtd not reachable on /var/run/libvirt/libvirt-sock")
	}
	data := os.Getenv("GOVIRT_CPUTESTDATA")
	if data == "" {
		data = "/work/lvsrc/libvirt-9.0.0/tests/cputestdata"
	}
	hosts := []string{
		"x86_64-cpuid-Core-i7-2600-host.xml",
		"x86_64-cpuid-Xeon-E5-2650-v4-host.xml",
		"x86_64-cpuid-Ice-Lake-Server-host.xml",
		"x86_64-cpuid-EPYC-7502-32-Core-host.xml",
		"x86_64-cpuid-Ryzen-9-3900X-12-Core-host.xml",
		"x86_64-cpuid-Core2-E6850-host.xml",
		"x86_64-cpuid-Opteron-6282-host.xml",
	}
	if _, err := os.Stat(filepath.Join(data, hosts[0])); err != nil {
		t.Skipf("no libvirt cputestdata at %s (set GOVIRT_CPUTESTDATA)", data)
	}
	d := startDaemon(t)
	uri := d.URI("qemu")
	same := func(args ...string) {
		t.Helper()
		o1, e1, r1 := virsh(t, uri, args...)
		o2, e2, r2 := virsh(t, libvirtdURI, args...)
		if o1 != o2 || e1 != e2 || r1 != r2 {
			t.Errorf("virsh %v:\n--- govirtd (rc %d)\n%s%s--- libvirtd (rc %d)\n%s%s", args, r1, o1, e1, r2, o2, e2)
		}
	}
	dir := t.TempDir()
	for _, h := range hosts {
		f := filepath.Join(data, h)
		same("cpu-compare", f)
		same("cpu-compare", "--error", f)
		same("cpu-baseline", f)
		same("cpu-baseline", "--features", f)
		same("hypervisor-cpu-baseline", "--virttype", "qemu", f)
		same("hypervisor-cpu-baseline", "--virttype", "qemu", "--features", f)
	}
	// Two hosts together: the baseline is what both have.
	for i := 0; i+1 < len(hosts); i += 2 {
		a, _ := os.ReadFile(filepath.Join(data, hosts[i]))
		b, _ := os.ReadFile(filepath.Join(data, hosts[i+1]))
		p := filepath.Join(dir, "pair-"+hosts[i])
		if err := os.WriteFile(p, append(append(a, '\n'), b...), 0o644); err != nil {
			t.Fatal(err)
		}
		same("cpu-baseline", p)
		same("hypervisor-cpu-baseline", "--virttype", "qemu", p)
	}
}
