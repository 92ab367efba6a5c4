package guestcpu

import (
	"fmt"

	"govirt/conf"
	"govirt/drivers/internal/cpuapi"
	"govirt/internal/cpux86"
	"govirt/virerr"
)

// HostCPUs are the host CPUs libvirt keeps in its QEMU capabilities for
// a domain type: the migratable host-model CPU guests are started with,
// the full one starts are checked against, and the CPU features QEMU
// knows (QEMU's names).
type HostCPUs interface {
	HostModelCPUMigratable(virtType string) (*cpux86.CPUDef, error)
	HostModelCPUFull(virtType string) (*cpux86.CPUDef, error)
	CPUFeaturesFor(virtType string) []string
}

// filtered are the features libvirt never passes to QEMU
// (virQEMUCapsCPUFilterFeatures).
var filtered = map[string]bool{"cmt": true, "mbm_total": true, "mbm_local": true, "osxsave": true, "ospke": true}

// Prepare rewrites the <cpu> of a domain about to start as
// qemuProcessUpdateGuestCPU does: a CPU naming no model (only a
// topology) is left alone; incoming (a restore or migration) keeps a
// host-model CPU that already names its model as that model; forbidden
// features the host has and, with check='partial', a CPU the host cannot
// run are refused; host-model becomes the host's model and features
// (mode='custom'), optional features are resolved, models QEMU dropped
// features from disable them, fallback becomes forbid; features QEMU
// never gets and disabled features QEMU does not know are dropped.
func Prepare(def *conf.Domain, hc HostCPUs, incoming bool) error {
	cpu, check := read(def)
	if cpu == nil || (cpu.Mode == "custom" && cpu.Model == "") {
		return nil
	}
	if def.OS.Arch != "" && def.OS.Arch != "x86_64" && def.OS.Arch != "i686" {
		return nil
	}
	m, err := cpux86.Get()
	if err != nil {
		return virerr.New(virerr.FromCPU, virerr.ErrInternalError, "cannot load the CPU map: %v", err)
	}
	if incoming && cpu.Mode == "host-model" && cpu.Model != "" {
		cpu.Mode = "custom"
	}
	mig, err := hc.HostModelCPUMigratable(def.Type)
	if err != nil {
		return virerr.New(virerr.FromQemu, virerr.ErrInternalError, "%v", err)
	}
	if cpu.Mode == "host-model" && (mig == nil || mig.Model == "") {
		return virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported,
			"CPU mode 'host-model' for x86_64 %s domain on x86_64 host is not supported by hypervisor", def.Type)
	}
	var full *cpux86.CPUDef
	if check != "none" {
		if full, err = hc.HostModelCPUFull(def.Type); err != nil {
			return virerr.New(virerr.FromQemu, virerr.ErrInternalError, "%v", err)
		}
		if full != nil {
			if err := cpux86.CheckForbiddenFeatures(cpu, full); err != nil {
				return cpuapi.Convert(err)
			}
		}
	}
	if cpu.Mode != "host-passthrough" && cpu.Mode != "maximum" {
		if check == "partial" {
			if _, err := m.Compare(full, cpu, true); err != nil {
				return cpuapi.Convert(err)
			}
		}
		if err := m.Update(cpu, mig); err != nil {
			return cpuapi.Convert(err)
		}
		cpu.Fallback = "forbid"
	}
	known := map[string]bool{}
	for _, f := range hc.CPUFeaturesFor(def.Type) {
		known[cpux86.FeatureFromQEMU(f)] = true
	}
	kept := cpu.Features[:0]
	for _, f := range cpu.Features {
		if filtered[f.Name] {
			continue
		}
		if (f.Policy == cpux86.PolicyDisable || f.Policy == cpux86.PolicyForbid) && len(known) > 0 && !known[f.Name] {
			continue
		}
		kept = append(kept, f)
	}
	cpu.Features = kept
	if err := write(def, cpu, check); err != nil {
		return fmt.Errorf("rewriting <cpu>: %w", err)
	}
	return nil
}

// Validate refuses a <cpu> naming a feature libvirt's x86 CPU map does
// not know, as libvirt's start-time validation does
// (virCPUx86ValidateFeatures); a definition may carry one until then.
func Validate(def *conf.Domain) error {
	if def.OS.Arch != "" && def.OS.Arch != "x86_64" && def.OS.Arch != "i686" {
		return nil
	}
	cpu, _ := read(def)
	if cpu == nil || len(cpu.Features) == 0 {
		return nil
	}
	m, err := cpux86.Get()
	if err != nil {
		return virerr.New(virerr.FromCPU, virerr.ErrInternalError, "cannot load the CPU map: %v", err)
	}
	for _, f := range cpu.Features {
		if m.Feature(f.Name) == nil {
			return virerr.New(virerr.FromCPU, virerr.ErrConfigUnsupported, "unknown CPU feature: %s", f.Name)
		}
	}
	return nil
}

// UpdateForXML is what virsh dumpxml --update-cpu shows
// (VIR_DOMAIN_XML_UPDATE_CPU): the CPU updated against the migratable
// host-model CPU as a start would (host-model becomes the host's model
// and features), without the start's fallback and feature filtering.
func UpdateForXML(def *conf.Domain, hc HostCPUs) error {
	cpu, check := read(def)
	if cpu == nil || (cpu.Mode == "custom" && cpu.Model == "") {
		return nil
	}
	if def.OS.Arch != "" && def.OS.Arch != "x86_64" && def.OS.Arch != "i686" {
		return nil
	}
	m, err := cpux86.Get()
	if err != nil {
		return virerr.New(virerr.FromCPU, virerr.ErrInternalError, "cannot load the CPU map: %v", err)
	}
	mig, err := hc.HostModelCPUMigratable(def.Type)
	if err != nil {
		return virerr.New(virerr.FromQemu, virerr.ErrInternalError, "%v", err)
	}
	if mig != nil && mig.Model == "" {
		mig = nil
	}
	if err := m.Update(cpu, mig); err != nil {
		return cpuapi.Convert(err)
	}
	return write(def, cpu, check)
}
