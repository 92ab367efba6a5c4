package cpux86

import "strings"

// This file is what libvirt's x86 CPU driver does around a guest start:
// turning the definition into the CPU QEMU is asked for (virCPUx86Update)
// and, once QEMU runs, folding the CPU it really created back into the
// definition (virCPUx86UpdateLive).

// internalFeatures are the features libvirt knows outside its CPU map
// (x86_kvm_features): QEMU reports them and libvirt checks them, but no
// model or definition carries them.
var internalFeatures = map[string]bool{
	"kvm_pv_unhalt": true, "hv-runtime": true, "hv-synic": true, "hv-stimer": true,
	"hv-relaxed": true, "hv-vapic": true, "hv-vpindex": true, "hv-reset": true,
	"hv-frequencies": true, "hv-reenlightenment": true, "hv-tlbflush": true,
	"hv-avic": true, "hv-ipi": true, "hv-evmcs": true, "hv-stimer-direct": true,
}

// GuestData is the CPU a running QEMU reports: the map features' CPUID
// bits plus the internal features by name.
type GuestData struct {
	Data     Data
	Internal map[string]bool
}

// NewGuestData is empty guest CPU data.
func NewGuestData() *GuestData { return &GuestData{Data: Data{}, Internal: map[string]bool{}} }

// AddFeature adds a feature by libvirt's name; unknown names are ignored
// (virCPUx86DataAddFeature).
func (m *Map) AddFeature(g *GuestData, name string) {
	if f := m.Feature(name); f != nil {
		g.Data.Add(f.Data)
	} else if internalFeatures[name] {
		g.Internal[name] = true
	}
}

// KnowsFeature reports whether AddFeature records name (a libvirt
// name): a map feature or an internal one. Anything else it ignores, so
// a reader need not ask QEMU about it.
func (m *Map) KnowsFeature(name string) bool {
	return m.Feature(name) != nil || internalFeatures[name]
}

// HasFeature reports whether the data has a feature (virCPUDataCheckFeature).
func (m *Map) HasFeature(g *GuestData, name string) (bool, error) {
	if f := m.Feature(name); f != nil {
		return g.Data.IsSubset(f.Data), nil
	}
	if internalFeatures[name] {
		return g.Internal[name], nil
	}
	return false, errf(KindInternal, "unknown CPU feature %s", name)
}

// CPUHasFeature reports whether a CPU definition provides a feature
// (virCPUCheckFeature: the model's features plus required ones, less
// disabled ones).
func (m *Map) CPUHasFeature(cpu *CPUDef, name string) (bool, error) {
	md, err := m.modelFromCPU(cpu, PolicyRequire)
	if err != nil {
		return false, err
	}
	f := m.Feature(name)
	if f == nil {
		if internalFeatures[name] {
			return false, nil
		}
		return false, errf(KindInternal, "unknown CPU feature %s", name)
	}
	return md.Data.IsSubset(f.Data), nil
}

// CopyMigratable drops the features that block migration, whatever
// their policy (virCPUx86CopyMigratable).
func (m *Map) CopyMigratable(cpu *CPUDef) *CPUDef {
	cp := *cpu
	cp.Features = nil
	for _, f := range cpu.Features {
		if m.migratable(f.Name) {
			cp.Features = append(cp.Features, f)
		}
	}
	return &cp
}

// CheckForbiddenFeatures refuses a guest forbidding a feature the host
// CPU has (virCPUCheckForbiddenFeatures).
func CheckForbiddenFeatures(guest, host *CPUDef) error {
	for _, f := range guest.Features {
		if f.Policy != PolicyForbid {
			continue
		}
		for _, h := range host.Features {
			if h.Name == f.Name && h.Policy != PolicyDisable {
				return errf(KindIncompatible, "Host CPU provides forbidden feature '%s'", f.Name)
			}
		}
	}
	return nil
}

// disableRemoved disables the features QEMU dropped from the model
// later, unless the definition names them (virCPUx86DisableRemovedFeatures).
func disableRemoved(cpu *CPUDef, md *Model) {
	for _, r := range md.Removed {
		if !cpu.hasFeature(r) {
			cpu.Features = append(cpu.Features, FeatureDef{Name: r, Policy: PolicyDisable})
		}
	}
}

