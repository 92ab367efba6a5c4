package caps

import (
	"strings"

	"govirt/internal/cpux86"
)

// HVModels lists the CPU models QEMU offers for a domain type with the
// features that block each on this host, in libvirt's feature names.
func (c *Caps) HVModels(virtType string) cpux86.HVModels {
	out := cpux86.HVModels{}
	for _, cm := range c.CPUModelsFor(virtType) {
		bl := make([]string, 0, len(cm.Blockers))
		for _, b := range cm.Blockers {
			bl = append(bl, cpux86.FeatureFromQEMU(b))
		}
		out[cm.Name] = bl
	}
	return out
}

// HostModelCPU is the CPU a host-model guest of virtType gets, as libvirt
// 9.0 computes it from QEMU's expansion of "host" (KVM) or "max" (TCG):
// nil when QEMU gave no expansion or the arch is not x86.
func (c *Caps) HostModelCPU(virtType string) (*cpux86.CPUDef, error) {
	h := c.HostCPUFor(virtType)
	if h == nil || (c.Arch != "x86_64" && c.Arch != "i686") {
		return nil, nil
	}
	m, err := cpux86.Get()
	if err != nil {
		return nil, err
	}
	data := m.DataFromQEMU(h.Enabled, h.Vendor, h.Family, h.Model, h.Stepping)
	return m.HostModel(data, c.HVModels(virtType))
}

// raw appends pre-formatted lines (already indented).
func (w *xmlWriter) raw(s string) { w.b.WriteString(s) }

// indentString is the indentation of the current depth.
func (w *xmlWriter) indentString() string { return strings.Repeat("  ", w.depth) }

// HostModelCPUMigratable is the host-model CPU a guest is started with
// (libvirt's VIR_QEMU_CAPS_HOST_CPU_MIGRATABLE): QEMU's expansion
// without what it enables only when the CPU is not migratable, decoded
// on its own.
func (c *Caps) HostModelCPUMigratable(virtType string) (*cpux86.CPUDef, error) {
	h := c.HostCPUFor(virtType)
	if h == nil || (c.Arch != "x86_64" && c.Arch != "i686") {
		return nil, nil
	}
	m, err := cpux86.Get()
	if err != nil {
		return nil, err
	}
	enabled := make([]string, 0, len(h.Enabled))
	for _, f := range h.Enabled {
		if !sortedHas(h.NonMigratable, f) {
			enabled = append(enabled, f)
		}
	}
	data := m.DataFromQEMU(enabled, h.Vendor, h.Family, h.Model, h.Stepping)
	return m.HostModel(data, c.HVModels(virtType))
}
