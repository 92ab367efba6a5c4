package command

import (
	"fmt"
	"govirt/drivers/qemu/caps"
	"govirt/internal/cpux86"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// The -cpu argument as qemuBuildCpuCommandLine writes it: the model (or
// host/max) with the <cpu><feature> policies, then the paravirtual
// timers, <apic eoi>, <pvspinlock>, the Hyper-V enlightenments, a hyperv
// panic device, the <kvm> features, <pmu>, the cache and physical
// address bits, in that order.

// cpuFeatureToQEMU are the x86 feature names libvirt's CPU map spells
// differently from QEMU (virQEMUCapsCPUFeaturesX86).
var cpuFeatureToQEMU = map[string]string{
	"cmp_legacy":    "cmp-legacy",
	"ds_cpl":        "ds-cpl",
	"fxsr_opt":      "fxsr-opt",
	"kvm_pv_eoi":    "kvm-pv-eoi",
	"kvm_pv_unhalt": "kvm-pv-unhalt",
	"lahf_lm":       "lahf-lm",
	"nodeid_msr":    "nodeid-msr",
	"pclmuldq":      "pclmulqdq",
	"perfctr_core":  "perfctr-core",
	"perfctr_nb":    "perfctr-nb",
	"tsc_adjust":    "tsc-adjust",
}

// cpuRemovedFeatures are the features libvirt's CPU map marks removed
// from a model (removed='yes'): QEMU dropped them later, so libvirt
// disables them explicitly at start unless the definition names them
// (virCPUx86DisableRemovedFeatures), keeping the guest's CPU stable.
var cpuRemovedFeatures = map[string][]string{
	"Icelake-Client":       {"intel-pt"},
	"Icelake-Client-noTSX": {"intel-pt"},
	"Icelake-Server":       {"intel-pt"},
	"Icelake-Server-noTSX": {"intel-pt"},
	"Dhyana":               {"monitor"},
	"EPYC":                 {"monitor"},
	"EPYC-IBPB":            {"monitor"},
	"Opteron_G3":           {"monitor"},
}

// cpuFilteredFeatures are x86 features libvirt drops from a guest CPU
// before starting it (virQEMUCapsCPUFilterFeatures).
var cpuFilteredFeatures = []string{"cmt", "mbm_total", "mbm_local", "osxsave", "ospke"}

// hypervFeatures are libvirt's Hyper-V enlightenments in the order it
// writes them (virDomainHyperv).
var hypervFeatures = []string{"relaxed", "vapic", "spinlocks", "vpindex", "runtime",
	"synic", "stimer", "reset", "vendor_id", "frequencies", "reenlightenment",
	"tlbflush", "ipi", "evmcs", "avic"}

// kvmFeatures are the children of <features><kvm> (virDomainKVM).
var kvmFeatures = []string{"hidden", "hint-dedicated", "poll-control", "pv-ipi", "dirty-ring"}

// feature is <features><name>, nil when absent.
func (b *builder) feature(name string) *conf.Element {
	return child(b.tree(), "features", name)
}

// featureState is the on/off state of a <features> child that takes a
// state= attribute defaulting to on; "" when the element is absent.
func (b *builder) featureState(name string) (string, error) {
	e := b.feature(name)
	if e == nil {
		return "", nil
	}
	switch st := attr(e, "state"); st {
	case "":
		return "on", nil
	case "on", "off":
		return st, nil
	default:
		return "", unsupportedValue("features/"+name, "state", st)
	}
}

// onOff checks a required tristate switch attribute.
func onOff(e *conf.Element, path, name string) (string, error) {
	v := attr(e, name)
	switch v {
	case "on", "off":
		return v, nil
	case "":
		return "", xmlError("Missing required attribute '%s' in element '%s'", name, e.Name())
	default:
		return "", xmlError("Invalid value for attribute '%s' in element '%s': '%s'. Expected on/off", name, e.Name(), v)
	}
}

func (b *builder) emitCPU() error {
	d := b.def
	c := d.CPU
	ce := child(b.tree(), "cpu")
	model := "qemu64"
	var flags strings.Builder
	if c != nil {
		switch c.Mode {
		case "host-passthrough", "maximum":
			if c.Mode == "host-passthrough" {
				if d.Type != "kvm" {
					return unsupported("CPU mode 'host-passthrough' for x86_64 %s domain on x86_64 host is not supported by hypervisor", d.Type)
				}
				model = "host"
			} else {
				if !b.caps.HasType("max-x86_64-cpu") && b.knowsTypes() {
					return unsupported("maximum CPU is not supported by QEMU binary")
				}
				model = "max"
			}
			if c.Model != "" {
				return unsupported("<cpu mode='%s'> takes no <model>", c.Mode)
			}
			mig := attr(ce, "migratable")
			if mig == "" && c.Mode == "host-passthrough" {
				// qemuDomainDefCPUPostParse's default for a new start.
				mig = "on"
				if !b.caps.Has("cpu.migratable") {
					mig = "off"
				}
			}
			if mig != "" && b.caps.Has("cpu.migratable") {
				model += ",migratable=" + mig
			}
		case "host-model":
			hm, err := b.hostModelCPU()
			if err != nil {
				return err
			}
			model = hm.Model
			for _, f := range hm.Features {
				name := f.Name
				if q, ok := cpuFeatureToQEMU[name]; ok {
					name = q
				}
				// A start uses the migratable host-model CPU, without
				// what QEMU enables only with migratable=off (invtsc).
				if b.nonMigratableCPUFeature(name) {
					continue
				}
				switch f.Policy {
				case "require", "force", "":
					model += "," + name + "=on"
				case "disable", "forbid":
					model += "," + name + "=off"
				}
			}
		case "custom", "":
			if c.Model != "" {
				model = c.Model
				// libvirt's cpu map names are QEMU's for the models
				// QEMU has; check the binary has this one.
				b.drivers = append(b.drivers, c.Model+"-x86_64-cpu")
			}
		default:
			return unsupportedValue("cpu", "mode", c.Mode)
		}
		if v := attr(child(ce, "model"), "vendor_id"); v != "" {
			model += ",vendor=" + v
		}
		if ce != nil {
			named := map[string]bool{}
			for _, f := range ce.Children("feature") {
				named[attr(f, "name")] = true
			}
			removed := []string{}
			if c.Mode == "custom" || c.Mode == "" {
				for _, r := range cpuRemovedFeatures[c.Model] {
					if !named[r] {
						removed = append(removed, r)
					}
				}
			}
			for _, f := range ce.Children("feature") {
				name := attr(f, "name")
				// virQEMUCapsCPUFilterFeatures: features QEMU cannot
				// give a guest are dropped, whatever their policy.
				if contains(cpuFilteredFeatures, name) {
					continue
				}
				// qemuProcessDropUnknownCPUFeatures: a disabled feature
				// QEMU does not know is off anyway.
				if p := attr(f, "policy"); (p == "disable" || p == "forbid") && !b.qemuKnowsCPUFeature(name) {
					continue
				}
				if q, ok := cpuFeatureToQEMU[name]; ok {
					name = q
				}
				switch p := attr(f, "policy"); p {
				case "", "force", "require":
					model += "," + name + "=on"
				case "disable", "forbid":
					model += "," + name + "=off"
				case "optional":
				default:
					return unsupportedValue("cpu/feature", "policy", p)
				}
			}
			for _, r := range removed {
				model += "," + r + "=off"
			}
		}
	}

	for _, tm := range timers(b.tree()) {
		present := attr(tm, "present")
		switch attr(tm, "name") {
		case "kvmclock":
			switch present {
			case "yes":
				flags.WriteString(",kvmclock=on")
			case "no":
				flags.WriteString(",kvmclock=off")
			}
		case "hypervclock":
			if present == "yes" {
				flags.WriteString(",hv-time=on")
			}
		case "tsc":
			if f := attr(tm, "frequency"); f != "" && f != "0" {
				n, err := strconv.ParseUint(f, 10, 64)
				if err != nil {
					return xmlError("invalid timer frequency")
				}
				fmt.Fprintf(&flags, ",tsc-frequency=%d", n)
			}
		}
	}

	if e := b.feature("apic"); e != nil {
		switch eoi := attr(e, "eoi"); eoi {
		case "on", "off":
			flags.WriteString(",kvm-pv-eoi=" + eoi)
		case "":
		default:
			return unsupportedValue("features/apic", "eoi", eoi)
		}
	}
	st, err := b.featureState("pvspinlock")
	if err != nil {
		return err
	}
	if st != "" {
		flags.WriteString(",kvm-pv-unhalt=" + st)
	}
	if err := b.hypervFlags(&flags); err != nil {
		return err
	}
	for _, p := range d.Devices.Panics {
		if p.Model == "hyperv" {
			flags.WriteString(",hv-crash")
			break
		}
	}
	if err := b.kvmFlags(&flags); err != nil {
		return err
	}
	st, err = b.featureState("pmu")
	if err != nil {
		return err
	}
	if st != "" {
		flags.WriteString(",pmu=" + st)
	}
	if err := b.cpuCacheFlags(ce, &flags); err != nil {
		return err
	}
	if a := child(ce, "maxphysaddr"); a != nil {
		bits := attr(a, "bits")
		switch m := attr(a, "mode"); m {
		case "passthrough":
			if bits != "" {
				return unsupported("CPU maximum physical address bits number specification cannot be used with mode='passthrough'")
			}
			flags.WriteString(",host-phys-bits=on")
		case "emulate":
			if bits == "" {
				return unsupported("if using CPU maximum physical address mode='emulate', bits= must be specified too")
			}
			flags.WriteString(",phys-bits=" + bits)
		default:
			return unsupportedValue("cpu/maxphysaddr", "mode", m)
		}
	}
	b.add("-cpu", model+flags.String())
	return nil
}

func (b *builder) hypervFlags(flags *strings.Builder) error {
	hv := b.feature("hyperv")
	if hv == nil {
		return nil
	}
	switch m := attr(hv, "mode"); m {
	case "", "custom":
	case "passthrough":
		flags.WriteString(",hv-passthrough=on")
	default:
		return unsupportedValue("features/hyperv", "mode", m)
	}
	state := map[string]*conf.Element{}
	for _, k := range hv.Children("") {
		if !contains(hypervFeatures, k.Name()) {
			return unsupported("unsupported HyperV Enlightenment feature: %s", k.Name())
		}
		if _, err := onOff(k, "features/hyperv/"+k.Name(), "state"); err != nil {
			return err
		}
		state[k.Name()] = k
	}
	for _, name := range hypervFeatures {
		e := state[name]
		if e == nil || attr(e, "state") != "on" {
			continue
		}
		switch name {
		case "spinlocks":
			r, err := strconv.ParseUint(attr(e, "retries"), 10, 32)
			if err != nil {
				return xmlError("Missing required attribute 'retries' in element 'spinlocks'")
			}
			if r < 0xfff {
				return xmlError("HyperV spinlock retry count must be at least 4095")
			}
			fmt.Fprintf(flags, ",hv-spinlocks=0x%x", r)
		case "vendor_id":
			v := attr(e, "value")
			if v == "" {
				return xmlError("missing 'value' attribute for HyperV feature 'vendor_id'")
			}
			if len(v) > 12 {
				return xmlError("HyperV vendor_id value must not be more than 12 characters.")
			}
			if strings.Contains(v, ",") {
				return xmlError("HyperV vendor_id value is invalid")
			}
			flags.WriteString(",hv-vendor-id=" + v)
		default:
			flags.WriteString(",hv-" + name + "=on")
			if name == "stimer" {
				if dir := child(e, "direct"); dir != nil {
					v, err := onOff(dir, "features/hyperv/stimer/direct", "state")
					if err != nil {
						return err
					}
					if v == "on" {
						flags.WriteString(",hv-stimer-direct=on")
					}
				}
			}
		}
	}
	return nil
}

func (b *builder) kvmFlags(flags *strings.Builder) error {
	kvm := b.feature("kvm")
	if kvm == nil {
		return nil
	}
	state := map[string]string{}
	for _, k := range kvm.Children("") {
		if !contains(kvmFeatures, k.Name()) {
			return unsupported("unsupported KVM feature: %s", k.Name())
		}
		v, err := onOff(k, "features/kvm/"+k.Name(), "state")
		if err != nil {
			return err
		}
		state[k.Name()] = v
	}
	// The dirty ring's size is checked at parse time, whatever the
	// accelerator.
	if _, err := b.dirtyRingSize(); err != nil {
		return err
	}
	if state["hidden"] == "on" {
		flags.WriteString(",kvm=off")
	}
	if state["hint-dedicated"] == "on" {
		flags.WriteString(",kvm-hint-dedicated=on")
	}
	if state["poll-control"] == "on" {
		flags.WriteString(",kvm-poll-control=on")
	}
	if state["pv-ipi"] == "off" {
		flags.WriteString(",kvm-pv-ipi=off")
	}
	return nil
}

// dirtyRingSize is <kvm><dirty-ring state='on' size=N>, 0 when off.
func (b *builder) dirtyRingSize() (uint64, error) {
	e := child(b.feature("kvm"), "dirty-ring")
	if e == nil || attr(e, "state") != "on" {
		return 0, nil
	}
	n, err := strconv.ParseUint(attr(e, "size"), 10, 32)
	if err != nil {
		return 0, xmlError("Missing required attribute 'size' in element 'dirty-ring'")
	}
	if n&(n-1) != 0 || n < 1024 || n > 65536 {
		return 0, xmlError("dirty ring must be power of 2 and ranges [1024, 65536]")
	}
	return n, nil
}

func (b *builder) cpuCacheFlags(ce *conf.Element, flags *strings.Builder) error {
	cache := child(ce, "cache")
	if cache == nil {
		return nil
	}
	mode := attr(cache, "mode")
	level := attr(cache, "level")
	cpuMode := attr(ce, "mode")
	hostOff, l3Off := false, false
	switch mode {
	case "emulate":
		if level != "3" {
			return unsupported("CPU cache mode 'emulate' can only be used with level='3'")
		}
		flags.WriteString(",l3-cache=on")
		hostOff = true
	case "passthrough":
		if cpuMode != "host-passthrough" && cpuMode != "maximum" {
			return unsupported("CPU cache mode 'passthrough' can only be used with 'host-passthrough' / 'maximum' CPUs")
		}
		if level != "" {
			return unsupported("unsupported CPU cache level for mode 'passthrough'")
		}
		flags.WriteString(",host-cache-info=on")
		l3Off = true
	case "disable":
		if level != "" {
			return unsupported("unsupported CPU cache level for mode 'disable'")
		}
		hostOff, l3Off = true, true
	default:
		return unsupportedValue("cpu/cache", "mode", mode)
	}
	if hostOff && (cpuMode == "host-passthrough" || cpuMode == "maximum") {
		flags.WriteString(",host-cache-info=off")
	}
	if l3Off {
		flags.WriteString(",l3-cache=off")
	}
	return nil
}

// xmlError is libvirt's VIR_ERR_XML_ERROR, its parser's refusal.
func xmlError(format string, args ...any) error {
	return virerr.New(virerr.FromDomain, virerr.ErrXMLError, format, args...)
}

// internalError is libvirt's VIR_ERR_INTERNAL_ERROR.
func internalError(format string, args ...any) error {
	return virerr.New(virerr.FromQemu, virerr.ErrInternalError, format, args...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// children is e.Children(name), nil when e is nil.
func children(e *conf.Element, name string) []*conf.Element {
	if e == nil {
		return nil
	}
	return e.Children(name)
}

// qemuKnowsCPUFeature reports whether QEMU has an x86 CPU feature (by
// libvirt's name); true when the capabilities do not say.
func (b *builder) qemuKnowsCPUFeature(name string) bool {
	fc, ok := b.caps.(interface{ CPUFeaturesFor(string) []string })
	if !ok {
		return true
	}
	known := fc.CPUFeaturesFor(b.def.Type)
	if len(known) == 0 {
		return true
	}
	q := name
	if n, ok := cpuFeatureToQEMU[name]; ok {
		q = n
	}
	return contains(known, q)
}

// hostModelCPU is the CPU host-model stands for on this host: QEMU's
// expansion of its host (KVM) or max (TCG) CPU decoded with libvirt's
// CPU map, which a start turns into a named model and features as
// libvirt's qemuProcessUpdateGuestCPU does.
func (b *builder) hostModelCPU() (*cpux86.CPUDef, error) {
	hc, ok := b.caps.(interface {
		HostModelCPU(virtType string) (*cpux86.CPUDef, error)
	})
	var hm *cpux86.CPUDef
	if ok {
		var err error
		if hm, err = hc.HostModelCPU(b.def.Type); err != nil {
			return nil, internalError("%v", err)
		}
	}
	if hm == nil || hm.Model == "" {
		return nil, unsupported("CPU mode 'host-model' for x86_64 %s domain on x86_64 host is not supported by hypervisor", b.def.Type)
	}
	return hm, nil
}

// nonMigratableCPUFeature reports a feature (QEMU's name) QEMU's host
// CPU has only when not migratable.
func (b *builder) nonMigratableCPUFeature(name string) bool {
	hc, ok := b.caps.(interface {
		HostCPUFor(virtType string) *caps.HostCPUModel
	})
	if !ok {
		return false
	}
	h := hc.HostCPUFor(b.def.Type)
	return h != nil && contains(h.NonMigratable, name)
}
