package guestcpu

import (
	"context"
	"fmt"
	"strings"

	"govirt/conf"
	"govirt/drivers/internal/cpuapi"
	"govirt/internal/cpux86"
	"govirt/qmp"
	"govirt/virerr"
)

// Monitor is the QMP connection of the running guest.
type Monitor interface {
	Execute(ctx context.Context, cmd string, args, ret any) error
}

// batchMonitor is a monitor that can send many commands at once
// (*qmp.Monitor).
type batchMonitor interface {
	ExecuteBatch(ctx context.Context, cmds []qmp.Command) ([]error, error)
}

type qomGetArgs struct {
	Path     string `json:"path"`
	Property string `json:"property"`
}

// executeAll runs cmds as one batch when mon can, else one after the
// other; it returns each command's error, and an error of its own only
// for a batch that failed as a whole.
func executeAll(ctx context.Context, mon Monitor, cmds []qmp.Command) ([]error, error) {
	if b, ok := mon.(batchMonitor); ok {
		return b.ExecuteBatch(ctx, cmds)
	}
	errs := make([]error, len(cmds))
	for i, c := range cmds {
		errs[i] = mon.Execute(ctx, c.Name, c.Args, c.Ret)
	}
	return errs, nil
}

// defaultQOMPath is where libvirt looks when QEMU named no vCPU.
const defaultQOMPath = "/machine/unattached/device[0]"

// Fetch reads the CPU QEMU created for the guest's first vCPU, as
// libvirt does with a QEMU that has the unavailable-features property
// (qemuMonitorJSONGetGuestCPU): every boolean property of the vCPU
// object that is on is an enabled feature, and unavailable-features are
// the ones QEMU was asked for but could not give.
func Fetch(ctx context.Context, mon Monitor) (enabled, disabled *cpux86.GuestData, err error) {
	m, err := cpux86.Get()
	if err != nil {
		return nil, nil, err
	}
	path := defaultQOMPath
	var cpus []struct {
		CPUIndex int    `json:"cpu-index"`
		QOMPath  string `json:"qom-path"`
	}
	if mon.Execute(ctx, "query-cpus-fast", nil, &cpus) == nil {
		for _, c := range cpus {
			if c.CPUIndex == 0 && c.QOMPath != "" {
				path = c.QOMPath
			}
		}
	}
	var props []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := mon.Execute(ctx, "qom-list", map[string]any{"path": path}, &props); err != nil {
		// No such vCPU object: nothing to compare with (libvirt reads
		// no properties then either).
		return nil, nil, nil
	}
	// One qom-get per boolean property (a few hundred on x86), then
	// unavailable-features, which a QEMU without it fails: libvirt's
	// reads, in its order, but sent as one batch when the monitor can.
	// Only the properties AddFeature records are read: the others
	// (QEMU's underscore aliases, options such as enforce or pmu) would
	// be dropped anyway, and each qom-get costs QEMU a main-loop turn per
	// byte: under load, about half of a start's time went here.
	var names []string
	for _, p := range props {
		if p.Type == "bool" && m.KnowsFeature(cpux86.FeatureFromQEMU(p.Name)) {
			names = append(names, p.Name)
		}
	}
	on := make([]bool, len(names))
	var unavailable []string
	cmds := make([]qmp.Command, 0, len(names)+1)
	for i, n := range names {
		cmds = append(cmds, qmp.Command{Name: "qom-get", Args: qomGetArgs{path, n}, Ret: &on[i]})
	}
	cmds = append(cmds, qmp.Command{Name: "qom-get", Args: qomGetArgs{path, "unavailable-features"}, Ret: &unavailable})
	errs, err := executeAll(ctx, mon, cmds)
	if err != nil {
		return nil, nil, err
	}
	enabled, disabled = cpux86.NewGuestData(), cpux86.NewGuestData()
	for i, n := range names {
		if errs[i] != nil {
			return nil, nil, fmt.Errorf("qom-get %s: %w", n, errs[i])
		}
		if on[i] {
			m.AddFeature(enabled, cpux86.FeatureFromQEMU(n))
		}
	}
	// A QEMU without the property reports nothing unavailable.
	if errs[len(names)] == nil {
		for _, n := range unavailable {
			m.AddFeature(disabled, cpux86.FeatureFromQEMU(n))
		}
	}
	return enabled, disabled, nil
}

