package guestcpu

import (
	"strings"
	"testing"

	"govirt/conf"
	"govirt/internal/cpux86"
)

const tcgDomain = `<domain type='qemu'>
  <name>g</name>
  <memory unit='KiB'>131072</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <cpu mode='host-model' check='partial'>
    <topology sockets='1' dies='1' cores='2' threads='1'/>
    <feature policy='disable' name='la57'/>
    <feature policy='disable' name='cmt'/>
    <numa><cell id='0' cpus='0-1' memory='131072' unit='KiB'/></numa>
  </cpu>
</domain>`

// fakeHost is a host whose host-model CPU is an EPYC (as TCG's max
// decodes on an AMD host).
type fakeHost struct{}

var fakeModel = &cpux86.CPUDef{Type: cpux86.TypeGuest, Mode: "custom", Match: "exact", Model: "EPYC", Vendor: "AMD",
	Fallback: "forbid", Features: []cpux86.FeatureDef{{Name: "la57", Policy: "require"}, {Name: "vme", Policy: "disable"}}}

func (fakeHost) HostModelCPUMigratable(string) (*cpux86.CPUDef, error) { return fakeModel, nil }
func (fakeHost) HostModelCPUFull(string) (*cpux86.CPUDef, error)       { return fakeModel, nil }
func (fakeHost) CPUFeaturesFor(string) []string                        { return []string{"la57", "vme", "monitor"} }

func parse(t *testing.T, x string) *conf.Domain {
	t.Helper()
	d, err := conf.ParseDomain([]byte(x), 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func cpuXML(t *testing.T, d *conf.Domain) string {
	t.Helper()
	return string(d.Tree().Child("cpu").XML())
}

// TestPrepareHostModel: host-model becomes the host's model and
// features under the guest's own, topology and NUMA cells kept in
// libvirt's places, cmt filtered out.
func TestPrepareHostModel(t *testing.T) {
	d := parse(t, tcgDomain)
	if err := Prepare(d, fakeHost{}, false); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(strings.Fields(cpuXML(t, d)), "")
	want := strings.Join(strings.Fields(`<cpu mode='custom' match='exact' check='partial'>
<model fallback='forbid'>EPYC</model><vendor>AMD</vendor>
<topology sockets='1' dies='1' cores='2' threads='1'/>
<feature policy='disable' name='la57'/><feature policy='disable' name='vme'/><feature policy='disable' name='monitor'/>
<numa><cell id='0' cpus='0-1' memory='131072' unit='KiB'/></numa></cpu>`), "")
	if got != want {
		t.Errorf("prepared <cpu>:\n%s\nwant\n%s", got, want)
	}
	if d.CPU.Mode != "custom" || d.CPU.Model != "EPYC" || d.CPU.Sockets != 1 {
		t.Errorf("typed CPU %+v", d.CPU)
	}
	// Formatting writes the same element.
	out, err := d.Format(0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "<cpu mode='custom' match='exact' check='partial'>\n    <model fallback='forbid'>EPYC</model>\n    <vendor>AMD</vendor>\n    <topology") {
		t.Errorf("formatted:\n%s", out)
	}
}

// TestApplyChecks: the live update's refusals and the check='full'
// it leaves.
func TestApplyChecks(t *testing.T) {
	m, err := cpux86.Get()
	if err != nil {
		t.Fatal(err)
	}
	d := parse(t, strings.Replace(tcgDomain, "<cpu mode='host-model' check='partial'>", "<cpu mode='custom' match='exact'><model>qemu64</model>", 1))
	en := cpux86.NewGuestData()
	en.Data.Add(m.Model("qemu64").Data)
	m.AddFeature(en, "lahf_lm")
	if _, err := Apply(d, en, cpux86.NewGuestData()); err != nil {
		t.Fatal(err)
	}
	x := cpuXML(t, d)
	if !strings.Contains(x, "check='full'") && !strings.Contains(x, `check="full"`) {
		t.Errorf("no check='full': %s", x)
	}
	if !strings.Contains(x, "lahf_lm") {
		t.Errorf("lahf_lm not required: %s", x)
	}
	// Now check='full': QEMU dropping la57 (disabled anyway) is fine,
	// QEMU dropping lahf_lm is not.
	en2 := cpux86.NewGuestData()
	en2.Data.Add(m.Model("qemu64").Data)
	if _, err := Apply(d, en2, cpux86.NewGuestData()); err == nil || !strings.Contains(err.Error(), "missing features: lahf_lm") {
		t.Errorf("lahf_lm gone: %v", err)
	}
	p := parse(t, strings.Replace(tcgDomain, "<os>", "<features><pvspinlock state='on'/></features><os>", 1))
	if _, err := Apply(p, en, nil); err == nil || !strings.Contains(err.Error(), "host doesn't support paravirtual spinlocks") {
		t.Errorf("pvspinlock: %v", err)
	}
}

func TestValidate(t *testing.T) {
	d := parse(t, strings.Replace(tcgDomain, "name='la57'", "name='nosuchfeature'", 1))
	if err := Validate(d); err == nil || !strings.Contains(err.Error(), "unknown CPU feature: nosuchfeature") {
		t.Errorf("Validate: %v", err)
	}
}
