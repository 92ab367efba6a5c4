package cpux86

// policyAll asks modelFromCPU for the CPU's full feature set.
const policyAll = "*"

// modelFromCPU computes CPU data from a definition, libvirt's
// x86ModelFromCPU: with policyAll the model's features plus required and
// forced ones minus disabled and forbidden ones, otherwise only the
// features of the given policy (and the model for PolicyRequire).
func (m *Map) modelFromCPU(cpu *CPUDef, policy string) (*Model, error) {
	if cpu.Type == TypeHost && policy != PolicyRequire && policy != policyAll {
		return &Model{Data: Data{}}, nil
	}
	out := &Model{Data: Data{}}
	if cpu.Model != "" && (policy == PolicyRequire || policy == policyAll) {
		md := m.Model(cpu.Model)
		if md == nil {
			return nil, errf(KindInternal, "Unknown CPU model %s", cpu.Model)
		}
		cp := *md
		cp.Data = md.Data.Copy()
		out = &cp
	}
	for _, f := range cpu.Features {
		fpol := f.Policy
		if fpol == PolicyNone {
			fpol = PolicyRequire
		}
		if (policy == policyAll && fpol == PolicyOptional) || (policy != policyAll && fpol != policy) {
			continue
		}
		ft := m.Feature(f.Name)
		if ft == nil {
			return nil, errf(KindInternal, "Unknown CPU feature %s", f.Name)
		}
		if policy == policyAll {
			switch fpol {
			case PolicyForce, PolicyRequire:
				out.Data.Add(ft.Data)
			case PolicyDisable, PolicyForbid:
				out.Data.Subtract(ft.Data)
			}
		} else {
			out.Data.Add(ft.Data)
		}
	}
	return out, nil
}

// dataToFeatures adds every feature whose bits are all in data, removing
// them from data (x86DataToCPUFeatures).
func (m *Map) dataToFeatures(cpu *CPUDef, policy string, data Data) {
	for _, f := range m.Features {
		if data.IsSubset(f.Data) {
			data.Subtract(f.Data)
			cpu.Features = append(cpu.Features, FeatureDef{Name: f.Name, Policy: policy})
		}
	}
}

// dataToVendor finds the vendor in data and clears its bits.
func (m *Map) dataToVendor(data Data) *Vendor {
	for _, v := range m.Vendors {
		for k, want := range v.Data {
			if item, ok := data[k]; ok && matchMasked(item, want) {
				for i := range item {
					item[i] &^= want[i]
				}
				data[k] = item
				return v
			}
		}
	}
	return nil
}

// hvModel is a hypervisor's version of a model with the features that
// keep it from running on the host.
type hvModel struct {
	blockers []string
}

func (m *Map) dataToCPU(data Data, model *Model, hv *hvModel, typ string) *CPUDef {
	cpu := &CPUDef{Model: model.Name}
	cp := data.Copy()
	modelData := model.Data.Copy()
	if v := m.dataToVendor(cp); v != nil {
		cpu.Vendor = v.Name
	}
	cp.Subtract(modelData)
	modelData.Subtract(data)
	if hv != nil {
		for _, b := range hv.blockers {
			if f := m.Feature(b); f != nil && !cp.IsSubset(f.Data) {
				modelData.Add(f.Data)
			}
		}
	}
	cpu.Type = TypeGuest
	m.dataToFeatures(cpu, PolicyRequire, cp)
	m.dataToFeatures(cpu, PolicyDisable, modelData)
	if typ == TypeGuest {
		for _, r := range model.Removed {
			if !cpu.hasFeature(r) {
				cpu.Features = append(cpu.Features, FeatureDef{Name: r, Policy: PolicyDisable})
			}
		}
	}
	cpu.Type = typ
	return cpu
}

const basePenalty = 2

func betterFeatureList(cur, cand *CPUDef, preferred bool) bool {
	current := len(cur.Features)
	candidate := len(cand.Features)
	var disabledCur, disabled int
	if cand.Type != TypeHost {
		// libvirt 9.0 bounds these loops by the enabled count it is
		// decrementing, so disabled features at the end of a long list
		// stop being counted; the same bound gives the same choices.
		enabledCur, penalty := current, basePenalty
		for i := 0; i < enabledCur; i++ {
			if cur.Features[i].Policy == PolicyDisable {
				enabledCur--
				disabledCur += penalty
				penalty++
			}
		}
		current = enabledCur + disabledCur
		enabled := candidate
		penalty = basePenalty
		for i := 0; i < enabled; i++ {
			if cand.Features[i].Policy == PolicyDisable {
				enabled--
				disabled += penalty
				penalty++
			}
		}
		candidate = enabled + disabled
	}
	if candidate < current || (candidate == current && disabled < disabledCur) {
		return true
	}
	return preferred && disabled < disabledCur
}

