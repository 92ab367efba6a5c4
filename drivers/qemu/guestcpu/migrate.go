package guestcpu

import (
	"govirt/conf"
	"govirt/internal/cpux86"
)

// MigrationCPU is the <cpu> a migration cookie carries for def, a
// running guest's live definition (libvirt's qemuMigrationCookieAddCPU
// with qemuDomainMakeCPUMigratable): its CPU as QEMU created it, with
// pconfig disabled in an Icelake-Server model (the feature was dropped
// from that model; older destinations would take it as enabled). nil
// when def has no <cpu>.
func MigrationCPU(def *conf.Domain) ([]byte, error) {
	if def == nil || def.CPU == nil || def.Tree().Child("cpu") == nil {
		return nil, nil
	}
	cp := def.Clone()
	cpu, check := read(cp)
	if cpu.Mode == "custom" && cpu.Model == "Icelake-Server" {
		found := false
		for i := range cpu.Features {
			if cpu.Features[i].Name == "pconfig" {
				cpu.Features[i].Policy, found = cpux86.PolicyDisable, true
			}
		}
		if !found {
			cpu.Features = append(cpu.Features, cpux86.FeatureDef{Name: "pconfig", Policy: cpux86.PolicyDisable})
		}
		if err := write(cp, cpu, check); err != nil {
			return nil, err
		}
	}
	return cp.Tree().Child("cpu").XML(), nil
}

// EqualCPU reports whether def's <cpu> and cpuXML describe the same CPU
// as libvirt's virCPUDefIsEqual sees it: mode, match, model, vendor,
// the features with their policies, in order; the check attribute and
// the layout aside.
func EqualCPU(def *conf.Domain, cpuXML []byte) bool {
	other, err := WithCPU(def, cpuXML)
	if err != nil {
		return false
	}
	a, _ := read(def)
	b, _ := read(other)
	if a == nil || b == nil {
		return a == b
	}
	if a.Mode != b.Mode || a.Match != b.Match || a.Model != b.Model || a.Vendor != b.Vendor || len(a.Features) != len(b.Features) {
		return false
	}
	for i := range a.Features {
		if a.Features[i] != b.Features[i] {
			return false
		}
	}
	ta, tb := def.Tree().Child("cpu").Child("topology"), other.Tree().Child("cpu").Child("topology")
	if (ta == nil) != (tb == nil) {
		return false
	}
	return ta == nil || string(ta.XML()) == string(tb.XML())
}
