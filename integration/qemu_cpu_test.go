package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The CPU APIs through real virsh: cpu-models, cpu-compare, cpu-baseline,
// hypervisor-cpu-compare/-baseline and the host-model CPU of
// domcapabilities. libvirt's tests/cputestdata (copied into
// internal/cpux86/testdata) give the always-on golden answers; with
// GOVIRT_LIBVIRTD_COMPARE=1 every answer is also checked against
// libvirtd 9.0 on this host (../shared/tools/libvirtd-baseline.sh start),
// including the host-dependent ones.

const cpuTestdata = "../internal/cpux86/testdata"

func libvirtdCompare(t *testing.T) bool {
	t.Helper()
	if os.Getenv("GOVIRT_LIBVIRTD_COMPARE") != "1" {
		return false
	}
	if _, err := os.Stat("/var/run/libvirt/libvirt-sock"); err != nil {
		t.Fatal("GOVIRT_LIBVIRTD_COMPARE=1 but libvirtd is not running (../shared/tools/libvirtd-baseline.sh start)")
	}
	return true
}

// sameAsLibvirtd runs the virsh command against govirtd and libvirtd and
// fails unless stdout, stderr and the exit code agree.
func sameAsLibvirtd(t *testing.T, uri string, args ...string) {
	t.Helper()
	o1, e1, r1 := virsh(t, uri, args...)
	o2, e2, r2 := virsh(t, "qemu:///system", args...)
	if o1 != o2 || e1 != e2 || r1 != r2 {
		t.Errorf("virsh %v:\n--- govirtd (rc %d)\n%s%s--- libvirtd (rc %d)\n%s%s", args, r1, o1, e1, r2, o2, e2)
	}
}

var cpuElem = regexp.MustCompile(`(?s)<cpu[ >].*?</cpu>`)

