package cpux86

import (
	"strings"
	"testing"
)

func guestData(t *testing.T, m *Map, model string, plus ...string) *GuestData {
	t.Helper()
	g := NewGuestData()
	if model != "" {
		md := m.Model(model)
		if md == nil {
			t.Fatalf("no model %s", model)
		}
		g.Data.Add(md.Data)
	}
	for _, f := range plus {
		m.AddFeature(g, f)
	}
	return g
}

// TestUpdateLive follows virCPUx86UpdateLive on the qemu64 CPU QEMU
// creates under TCG (the model plus hypervisor and lahf_lm).
func TestUpdateLive(t *testing.T) {
	m, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	en := guestData(t, m, "qemu64", "hypervisor", "lahf_lm")

	cpu := &CPUDef{Type: TypeGuest, Mode: "custom", Match: "exact", Model: "qemu64"}
	changed, err := m.UpdateLive(cpu, "none", en, NewGuestData())
	if err != nil || !changed {
		t.Fatalf("changed %v, err %v", changed, err)
	}
	want := []FeatureDef{{"hypervisor", PolicyRequire}, {"lahf_lm", PolicyRequire}}
	if len(cpu.Features) != 2 || cpu.Features[0] != want[0] || cpu.Features[1] != want[1] {
		t.Errorf("features %v, want %v", cpu.Features, want)
	}

	cpu = &CPUDef{Type: TypeGuest, Mode: "custom", Match: "exact", Model: "qemu64"}
	_, err = m.UpdateLive(cpu, "full", en, NewGuestData())
	if err == nil || err.Error() != "guest CPU doesn't match specification: extra features: hypervisor,lahf_lm" {
		t.Errorf("check='full': %v", err)
	}

	// A feature QEMU could not give is missing; filtered-out data alone
	// fails check='full' too.
	cpu = &CPUDef{Type: TypeGuest, Mode: "custom", Match: "exact", Model: "qemu64",
		Features: []FeatureDef{{"hypervisor", PolicyRequire}, {"lahf_lm", PolicyRequire}, {"vmx", PolicyRequire}}}
	_, err = m.UpdateLive(cpu, "full", en, guestData(t, m, "", "vmx"))
	if err == nil || !strings.HasSuffix(err.Error(), "missing features: vmx") {
		t.Errorf("missing vmx: %v", err)
	}
	cpu.Features = cpu.Features[:2]
	if _, err := m.UpdateLive(cpu, "partial", en, NewGuestData()); err != nil {
		t.Errorf("matching CPU: %v", err)
	}

	// host-passthrough and maximum are only checked with check='full',
	// and only for the features they name.
	max := &CPUDef{Type: TypeGuest, Mode: "maximum", Features: []FeatureDef{{"vmx", PolicyRequire}}}
	if changed, err := m.UpdateLive(max, "partial", en, nil); changed || err != nil {
		t.Errorf("maximum, partial: changed %v err %v", changed, err)
	}
	if _, err := m.UpdateLive(max, "full", en, nil); err == nil || err.Error() != "guest CPU doesn't match specification: missing features: vmx" {
		t.Errorf("maximum, full: %v", err)
	}
}

// TestUpdateHostModel turns host-model into the host's model with the
// guest's own features on top (x86UpdateHostModel).
func TestUpdateHostModel(t *testing.T) {
	m, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	host := &CPUDef{Type: TypeGuest, Mode: "custom", Match: "exact", Model: "EPYC", Vendor: "AMD", Fallback: "forbid",
		Features: []FeatureDef{{"la57", PolicyRequire}, {"vme", PolicyDisable}}}
	g := &CPUDef{Type: TypeGuest, Mode: "host-model",
		Features: []FeatureDef{{"la57", PolicyDisable}, {"vmx", PolicyOptional}}}
	if err := m.Update(g, host); err != nil {
		t.Fatal(err)
	}
	if g.Mode != "custom" || g.Match != "exact" || g.Model != "EPYC" || g.Vendor != "AMD" {
		t.Errorf("updated CPU %+v", g)
	}
	want := []FeatureDef{{"la57", PolicyDisable}, {"vme", PolicyDisable}, {"vmx", PolicyDisable}, {"monitor", PolicyDisable}}
	if len(g.Features) != len(want) {
		t.Fatalf("features %v, want %v", g.Features, want)
	}
	for i := range want {
		if g.Features[i] != want[i] {
			t.Errorf("feature %d: %v, want %v", i, g.Features[i], want[i])
		}
	}
	if err := m.Update(&CPUDef{Type: TypeGuest, Mode: "host-model"}, nil); err == nil || err.Error() != "unknown host CPU model" {
		t.Errorf("no host CPU: %v", err)
	}
}

func TestCheckForbiddenFeatures(t *testing.T) {
	host := &CPUDef{Features: []FeatureDef{{"vmx", PolicyRequire}, {"svm", PolicyDisable}}}
	g := &CPUDef{Features: []FeatureDef{{"svm", PolicyForbid}}}
	if err := CheckForbiddenFeatures(g, host); err != nil {
		t.Error(err)
	}
	g.Features = append(g.Features, FeatureDef{"vmx", PolicyForbid})
	if err := CheckForbiddenFeatures(g, host); err == nil || err.Error() != "Host CPU provides forbidden feature 'vmx'" {
		t.Errorf("forbidden vmx: %v", err)
	}
}