// hypervFeatures are libvirt's Hyper-V enlightenments in its order
// (virDomainHyperv); the value-only spinlocks and vendor_id are never
// checked.
var hypervFeatures = []string{"relaxed", "vapic", "spinlocks", "vpindex", "runtime",
	"synic", "stimer", "reset", "vendor_id", "frequencies", "reenlightenment",
	"tlbflush", "ipi", "evmcs", "avic"}

// Apply checks the CPU QEMU created against the definition and records
// it in the live definition (qemuProcessVerifyCPU and
// qemuProcessUpdateLiveGuestCPU): paravirtual spinlocks, Hyper-V
// enlightenments and an invariant TSC the host cannot give fail the
// start; a custom CPU, or any CPU with check='full', is updated (or
// refused when it differs under check='full') and gets check='full'.
// orig is the CPU before the update when the update changed it.
func Apply(def *conf.Domain, enabled, disabled *cpux86.GuestData) (orig []byte, err error) {
	if enabled == nil {
		return nil, nil
	}
	m, err := cpux86.Get()
	if err != nil {
		return nil, err
	}
	if err := verifyKVM(def, m, enabled); err != nil {
		return nil, err
	}
	cpu, check := read(def)
	if cpu == nil || (cpu.Mode == "custom" && cpu.Model == "") {
		return nil, nil
	}
	if has, err := m.CPUHasFeature(cpu, "invtsc"); err != nil {
		return nil, cpuapi.Convert(err)
	} else if has {
		if ok, _ := m.HasFeature(enabled, "invtsc"); !ok {
			return nil, virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported, "host doesn't support invariant TSC")
		}
	}
	before := def.Tree().Child("cpu").XML()
	changed, err := m.UpdateLive(cpu, check, enabled, disabled)
	if err != nil {
		return nil, cpuapi.Convert(err)
	}
	if !changed {
		return nil, nil
	}
	if err := write(def, cpu, "full"); err != nil {
		return nil, err
	}
	// libvirt keeps the CPU it started with when QEMU changed it
	// (virCPUDefIsEqual ignores the check attribute).
	if !sameIgnoringCheck(before, def.Tree().Child("cpu").XML()) {
		return before, nil
	}
	return nil, nil
}

// verifyKVM is qemuProcessVerifyKVMFeatures and
// qemuProcessVerifyHypervFeatures.
func verifyKVM(def *conf.Domain, m *cpux86.Map, enabled *cpux86.GuestData) error {
	t := def.Tree()
	feats := t.Child("features")
	if feats == nil {
		return nil
	}
	has := func(name string) bool {
		ok, _ := m.HasFeature(enabled, name)
		return ok
	}
	if p := feats.Child("pvspinlock"); p != nil {
		if st, _ := p.Attr("state"); st == "" || st == "on" {
			if !has("kvm_pv_unhalt") {
				return virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported, "host doesn't support paravirtual spinlocks")
			}
		}
	}
	hv := feats.Child("hyperv")
	if hv == nil {
		return nil
	}
	for _, name := range hypervFeatures {
		if name == "spinlocks" || name == "vendor_id" {
			continue
		}
		e := hv.Child(name)
		if e == nil {
			continue
		}
		if st, _ := e.Attr("state"); st != "on" {
			continue
		}
		if has("hv-" + name) {
			if name == "stimer" {
				if d := e.Child("direct"); d != nil {
					if st, _ := d.Attr("state"); st == "on" && !has("hv-stimer-direct") {
						return virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported, "host doesn't support hyperv stimer '%s' feature", "direct")
					}
				}
			}
			continue
		}
		if name == "relaxed" || name == "vapic" {
			continue // libvirt only warns
		}
		return virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported, "host doesn't support hyperv '%s' feature", name)
	}
	return nil
}

// sameIgnoringCheck compares two <cpu> documents, the check attribute
// aside.
func sameIgnoringCheck(a, b []byte) bool {
	strip := func(x []byte) string {
		s := string(x)
		for _, c := range []string{" check='full'", " check='partial'", " check='none'", ` check="full"`, ` check="partial"`, ` check="none"`} {
			if i := strings.Index(s, c); i >= 0 {
				return s[:i] + s[i+len(c):]
			}
		}
		return s
	}
	return strip(a) == strip(b)
}
