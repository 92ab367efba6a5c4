package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// The CPU audit of issue 13: definitions a libvirt user writes, defined
// through virsh on govirtd and (when it runs here) on libvirtd 9.0 with
// the same XML; the define's outcome and `dumpxml --inactive` must be
// libvirt's. Without libvirtd each case still checks what libvirt gives
// (its error text, or lines of its XML, recorded from libvirtd 9.0).

type cpuAuditCase struct {
	name string
	pre  string // before <os>: <vcpu>, <cputune>, ...
	cpu  string // after <os>
	// without libvirtd: the define's error (substring) or lines the
	// inactive XML must contain
	wantErr string
	want    []string
}

var cpuAuditCases = []cpuAuditCase{
	// a <cpu> naming a model is custom/exact with fallback allow, and its
	// features without a policy are required
	{name: "nomode", pre: "<vcpu>1</vcpu>", cpu: "<cpu><model>qemu64</model><vendor>Intel</vendor><feature name='vmx'/></cpu>",
		want: []string{"<cpu mode='custom' match='exact' check='none'>", "<model fallback='allow'>qemu64</model>", "<feature policy='require' name='vmx'/>"}},
	{name: "minimum", pre: "<vcpu>1</vcpu>", cpu: "<cpu match='minimum'><model>qemu64</model></cpu>",
		want: []string{"<cpu mode='custom' match='minimum' check='none'>", "<model fallback='allow'>qemu64</model>"}},
	{name: "custom", pre: "<vcpu>1</vcpu>", cpu: "<cpu mode='custom'><model>Haswell</model></cpu>",
		want: []string{"<cpu mode='custom' match='exact' check='none'>", "<model fallback='allow'>Haswell</model>"}},
	{name: "hostmodelmodel", pre: "<vcpu>1</vcpu>", cpu: "<cpu mode='host-model'><model>Haswell</model></cpu>",
		want: []string{"<cpu mode='host-model' check='partial'>", "<model fallback='allow'>Haswell</model>"}},
	{name: "passthroughoff", pre: "<vcpu>1</vcpu>", cpu: "<cpu mode='host-passthrough' migratable='off' check='none'/>",
		want: []string{"<cpu mode='host-passthrough' check='none' migratable='off'/>"}},
	// guest NUMA cells: ids, canonical cpus, KiB, distances completed
	{name: "numa", pre: "<vcpu>4</vcpu>", cpu: "<cpu><topology sockets='2' dies='1' cores='2' threads='1'/><numa>" +
		"<cell cpus='0-1' memory='128' unit='MiB' discard='yes' memAccess='shared'/>" +
		"<cell id='1' memory='131072' cpus='2,3'><distances><sibling id='0' value='21'/><sibling id='1' value='10'/></distances></cell></numa></cpu>",
		want: []string{"<cell id='0' cpus='0-1' memory='131072' unit='KiB' memAccess='shared' discard='yes'>",
			"<sibling id='0' value='10'/>", "<sibling id='1' value='21'/>", "<cell id='1' cpus='2-3' memory='131072' unit='KiB'>"}},
	// memory placed automatically places the vCPUs automatically, even
	// over placement='static', unless something is pinned
	{name: "numatuneauto", pre: "<vcpu placement='static'>2</vcpu><numatune><memory mode='strict' placement='auto'/></numatune>",
		want: []string{"<vcpu placement='auto'>2</vcpu>"}},
	{name: "numatuneautopinned", pre: "<vcpu placement='static'>2</vcpu><cputune><vcpupin vcpu='0' cpuset='0'/></cputune><numatune><memory mode='strict' placement='auto'/></numatune>",
		want: []string{"<vcpu placement='static'>2</vcpu>"}},
	// refusals libvirt makes at define
	{name: "topology", pre: "<vcpu>1</vcpu>", cpu: "<cpu><model>qemu64</model><topology sockets='1' cores='2' threads='1'/></cpu>",
		wantErr: "unsupported configuration: CPU topology doesn't match maximum vcpu count"},
	{name: "maxcpus", pre: "<vcpu>300</vcpu>", wantErr: "Maximum CPUs greater than specified machine type limit 288"},
	{name: "offline0", pre: "<vcpu current='0'>4</vcpu>", wantErr: "vcpu 0 can't be offline"},
	{name: "nothreads", pre: "<vcpu>2</vcpu>", cpu: "<cpu><topology sockets='1' cores='2'/></cpu>",
		wantErr: "XML error: Missing required attribute 'threads' in element 'topology'"},
	{name: "zerosockets", pre: "<vcpu>2</vcpu>", cpu: "<cpu><topology sockets='0' cores='2' threads='1'/></cpu>",
		wantErr: "Invalid value for attribute 'sockets' in element 'topology': Zero is not permitted"},
	{name: "featnomodel", pre: "<vcpu>1</vcpu>", cpu: "<cpu><feature name='vmx'/></cpu>",
		wantErr: "XML error: Non-empty feature list specified without CPU model"},
	{name: "vendornomodel", pre: "<vcpu>1</vcpu>", cpu: "<cpu><vendor>Intel</vendor></cpu>",
		wantErr: "XML error: CPU vendor specified without CPU model"},
	{name: "hmmigratable", pre: "<vcpu>1</vcpu>", cpu: "<cpu mode='host-model' migratable='on'/>",
		wantErr: "Attribute migratable is only allowed for 'host-passthrough' / 'maximum' CPU mode"},
	{name: "dupfeature", pre: "<vcpu>1</vcpu>", cpu: "<cpu><model>qemu64</model><feature name='vmx'/><feature name='vmx'/></cpu>",
		wantErr: "CPU feature 'vmx' specified more than once"},
	{name: "vendorid", pre: "<vcpu>1</vcpu>", cpu: "<cpu><model vendor_id='abc'>qemu64</model></cpu>",
		wantErr: "vendor_id must be exactly 12 characters long"},
	{name: "cachebogus", pre: "<vcpu>1</vcpu>", cpu: "<cpu><cache mode='bogus'/></cpu>",
		wantErr: "Invalid value for attribute 'mode' in element 'cache': 'bogus'."},
	{name: "cachepass", pre: "<vcpu>1</vcpu>", cpu: "<cpu><model>qemu64</model><cache level='3' mode='passthrough'/></cpu>",
		wantErr: "CPU cache mode 'passthrough' can only be used with 'host-passthrough' / 'maximum' CPUs"},
	{name: "cachelevel", pre: "<vcpu>1</vcpu>", cpu: "<cpu><cache level='2' mode='emulate'/></cpu>",
		wantErr: "CPU cache mode 'emulate' can only be used with level='3'"},
	{name: "physbits", pre: "<vcpu>1</vcpu>", cpu: "<cpu mode='host-passthrough'><maxphysaddr mode='passthrough' bits='42'/></cpu>",
		wantErr: "CPU maximum physical address bits number specification cannot be used with mode='passthrough'"},
	{name: "cachetune", pre: "<vcpu>2</vcpu><cputune><cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune></cputune>",
		wantErr: "unsupported configuration: cachetune is only supported for KVM domains"},
	{name: "checkbogus", pre: "<vcpu>1</vcpu>", cpu: "<cpu check='bogus'><model>qemu64</model></cpu>",
		wantErr: "Invalid value for attribute 'check' in element 'cpu': 'bogus'."},
}