// cpuFile writes the <cpu> elements of a cputestdata file as virsh reads
// several CPUs: concatenated at the top level.
func cpuFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cpuTestdata, name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(cpuElem.FindAllString(string(data), -1), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// qemuFiltered drops the features libvirt's qemu driver leaves out of a
// baseline (virQEMUCapsCPUFilterFeatures): cputestdata's goldens come from
// the CPU driver alone, which the test driver uses unfiltered.
func qemuFiltered(xml string) string {
	var keep []string
	for _, l := range strings.Split(xml, "\n") {
		if regexp.MustCompile(`name='(cmt|mbm_total|mbm_local|osxsave|ospke)'`).MatchString(l) {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

func golden(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cpuTestdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestCPUModelsVirsh(t *testing.T) {
	d := startDaemon(t)
	for _, drv := range []string{"qemu", "test"} {
		out, _, rc := virsh(t, d.URI(drv), "cpu-models", "x86_64")
		names := strings.Fields(out)
		if rc != 0 || len(names) != 58 || names[0] != "486" || names[57] != "Dhyana" {
			t.Errorf("%s: cpu-models x86_64 rc %d: %v", drv, rc, names)
		}
		_, errOut, rc := virsh(t, d.URI(drv), "cpu-models", "foo")
		if rc == 0 || !strings.Contains(errOut, "invalid argument: cannot find architecture foo") {
			t.Errorf("%s: cpu-models foo: rc %d %s", drv, rc, errOut)
		}
	}
	if libvirtdCompare(t) {
		for _, arch := range []string{"x86_64", "i686", "ppc64", "aarch64", "foo"} {
			sameAsLibvirtd(t, d.URI("qemu"), "cpu-models", arch)
		}
	}
}

func TestCPUBaselineVirsh(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir()
	for _, tc := range []struct{ name, flag, suffix string }{
		{"simple", "", "result"},
		{"simple", "--features", "expanded"},
		{"features", "", "result"},
		{"features", "--features", "expanded"},
		{"Westmere+Nehalem", "", "result"},
		{"Westmere+Nehalem", "--migratable", "migratable"},
		{"no-vendor", "", "result"},
		{"some-vendors", "", "result"},
	} {
		f := cpuFile(t, dir, "x86_64-baseline-"+tc.name+".xml")
		args := []string{"cpu-baseline", f}
		if tc.flag != "" {
			args = []string{"cpu-baseline", tc.flag, f}
		}
		drivers := []string{"qemu"}
		if tc.flag != "--migratable" {
			drivers = append(drivers, "test") // the test driver has no migratable flag
		}
		for _, drv := range drivers {
			out, errOut, rc := virsh(t, d.URI(drv), args...)
			want := golden(t, "x86_64-baseline-"+tc.name+"-"+tc.suffix+".xml")
			if drv == "qemu" {
				want = qemuFiltered(want)
			}
			if rc != 0 || strings.TrimSpace(out) != strings.TrimSpace(want) {
				t.Errorf("%s %v: rc %d %s\n%s\nwant\n%s", drv, args, rc, errOut, out, want)
			}
		}
		if libvirtdCompare(t) {
			sameAsLibvirtd(t, d.URI("qemu"), args...)
		}
	}
	f := cpuFile(t, dir, "x86_64-baseline-incompatible-vendors.xml")
	_, errOut, rc := virsh(t, d.URI("qemu"), "cpu-baseline", f)
	if rc == 0 || !strings.Contains(errOut, "operation failed: CPU vendors do not match") {
		t.Errorf("incompatible vendors: rc %d %s", rc, errOut)
	}
	if libvirtdCompare(t) {
		sameAsLibvirtd(t, d.URI("qemu"), "cpu-baseline", f)
	}
}

func TestCPUCompareVirsh(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	// Every x86_64 host has what a Pentium III had.
	f := filepath.Join(cpuTestdata, "x86_64-pentium3.xml")
	out, _, rc := virsh(t, uri, "cpu-compare", f)
	if rc != 0 || !strings.Contains(out, "Host CPU is a superset of CPU described in") {
		t.Errorf("pentium3: rc %d %s", rc, out)
	}
	_, errOut, rc := virsh(t, uri, "cpu-compare", filepath.Join(cpuTestdata, "x86_64-bogus-model.xml"))
	if rc == 0 || !strings.Contains(errOut, "internal error: Unknown CPU model Bogus") {
		t.Errorf("bogus model: rc %d %s", rc, errOut)
	}
	// libvirt's test driver has no cpu-compare
	_, errOut, rc = virsh(t, d.URI("test"), "cpu-compare", f)
	if rc == 0 || !strings.Contains(errOut, "this function is not supported by the connection driver: virConnectCompareCPU") {
		t.Errorf("test driver: rc %d %s", rc, errOut)
	}
	if !libvirtdCompare(t) {
		return
	}
	files, _ := filepath.Glob(filepath.Join(cpuTestdata, "x86_64-*.xml"))
	for _, f := range files {
		if strings.Contains(f, "baseline") || !strings.HasSuffix(f, "-host.xml") && strings.Contains(f, "cpuid") {
			continue // CPUID dumps are no CPU definitions
		}
		sameAsLibvirtd(t, uri, "cpu-compare", f)
		sameAsLibvirtd(t, uri, "cpu-compare", "--error", f)
	}
}

func TestHypervisorCPUVirsh(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	dir := t.TempDir()
	f := cpuFile(t, dir, "x86_64-baseline-simple.xml")
	out, errOut, rc := virsh(t, uri, "hypervisor-cpu-baseline", f)
	if rc != 0 || !strings.Contains(out, "<model fallback='forbid'>") {
		t.Errorf("hypervisor-cpu-baseline: rc %d %s%s", rc, out, errOut)
	}
	out, errOut, rc = virsh(t, uri, "hypervisor-cpu-compare", filepath.Join(cpuTestdata, "x86_64-pentium3.xml"))
	if rc != 0 || !strings.Contains(out, "CPU provided by hypervisor on the host is a superset of CPU described in") {
		t.Errorf("hypervisor-cpu-compare pentium3: rc %d %s%s", rc, out, errOut)
	}
	if !libvirtdCompare(t) {
		return
	}
	hosts, _ := filepath.Glob(filepath.Join(cpuTestdata, "x86_64-cpuid-*-host.xml"))
	var inputs []string
	for _, n := range []string{"simple", "features", "Westmere+Nehalem", "no-vendor", "some-vendors"} {
		inputs = append(inputs, cpuFile(t, dir, "x86_64-baseline-"+n+".xml"))
	}
	for i := 0; i+1 < len(hosts); i += 2 {
		a, _ := os.ReadFile(hosts[i])
		b, _ := os.ReadFile(hosts[i+1])
		p := filepath.Join(dir, "pair"+filepath.Base(hosts[i]))
		os.WriteFile(p, append(a, b...), 0o644)
		inputs = append(inputs, p)
	}
	inputs = append(inputs, hosts...)
	for _, f := range inputs {
		for _, flag := range []string{"", "--features", "--migratable"} {
			args := []string{"hypervisor-cpu-baseline", f}
			if flag != "" {
				args = []string{"hypervisor-cpu-baseline", flag, f}
			}
			sameAsLibvirtd(t, uri, args...)
		}
		sameAsLibvirtd(t, uri, "cpu-baseline", f)
		sameAsLibvirtd(t, uri, "hypervisor-cpu-compare", f)
		sameAsLibvirtd(t, uri, "hypervisor-cpu-compare", "--virttype", "qemu", f)
	}
}

func TestDomcapsHostModelVirsh(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	hostModel := func(u string, args ...string) string {
		out, errOut, rc := virsh(t, u, append([]string{"domcapabilities"}, args...)...)
		if rc != 0 {
			t.Fatalf("domcapabilities %v: %s", args, errOut)
		}
		i := strings.Index(out, "<mode name='host-model'")
		if i < 0 {
			t.Fatalf("no host-model mode:\n%s", out)
		}
		j := strings.Index(out[i:], "</mode>")
		if j < 0 {
			return out[i : i+strings.Index(out[i:], "\n")]
		}
		return out[i : i+j]
	}
	for _, vt := range []string{"kvm", "qemu"} {
		if _, _, rc := virsh(t, uri, "domcapabilities", "--virttype", vt); rc != 0 {
			continue // no KVM here
		}
		got := hostModel(uri, "--virttype", vt)
		if !strings.Contains(got, "supported='yes'") || !strings.Contains(got, "<model fallback='forbid'>") || !strings.Contains(got, "<vendor>") {
			t.Errorf("%s host-model:\n%s", vt, got)
		}
		if libvirtdCompare(t) {
			if want := hostModel("qemu:///system", "--virttype", vt); got != want {
				t.Errorf("%s host-model differs from libvirtd:\n%s\n--- libvirtd\n%s", vt, got, want)
			}
		}
	}
}

// The host CPU of the capabilities is named as libvirt names it, and
// comparing it with the host is "identical".
func TestCapabilitiesHostCPUVirsh(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	out, _, rc := virsh(t, uri, "capabilities")
	if rc != 0 || !regexp.MustCompile(`<host>(?s:.)*<cpu>\s*<arch>x86_64</arch>\s*<model>[^<]+</model>\s*<vendor>`).MatchString(out) {
		t.Fatalf("capabilities host cpu:\n%s", out)
	}
	f := filepath.Join(t.TempDir(), "caps.xml")
	os.WriteFile(f, []byte(out), 0o644)
	cmp, errOut, rc := virsh(t, uri, "cpu-compare", f)
	if rc != 0 || !strings.Contains(cmp, "is identical to host CPU") {
		t.Errorf("cpu-compare of the capabilities: rc %d %s%s", rc, cmp, errOut)
	}
	if libvirtdCompare(t) {
		sameAsLibvirtd(t, uri, "cpu-compare", f)
		lv, _, _ := virsh(t, "qemu:///system", "capabilities")
		model := regexp.MustCompile(`<host>(?s:.)*?<cpu>\s*<arch>x86_64</arch>\s*(<model>[^<]+</model>\s*<vendor>[^<]+</vendor>)`)
		if g, w := model.FindStringSubmatch(out), model.FindStringSubmatch(lv); g == nil || w == nil || g[1] != w[1] {
			t.Errorf("host CPU model/vendor %v, libvirtd %v", g, w)
		}
	}
}
