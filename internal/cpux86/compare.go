package cpux86

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
)

// Compare results, virCPUCompareResult.
const (
	CompareError        = -1
	CompareIncompatible = 0
	CompareIdentical    = 1
	CompareSuperset     = 2
)

// featureNames lists the map's features fully contained in data.
func (m *Map) featureNames(data Data) string {
	var names []string
	for _, f := range m.Features {
		if data.IsSubset(f.Data) {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}

type relation int

const (
	relEqual relation = iota
	relSubset
	relSuperset
	relUnrelated
)

func modelCompare(d1, d2 Data) relation {
	result := relEqual
	step := func(a, b Data, whenMissing, whenNotMasked relation) bool {
		for k, v1 := range a {
			if v1 == (Regs{}) {
				continue
			}
			match := whenMissing
			if v2, ok := b[k]; ok {
				if v1 == v2 {
					continue
				}
				if !matchMasked(v1, v2) {
					match = whenNotMasked
				}
			}
			if result == relEqual {
				result = match
			} else if result != match {
				return false
			}
		}
		return true
	}
	if !step(d1, d2, relSuperset, relSubset) {
		return relUnrelated
	}
	if !step(d2, d1, relSubset, relSuperset) {
		return relUnrelated
	}
	return result
}

// Compare compares cpu with the host CPU (virCPUx86Compare); with
// failIncompatible an incompatible CPU is an error carrying the reason.
func (m *Map) Compare(host, cpu *CPUDef, failIncompatible bool) (int, error) {
	if host == nil || host.Model == "" {
		if failIncompatible {
			return CompareError, errf(KindIncompatible, "unknown host CPU")
		}
		return CompareIncompatible, nil
	}
	res, msg, err := m.compute(host, cpu)
	if err != nil {
		return CompareError, err
	}
	if res == CompareIncompatible && failIncompatible {
		return CompareError, errf(KindIncompatible, "%s", msg)
	}
	return res, nil
}

func (m *Map) compute(host, cpu *CPUDef) (int, string, error) {
	if cpu.Arch != "" && cpu.Arch != "x86_64" && cpu.Arch != "i686" {
		return CompareIncompatible, fmt.Sprintf("CPU arch %s does not match host arch", cpu.Arch), nil
	}
	if cpu.Vendor != "" && (host.Vendor == "" || cpu.Vendor != host.Vendor) {
		return CompareIncompatible, fmt.Sprintf("host CPU vendor does not match required CPU vendor %s", cpu.Vendor), nil
	}
	hostModel, err := m.modelFromCPU(host, policyAll)
	if err != nil {
		return CompareError, "", err
	}
	get := func(p string) (Data, error) {
		md, err := m.modelFromCPU(cpu, p)
		if err != nil {
			return nil, err
		}
		return md.Data, nil
	}
	var force, require, optional, disable, forbid Data
	for _, x := range []struct {
		p string
		d *Data
	}{{PolicyForce, &force}, {PolicyRequire, &require}, {PolicyOptional, &optional}, {PolicyDisable, &disable}, {PolicyForbid, &forbid}} {
		if *x.d, err = get(x.p); err != nil {
			return CompareError, "", err
		}
	}
	forbid.Intersect(hostModel.Data)
	if !forbid.Empty() {
		return CompareIncompatible, "Host CPU provides forbidden features: " + m.featureNames(forbid), nil
	}
	require.Subtract(force)
	require.Subtract(optional)
	require.Subtract(disable)
	if r := modelCompare(hostModel.Data, require); r == relSubset || r == relUnrelated {
		require.Subtract(hostModel.Data)
		return CompareIncompatible, "Host CPU does not provide required features: " + m.featureNames(require), nil
	}
	diff := hostModel.Data.Copy()
	diff.Subtract(optional)
	diff.Subtract(require)
	diff.Subtract(disable)
	diff.Subtract(force)
	if diff.Empty() {
		return CompareIdentical, "", nil
	}
	if cpu.Type == TypeGuest && cpu.Match == "strict" {
		return CompareIncompatible, "Host CPU does not strictly match guest CPU: Extra features: " + m.featureNames(diff), nil
	}
	return CompareSuperset, "", nil
}

// Baseline computes the CPU all of cpus can run (virCPUx86Baseline);
// features, when not nil, limits the result to those features.
func (m *Map) Baseline(cpus []*CPUDef, models HVModels, features []string, migratable bool) (*CPUDef, error) {
	if len(cpus) == 0 {
		return nil, errf(KindInvalidArg, "no CPUs given")
	}
	for i, c := range cpus {
		if c.Model == "" {
			return nil, errf(KindInvalidArg, "no CPU model specified at index %d", i)
		}
	}
	base, err := m.modelFromCPU(cpus[0], policyAll)
	if err != nil {
		return nil, err
	}
	var vendor *Vendor
	outputVendor := true
	if cpus[0].Vendor == "" {
		outputVendor = false
	} else if vendor = m.vendor(cpus[0].Vendor); vendor == nil {
		return nil, errf(KindOperation, "Unknown CPU vendor %s", cpus[0].Vendor)
	}
	names := []string{cpus[0].Model}
	for _, c := range cpus[1:] {
		dup := false
		for _, n := range names {
			dup = dup || n == c.Model
		}
		if !dup {
			names = append(names, c.Model)
		}
		md, err := m.modelFromCPU(c, policyAll)
		if err != nil {
			return nil, err
		}
		if c.Vendor != "" && md.Vendor != nil && c.Vendor != md.Vendor.Name {
			return nil, errf(KindOperation, "CPU vendor %s of model %s differs from vendor %s", md.Vendor.Name, md.Name, c.Vendor)
		}
		vn := c.Vendor
		if vn == "" {
			outputVendor = false
			if md.Vendor != nil {
				vn = md.Vendor.Name
			}
		}
		if vn != "" {
			if vendor == nil {
				if vendor = m.vendor(vn); vendor == nil {
					return nil, errf(KindOperation, "Unknown CPU vendor %s", vn)
				}
			} else if vendor.Name != vn {
				return nil, errf(KindOperation, "CPU vendors do not match")
			}
		}
		base.Data.Intersect(md.Data)
	}
	if features != nil {
		fd := Data{}
		for _, n := range features {
			if f := m.Feature(n); f != nil {
				fd.Add(f.Data)
			}
		}
		base.Data.Intersect(fd)
	}
	if base.Data.Empty() {
		return nil, errf(KindOperation, "CPUs are incompatible")
	}
	if vendor != nil {
		base.Data.Add(vendor.Data)
	}
	cpu, err := m.Decode(TypeGuest, base.Data, models, names, migratable, true)
	if err != nil {
		return nil, err
	}
	cpu.HasSig = false
	cpu.Mode, cpu.Match, cpu.Fallback = "custom", "exact", "allow"
	if len(names) == 1 && cpu.Model == names[0] {
		cpu.Fallback = "forbid"
	}
	if !outputVendor {
		cpu.Vendor = ""
	}
	return cpu, nil
}

// ExpandFeatures lists every feature of the CPU's model explicitly
// (virCPUx86ExpandFeatures).
func (m *Map) ExpandFeatures(cpu *CPUDef) error {
	md := m.Model(cpu.Model)
	if md == nil {
		return errf(KindInternal, "unknown CPU model %s", cpu.Model)
	}
	host := cpu.Type == TypeHost
	exp := &CPUDef{}
	pol := PolicyRequire
	if host {
		pol = PolicyNone
	}
	m.dataToFeatures(exp, pol, md.Data.Copy())
	for _, f := range cpu.Features {
		if !host && f.Policy != PolicyRequire && f.Policy != PolicyDisable {
			continue
		}
		exp.updateFeature(f.Name, f.Policy)
	}
	if !host {
		for _, r := range md.Removed {
			if !exp.hasFeature(r) {
				exp.Features = append(exp.Features, FeatureDef{Name: r, Policy: PolicyDisable})
			}
		}
	}
	// virCPUExpandFeatures sorts the list by name.
	sort.SliceStable(exp.Features, func(i, j int) bool { return exp.Features[i].Name < exp.Features[j].Name })
	cpu.Features = exp.Features
	return nil
}

// FilterFeatures drops the features QEMU's CPU definitions never carry
// (virQEMUCapsCPUFilterFeatures).
func FilterFeatures(cpu *CPUDef) {
	kept := cpu.Features[:0]
	for _, f := range cpu.Features {
		switch f.Name {
		case "cmt", "mbm_total", "mbm_local", "osxsave", "ospke":
			continue
		}
		kept = append(kept, f)
	}
	cpu.Features = kept
}

// ParseCPUData reads libvirt's <cpudata arch='x86'> test format.
func ParseCPUData(doc string) (Data, error) {
	var x struct {
		CPUID []xCPUID `xml:"cpuid"`
		MSR   []xMSR   `xml:"msr"`
	}
	if err := xml.Unmarshal([]byte(doc), &x); err != nil {
		return nil, err
	}
	d := Data{}
	for _, c := range x.CPUID {
		d.add(Key{Leaf: num(c.EaxIn), Sub: num(c.EcxIn)}, Regs{num(c.Eax), num(c.Ebx), num(c.Ecx), num(c.Edx)})
	}
	for _, r := range x.MSR {
		d.add(Key{MSR: true, Leaf: num(r.Index)}, Regs{num(r.Eax), 0, 0, num(r.Edx)})
	}
	return d, nil
}