// Update turns a guest CPU into the one QEMU is started with
// (virCPUUpdate and virCPUx86Update): optional features are resolved
// against host and a host-model CPU (or match='minimum') becomes host's
// model with the guest's features on top; a host-passthrough or
// maximum CPU is left alone.
func (m *Map) Update(guest, host *CPUDef) error {
	relative := false
	switch guest.Mode {
	case "host-passthrough", "maximum":
		return nil
	case "host-model":
		relative = true
	default:
		relative = guest.Match == "minimum"
		for _, f := range guest.Features {
			if f.Policy == PolicyOptional {
				relative = true
			}
		}
	}
	if relative {
		if host == nil {
			return errf(KindConfig, "unknown host CPU model")
		}
		hm, err := m.modelFromCPU(host, policyAll)
		if err != nil {
			return err
		}
		for i, f := range guest.Features {
			if f.Policy != PolicyOptional {
				continue
			}
			ft := m.Feature(f.Name)
			if ft == nil {
				return errf(KindInternal, "unknown CPU feature %s", f.Name)
			}
			if hm.Data.IsSubset(ft.Data) {
				guest.Features[i].Policy = PolicyRequire
			} else {
				guest.Features[i].Policy = PolicyDisable
			}
		}
		if guest.Mode == "host-model" || guest.Match == "minimum" {
			updateHostModel(guest, host)
		}
	}
	md := m.Model(guest.Model)
	if md == nil {
		return errf(KindInternal, "Unknown CPU model %s", guest.Model)
	}
	disableRemoved(guest, md)
	return nil
}

// updateHostModel puts host's model, vendor and features under the
// guest's own features (x86UpdateHostModel); a custom CPU keeps its
// vendor.
func updateHostModel(guest, host *CPUDef) {
	up := &CPUDef{Model: host.Model, Vendor: host.Vendor}
	up.Features = append(up.Features, host.Features...)
	for _, f := range guest.Features {
		up.updateFeature(f.Name, f.Policy)
	}
	guest.Model = up.Model
	if guest.Mode != "custom" {
		guest.Vendor = up.Vendor
	}
	guest.Features = up.Features
	guest.Mode, guest.Match = "custom", "exact"
}

// UpdateLive folds the CPU QEMU created into the definition
// (virCPUUpdateLive, virCPUx86UpdateLive): changed reports whether it
// applied (a custom CPU, or any CPU with check='full'). With
// check='full' a difference is an error instead; otherwise features the
// hypervisor added are required and the ones it dropped disabled.
func (m *Map) UpdateLive(cpu *CPUDef, check string, enabled, disabled *GuestData) (bool, error) {
	if cpu.Mode != "custom" && check != "full" {
		return false, nil
	}
	pass := cpu.Mode == "host-passthrough" || cpu.Mode == "maximum"
	model, err := m.modelFromCPU(cpu, policyAll)
	if err != nil {
		return false, err
	}
	var modelDisabled *Model
	if pass {
		if modelDisabled, err = m.modelFromCPU(cpu, PolicyDisable); err != nil {
			return false, err
		}
	}
	en, dis := Data{}, Data{}
	if enabled != nil {
		en = enabled.Data
	}
	if disabled != nil {
		dis = disabled.Data
	}
	var added, removed []string
	for _, f := range m.Features {
		expected := ""
		if model.Data.IsSubset(f.Data) {
			expected = PolicyRequire
		} else if !pass || modelDisabled.Data.IsSubset(f.Data) {
			expected = PolicyDisable
		}
		if expected == PolicyDisable && en.IsSubset(f.Data) {
			if check == "full" {
				added = append(added, f.Name)
			} else {
				cpu.updateFeature(f.Name, PolicyRequire)
			}
		}
		if dis.IsSubset(f.Data) || (expected == PolicyRequire && !en.IsSubset(f.Data)) {
			if check == "full" {
				removed = append(removed, f.Name)
			} else {
				cpu.updateFeature(f.Name, PolicyDisable)
			}
		}
	}
	if cpu.Model != "" {
		if md := m.Model(cpu.Model); md != nil {
			disableRemoved(cpu, md)
		}
	}
	const msg = "guest CPU doesn't match specification"
	switch {
	case len(added) > 0 && len(removed) > 0:
		return false, errf(KindOperation, "%s: extra features: %s, missing features: %s", msg, strings.Join(added, ","), strings.Join(removed, ","))
	case len(added) > 0:
		return false, errf(KindOperation, "%s: extra features: %s", msg, strings.Join(added, ","))
	case len(removed) > 0:
		return false, errf(KindOperation, "%s: missing features: %s", msg, strings.Join(removed, ","))
	}
	if check == "full" && !dis.Empty() {
		return false, errf(KindOperation, "%s", msg)
	}
	return true, nil
}

// FullHostCPU is the CPU a KVM guest's start is checked against
// (virQEMUCapsInitHostCPUModel's fullCPU): the host's own CPUID plus
// every feature QEMU's host-model CPU requires once expanded, since KVM
// gives guests some features the host lacks (x2apic, tsc-deadline, ...).
func (m *Map) FullHostCPU(host, reported *CPUDef) (*CPUDef, error) {
	full := *host
	full.Features = append([]FeatureDef(nil), host.Features...)
	exp := *reported
	exp.Features = append([]FeatureDef(nil), reported.Features...)
	if err := m.ExpandFeatures(&exp); err != nil {
		return nil, err
	}
	pol := PolicyRequire
	if full.Type == TypeHost {
		pol = PolicyNone
	}
	for _, f := range exp.Features {
		if f.Policy == PolicyRequire {
			full.updateFeature(f.Name, pol)
		}
	}
	return &full, nil
}