// useCandidate is x86DecodeUseCandidate: 0 keep current, 1 take the
// candidate, 2 take it and stop.
func useCandidate(cur *Model, cpuCur *CPUDef, cand *Model, cpuCand *CPUDef, sig uint32, preferred []string) int {
	if cpuCand.Type == TypeHost && !cand.DecodeHost {
		return 0
	}
	if cpuCand.Type == TypeGuest && !cand.DecodeGuest {
		return 0
	}
	if cpuCand.Type == TypeHost {
		for i := range cpuCand.Features {
			if cpuCand.Features[i].Policy == PolicyDisable {
				return 0
			}
			cpuCand.Features[i].Policy = PolicyNone
		}
	}
	isPreferred := false
	for _, p := range preferred {
		if p == cpuCand.Model {
			isPreferred = true
		}
	}
	if isPreferred && len(preferred) == 1 {
		return 2
	}
	if cpuCur == nil {
		return 1
	}
	if sig != 0 {
		curM, candM := sigsMatch(cur.Signatures, sig), sigsMatch(cand.Signatures, sig)
		if curM && !candM {
			return 0
		}
		if !curM && candM {
			return 1
		}
	}
	if betterFeatureList(cpuCur, cpuCand, isPreferred) {
		return 1
	}
	return 0
}

// filterTSX drops hle and rtm on Intel CPUs whose TSX is broken.
func (m *Map) filterTSX(data Data, vendor *Vendor) {
	if vendor == nil || vendor.Name != "Intel" {
		return
	}
	family, model, stepping := SignatureFromCPUID(data[Key{Leaf: 1}][0])
	if family == 6 && ((model == 63 && stepping < 4) || model == 60 || model == 69 || model == 70) {
		for _, n := range []string{"hle", "rtm"} {
			if f := m.Feature(n); f != nil {
				data.Subtract(f.Data)
			}
		}
	}
}

// HVModels restricts decoding to the models a hypervisor knows, with
// their blockers (nil: every model of the map).
type HVModels map[string][]string

// Decode turns CPU data into the closest model and features (x86Decode).
func (m *Map) Decode(typ string, cpuData Data, models HVModels, preferred []string, migratable bool, fallbackAllow bool) (*CPUDef, error) {
	data := cpuData.Copy()
	vendor := m.dataToVendor(data)
	sig := data.signature()
	m.filterTSX(data, vendor)
	var (
		best   *Model
		cpuBst *CPUDef
	)
	for i := len(m.Models) - 1; i >= 0; i-- {
		cand := m.Models[i]
		var hv *hvModel
		if models != nil {
			bl, ok := models[cand.Name]
			if !ok {
				if len(preferred) == 1 && preferred[0] == cand.Name && !fallbackAllow {
					return nil, errf(KindConfig, "CPU model %s is not supported by hypervisor", preferred[0])
				}
				continue
			}
			hv = &hvModel{blockers: bl}
		}
		if vendor != nil && cand.Vendor != nil && vendor != cand.Vendor {
			continue
		}
		cpuCand := m.dataToCPU(data, cand, hv, typ)
		if rc := useCandidate(best, cpuBst, cand, cpuCand, sig, preferred); rc != 0 {
			best, cpuBst = cand, cpuCand
			if rc == 2 {
				break
			}
		}
	}
	if cpuBst == nil {
		return nil, errf(KindInternal, "Cannot find suitable CPU model for given data")
	}
	if migratable {
		kept := cpuBst.Features[:0]
		for _, f := range cpuBst.Features {
			if m.migratable(f.Name) {
				kept = append(kept, f)
			}
		}
		cpuBst.Features = kept
	}
	out := &CPUDef{Type: typ, Model: cpuBst.Model, Features: cpuBst.Features}
	if vendor != nil {
		out.Vendor = vendor.Name
	}
	if sig != 0 {
		out.HasSig = true
		out.Family, out.Mdl, out.Stepping = SignatureFromCPUID(sig)
	}
	return out, nil
}
