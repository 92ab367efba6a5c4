package cpux86

// qemuNames maps the QEMU spellings of features whose libvirt name
// differs (libvirt's virQEMUCapsCPUFeaturesX86).
var qemuNames = map[string]string{
	"cmp-legacy":    "cmp_legacy",
	"ds-cpl":        "ds_cpl",
	"fxsr-opt":      "fxsr_opt",
	"kvm-pv-eoi":    "kvm_pv_eoi",
	"kvm-pv-unhalt": "kvm_pv_unhalt",
	"lahf-lm":       "lahf_lm",
	"nodeid-msr":    "nodeid_msr",
	"pclmulqdq":     "pclmuldq",
	"perfctr-core":  "perfctr_core",
	"perfctr-nb":    "perfctr_nb",
	"tsc-adjust":    "tsc_adjust",
}

var libvirtToQEMU = func() map[string]string {
	out := map[string]string{}
	for q, l := range qemuNames {
		out[l] = q
	}
	return out
}()

// FeatureFromQEMU translates a QEMU feature name to libvirt's.
func FeatureFromQEMU(name string) string {
	if l, ok := qemuNames[name]; ok {
		return l
	}
	return name
}

// FeatureToQEMU translates a libvirt feature name to QEMU's.
func FeatureToQEMU(name string) string {
	if q, ok := libvirtToQEMU[name]; ok {
		return q
	}
	return name
}

// DataFromQEMU builds CPU data from a QEMU CPU model expansion: its
// enabled features (QEMU names; unknown ones ignored), vendor string and
// signature (virQEMUCapsGetCPUModelX86Data).
func (m *Map) DataFromQEMU(enabled []string, vendor string, family, model, stepping uint32) Data {
	d := Data{}
	for _, n := range enabled {
		if f := m.Feature(FeatureFromQEMU(n)); f != nil {
			d.Add(f.Data)
		}
	}
	if len(vendor) == 12 {
		d.Add(vendorData(vendor))
	}
	d.add(Key{Leaf: 1}, Regs{MakeSignature(family, model, stepping), 0, 0, 0})
	return d
}

// HostModel decodes QEMU's host-model expansion into the guest CPU
// domcapabilities shows (virQEMUCapsInitCPUModelX86): the closest model
// QEMU offers, the features to add or remove, fallback forbidden.
func (m *Map) HostModel(data Data, models HVModels) (*CPUDef, error) {
	cpu, err := m.Decode(TypeGuest, data, models, nil, false, false)
	if err != nil {
		return nil, err
	}
	cpu.HasSig = false
	cpu.Mode, cpu.Match, cpu.Fallback = "custom", "exact", "forbid"
	return cpu, nil
}