var auditUUIDLine = regexp.MustCompile(`(?m)^  <uuid>.*</uuid>\n`)

// TestCPUAuditDefineVirsh defines each case on govirtd (and libvirtd).
func TestCPUAuditDefineVirsh(t *testing.T) {
	if _, err := os.Stat("/usr/bin/qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	d := startDaemon(t)
	uri := d.URI("qemu")
	withLibvirtd := libvirtdUp()
	dir := t.TempDir()
	for i, c := range cpuAuditCases {
		name := "gvaudit-" + c.name
		xml := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <uuid>c9a0d1e2-0000-4000-8000-%012d</uuid>
  <memory unit='MiB'>256</memory>
  %s
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  %s
</domain>
`, name, i, c.pre, c.cpu)
		p := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(p, []byte(xml), 0o644); err != nil {
			t.Fatal(err)
		}
		_, e1, r1 := virsh(t, uri, "define", p)
		x1, _, _ := virsh(t, uri, "dumpxml", "--inactive", name)
		if r1 == 0 {
			virsh(t, uri, "undefine", name)
		}
		if c.wantErr != "" && (r1 == 0 || !strings.Contains(e1, c.wantErr)) {
			t.Errorf("%s: define: rc %d %q, want error %q", c.name, r1, e1, c.wantErr)
		}
		if c.wantErr == "" && r1 != 0 {
			t.Errorf("%s: define failed: %s", c.name, e1)
		}
		for _, w := range c.want {
			if !strings.Contains(x1, w) {
				t.Errorf("%s: dumpxml --inactive lacks %q:\n%s", c.name, w, x1)
			}
		}
		if !withLibvirtd {
			continue
		}
		_, e2, r2 := virsh(t, libvirtdURI, "define", p)
		x2, _, _ := virsh(t, libvirtdURI, "dumpxml", "--inactive", name)
		if r2 == 0 {
			virsh(t, libvirtdURI, "undefine", name)
		}
		if r1 != r2 || e1 != e2 {
			t.Errorf("%s: define: govirtd rc %d %q, libvirtd rc %d %q", c.name, r1, e1, r2, e2)
		}
		if r1 == 0 && r2 == 0 && auditUUIDLine.ReplaceAllString(x1, "") != auditUUIDLine.ReplaceAllString(x2, "") {
			t.Errorf("%s: dumpxml --inactive differs:\n--- govirtd\n%s--- libvirtd\n%s", c.name, x1, x2)
		}
	}
}

// TestCPUAuditLiveVirsh starts a NUMA guest with vCPUs below the maximum
// and checks what a running guest answers as libvirt does: dumpxml
// --migratable is the migratable copy (no id, aliases, PS/2 keyboard or
// default audio), vcpucount --guest on an inactive guest and without an
// agent fail with libvirt's errors, the live NUMA cells keep libvirt's
// form.
func TestCPUAuditLiveVirsh(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	dir := t.TempDir()
	p := cpuGuestXML(t, dir, "gvaudit-live", "qemu", "<vcpu current='2'>4</vcpu>\n  "+
		"<cpu><topology sockets='2' dies='1' cores='2' threads='1'/><numa>"+
		"<cell cpus='0-1' memory='64' unit='MiB'/><cell cpus='2,3' memory='64' unit='MiB'><distances><sibling id='0' value='20'/></distances></cell>"+
		"</numa></cpu>")
	mustVirsh(t, uri, "define "+p)
	defer virsh(t, uri, "undefine", "gvaudit-live")
	_, e, rc := virsh(t, uri, "vcpucount", "--guest", "gvaudit-live")
	if rc == 0 || !strings.Contains(e, "invalid argument: vCPU count provided by the guest agent can only be requested for live domains") {
		t.Errorf("vcpucount --guest of an inactive guest: rc %d %q", rc, e)
	}
	_, e, rc = virsh(t, uri, "vcpucount", "--live", "gvaudit-live")
	if rc == 0 || !strings.Contains(e, "domain is not running") {
		t.Errorf("vcpucount --live of an inactive guest: rc %d %q", rc, e)
	}
	mustVirsh(t, uri, "start gvaudit-live")
	defer virsh(t, uri, "destroy", "gvaudit-live")
	_, e, rc = virsh(t, uri, "vcpucount", "--guest", "gvaudit-live")
	if rc == 0 || !strings.Contains(e, "QEMU guest agent is not configured") {
		t.Errorf("vcpucount --guest without agent: rc %d %q", rc, e)
	}
	live := mustVirsh(t, uri, "dumpxml gvaudit-live")
	mig := mustVirsh(t, uri, "dumpxml --migratable gvaudit-live")
	for _, w := range []string{"<cell id='0' cpus='0-1' memory='65536' unit='KiB'>", "<sibling id='1' value='20'/>",
		"<cell id='1' cpus='2-3' memory='65536' unit='KiB'>"} {
		if !strings.Contains(live, w) {
			t.Errorf("live XML lacks %q:\n%s", w, live)
		}
	}
	if !strings.Contains(live, "<alias name=") || !strings.Contains(live, "<input type='keyboard' bus='ps2'") {
		t.Errorf("live XML lacks aliases or the PS/2 keyboard:\n%s", live)
	}
	if !strings.HasPrefix(mig, "<domain type='qemu'>\n") {
		t.Errorf("dumpxml --migratable has an id:\n%s", mig)
	}
	for _, bad := range []string{"<alias name=", "<input type='keyboard' bus='ps2'", "<audio id='1' type='none'/>"} {
		if strings.Contains(mig, bad) {
			t.Errorf("dumpxml --migratable has %q:\n%s", bad, mig)
		}
	}
}

var (
	capsHostCPU   = regexp.MustCompile(`(?s)<host>.*?(<cpu>.*?</cpu>)`)
	capsHostCache = regexp.MustCompile(`(?s)\n    <cache>.*?</cache>\n`)
)

// TestCPUAuditCapabilitiesVirsh: the host <cpu> of the capabilities has
// libvirt's microcode, signature, TSC counter and maxphysaddr, and the
// host's level-3 caches are listed, both as libvirtd shows them here.
func TestCPUAuditCapabilitiesVirsh(t *testing.T) {
	d := startDaemon(t)
	out := mustVirsh(t, d.URI("qemu"), "capabilities")
	cpu := capsHostCPU.FindStringSubmatch(out)
	if cpu == nil {
		t.Fatalf("no host cpu:\n%s", out)
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil && strings.Contains(string(b), "address sizes") &&
		!strings.Contains(cpu[1], "<maxphysaddr mode='emulate' bits='") {
		t.Errorf("host cpu without maxphysaddr:\n%s", cpu[1])
	}
	if _, err := os.Stat("/sys/devices/system/cpu/cpu0/cache/index3/id"); err == nil && capsHostCache.FindString(out) == "" {
		t.Errorf("no host <cache> though cpu0 has a level 3 cache:\n%s", out)
	}
	if !libvirtdUp() {
		return
	}
	lv := mustVirsh(t, libvirtdURI, "capabilities")
	if w := capsHostCPU.FindStringSubmatch(lv); w == nil || w[1] != cpu[1] {
		t.Errorf("host cpu:\n--- govirtd\n%s\n--- libvirtd\n%v", cpu[1], w)
	}
	if g, w := capsHostCache.FindString(out), capsHostCache.FindString(lv); g != w {
		t.Errorf("host cache:\n--- govirtd\n%s--- libvirtd\n%s", g, w)
	}
}

// TestCPUAuditHotplugPinVirsh: a vCPU plugged with setvcpus --live runs
// where its <vcpupin> (or <vcpu cpuset>) says, in its thread's affinity
// and its cgroup, and vcpuinfo shows each vCPU thread's real affinity,
// as libvirtd does (compared when it runs here).
func TestCPUAuditHotplugPinVirsh(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two host CPUs")
	}
	part := "<vcpu placement='static' cpuset='1' current='1'>3</vcpu>\n  <cputune><vcpupin vcpu='2' cpuset='0'/></cputune>"
	run := func(uri string) string {
		dir := t.TempDir()
		p := cpuGuestXML(t, dir, "gvaudit-hp", "qemu", part)
		mustVirsh(t, uri, "create "+p)
		defer virsh(t, uri, "destroy", "gvaudit-hp")
		mustVirsh(t, uri, "setvcpus gvaudit-hp 3 --live")
		var aff []string
		for _, l := range strings.Split(mustVirsh(t, uri, "vcpuinfo gvaudit-hp"), "\n") {
			if strings.HasPrefix(l, "CPU Affinity:") {
				aff = append(aff, strings.TrimSpace(strings.TrimPrefix(l, "CPU Affinity:")))
			}
		}
		return strings.Join(aff, " ")
	}
	d := startDaemon(t)
	got := run(d.URI("qemu"))
	rest := strings.Repeat("-", runtime.NumCPU()-2)
	want := "-y" + rest + " -y" + rest + " y-" + rest
	if got != want {
		t.Errorf("vcpuinfo affinities after the hotplug: %q, want %q", got, want)
	}
	if libvirtdUp() {
		if lv := run(libvirtdURI); lv != got {
			t.Errorf("vcpuinfo affinities: govirtd %q, libvirtd %q", got, lv)
		}
	}
}

// TestCPUAuditBaselineOtherArchs: cpu-baseline of ppc64 and ARM host CPUs
// as libvirt's ppc64 and ARM CPU drivers compute it (the model of all of
// them, or their errors); s390 has no baseline.
func TestCPUAuditBaselineOtherArchs(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	dir := t.TempDir()
	cases := []struct{ name, xml, want string }{
		{"ppc-same", "<cpu><arch>ppc64</arch><model>POWER8</model><vendor>IBM</vendor></cpu>\n<cpu><arch>ppc64</arch><model>POWER8</model></cpu>",
			"<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>POWER8</model>\n</cpu>\n"},
		{"ppc-differ", "<cpu><arch>ppc64</arch><model>POWER8</model></cpu>\n<cpu><arch>ppc64</arch><model>POWER9</model></cpu>",
			"error: operation failed: CPUs are incompatible"},
		{"ppc-unknown", "<cpu><arch>ppc64</arch><model>bogus</model></cpu>", "error: internal error: Unknown CPU model bogus"},
		{"ppc-vendor", "<cpu><arch>ppc64le</arch><model>POWER8</model><vendor>Freescale</vendor></cpu>",
			"error: operation failed: CPU vendor IBM of model POWER8 differs from vendor Freescale"},
		{"arm", "<cpu><arch>aarch64</arch><model>cortex-a57</model><vendor>ARM</vendor></cpu>",
			"<cpu mode='custom' match='exact'>\n  <model fallback='allow'>cortex-a57</model>\n</cpu>\n"},
		{"s390", "<cpu><arch>s390x</arch><model>z13</model></cpu>", "cannot compute baseline CPU of s390x architecture"},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name+".xml")
		if err := os.WriteFile(p, []byte(c.xml), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"cpu-baseline", p}, {"cpu-baseline", "--features", p}} {
			o, e, rc := virsh(t, uri, args...)
			if !strings.Contains(o+e, c.want) {
				t.Errorf("%s: virsh %v: rc %d\n%s%s\nwant %q", c.name, args, rc, o, e, c.want)
			}
			if libvirtdUp() {
				o2, e2, rc2 := virsh(t, libvirtdURI, args...)
				if o != o2 || e != e2 || rc != rc2 {
					t.Errorf("%s: virsh %v: govirtd rc %d %s%s, libvirtd rc %d %s%s", c.name, args, rc, o, e, rc2, o2, e2)
				}
			}
		}
	}
}

// TestCPUAuditResctrlVirsh: a KVM guest with <cachetune> on a host
// without the resctrl file system fails to start with libvirt's error.
func TestCPUAuditResctrlVirsh(t *testing.T) {
	if _, err := os.Stat("/sys/fs/resctrl/info"); err == nil {
		t.Skip("the host has resctrl")
	}
	d := startDaemon(t)
	uri := d.URI("qemu")
	p := filepath.Join(t.TempDir(), "ct.xml")
	xml := `<domain type='kvm'><name>gvaudit-ct</name><memory unit='MiB'>128</memory><vcpu>2</vcpu>
  <cputune><cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='3' unit='MiB'/></cachetune></cputune>
  <os><type arch='x86_64' machine='q35'>hvm</type></os></domain>`
	if err := os.WriteFile(p, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+p)
	defer virsh(t, uri, "undefine", "gvaudit-ct")
	_, e, rc := virsh(t, uri, "start", "gvaudit-ct")
	if rc == 0 || !strings.Contains(e, "unsupported configuration: Resource control is not supported on this host") {
		virsh(t, uri, "destroy", "gvaudit-ct")
		t.Errorf("start: rc %d %q", rc, e)
	}
}

// TestCPUAuditVcpuinfoOnlineIDs: vcpuinfo lists the online vCPUs by their
// ids when an offline one sits between them, as libvirt does.
func TestCPUAuditVcpuinfoOnlineIDs(t *testing.T) {
	part := "<vcpu placement='static' current='2'>3</vcpu>\n  <vcpus><vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>" +
		"<vcpu id='1' enabled='no' hotpluggable='yes'/><vcpu id='2' enabled='yes' hotpluggable='yes' order='2'/></vcpus>"
	run := func(uri string) string {
		p := cpuGuestXML(t, t.TempDir(), "gvaudit-ids", "qemu", part)
		mustVirsh(t, uri, "create "+p)
		defer virsh(t, uri, "destroy", "gvaudit-ids")
		var ids []string
		for _, l := range strings.Split(mustVirsh(t, uri, "vcpuinfo gvaudit-ids"), "\n") {
			if v, ok := strings.CutPrefix(l, "VCPU:"); ok {
				ids = append(ids, strings.TrimSpace(v))
			}
			if v, ok := strings.CutPrefix(l, "CPU:"); ok && strings.TrimSpace(v) == "-1" {
				t.Errorf("a vCPU without its host CPU:\n%s", l)
			}
		}
		return strings.Join(ids, ",")
	}
	d := startDaemon(t)
	if got := run(d.URI("qemu")); got != "0,2" {
		t.Errorf("vcpuinfo lists vCPUs %s, want 0,2", got)
	}
	if libvirtdUp() {
		if lv := run(libvirtdURI); lv != "0,2" {
			t.Errorf("libvirtd lists vCPUs %s", lv)
		}
	}
}
