package qemu

import (
	"context"
	"sync"

	"govirt/conf"
	"govirt/drivers/internal/cpuapi"
	"govirt/drivers/qemu/caps"
	"govirt/internal/cpux86"
	"govirt/virerr"
)

// hostCPU is the host CPU libvirt puts in the capabilities and compares
// cpu-compare's CPU with; the CPUID of the host does not change while the
// daemon runs, so it is read once.
var hostCPU = sync.OnceValues(func() (*cpux86.CPUDef, error) {
	if a := hostArch(); a != "x86_64" && a != "i686" {
		return nil, nil
	}
	return cpuapi.Host()
})

// GetCPUModelNames is virConnectGetCPUModelNames (virsh cpu-models).
func (c *conn) GetCPUModelNames(arch string, flags uint32) ([]string, error) {
	return cpuapi.ModelNames(virerr.FromQemu, "qemuConnectGetCPUModelNames", arch, flags)
}

// CompareCPU is virConnectCompareCPU: the CPU against the host's CPUID.
func (c *conn) CompareCPU(xml string, flags uint32) (int32, error) {
	host, err := hostCPU()
	if err != nil {
		return -1, err
	}
	return cpuapi.Compare(virerr.FromQemu, "qemuConnectCompareCPU", host, xml, flags)
}

// BaselineCPU is virConnectBaselineCPU.
func (c *conn) BaselineCPU(xmls []string, flags uint32) (string, error) {
	return cpuapi.Baseline(virerr.FromQemu, "qemuConnectBaselineCPU", xmls, flags, true)
}

// lookupHVCaps resolves emulator, arch, machine and virt type as
// libvirt's virQEMUCapsCacheLookupDefault, with its errors.
func (c *conn) lookupHVCaps(emulator, arch, machine, virtType string) (*caps.Caps, string, error) {
	if virtType != "" && virtType != "qemu" && virtType != "kvm" {
		if !knownVirtType(virtType) {
			return nil, "", virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unknown virttype: %s", virtType)
		}
	}
	if arch != "" && !cpuapi.KnownArch(arch) {
		return nil, "", virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unknown architecture: %s", arch)
	}
	if emulator == "" {
		if arch != "" && arch != hostArch() {
			return nil, "", virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported, "unable to find any emulator to serve '%s' architecture", arch)
		}
		emulator = c.d.cfg.Emulator
	}
	qc, err := c.d.caps.get(context.Background(), emulator)
	if err != nil {
		return nil, "", err
	}
	if arch != "" && arch != qc.Arch && !(isX86(arch) && isX86(qc.Arch)) {
		return nil, "", virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "architecture from emulator '%s' doesn't match given architecture '%s'", qc.Arch, arch)
	}
	capsType := "qemu"
	if qc.KVM.Enabled {
		capsType = "kvm"
	}
	if virtType == "" {
		virtType = capsType
	}
	if virtType != "qemu" && capsType == "qemu" {
		return nil, "", virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "the accel '%s' is not supported by '%s' on this host", virtType, emulator)
	}
	if virtType != "qemu" && virtType != "kvm" {
		return nil, "", virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "the accel '%s' is not supported by '%s' on this host", virtType, emulator)
	}
	if machine != "" {
		if _, ok := qc.Machine(virtType, machine); !ok {
			return nil, "", virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "the machine '%s' is not supported by emulator '%s'", machine, emulator)
		}
	}
	return qc, virtType, nil
}

func isX86(a string) bool { return a == "x86_64" || a == "i686" }

// knownVirtType lists libvirt's domain virt types.
func knownVirtType(t string) bool {
	switch t {
	case "none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware", "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz":
		return true
	}
	return false
}

// CompareHypervisorCPU is virConnectCompareHypervisorCPU: on x86 the CPU
// is compared with the host-model CPU QEMU offers (not the bare host).
func (c *conn) CompareHypervisorCPU(emulator, arch, machine, virtType, xml string, flags uint32) (int32, error) {
	const allowed = cpuapi.CompareFailIncompatible | cpuapi.CompareValidateXML
	if flags&^allowed != 0 {
		return -1, virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unsupported flags (0x%x) in function qemuConnectCompareHypervisorCPU", flags&^allowed)
	}
	qc, vt, err := c.lookupHVCaps(emulator, arch, machine, virtType)
	if err != nil {
		return -1, err
	}
	hv, err := qc.HostModelCPU(vt)
	if err != nil {
		return -1, cpuapi.Convert(err)
	}
	if hv == nil {
		return -1, virerr.New(virerr.FromQemu, virerr.ErrOperationUnsupported, "QEMU '%s' does not support reporting CPU model for virttype '%s'", qc.Binary, vt)
	}
	if !isX86(qc.Arch) {
		return -1, virerr.New(virerr.FromQemu, virerr.ErrOperationUnsupported, "comparing with the hypervisor CPU is not supported for arch %s", qc.Arch)
	}
	return cpuapi.Compare(virerr.FromQemu, "qemuConnectCompareHypervisorCPU", hv, xml, flags)
}

// BaselineHypervisorCPU is virConnectBaselineHypervisorCPU: the baseline
// limited to the models and features this QEMU offers.
func (c *conn) BaselineHypervisorCPU(emulator, arch, machine, virtType string, xmls []string, flags uint32) (string, error) {
	const allowed = cpuapi.BaselineExpandFeatures | cpuapi.BaselineMigratable
	if flags&^allowed != 0 {
		return "", virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unsupported flags (0x%x) in function qemuConnectBaselineHypervisorCPU", flags&^allowed)
	}
	cpus, err := cpuapi.ParseList(xmls, "")
	if err != nil {
		return "", err
	}
	qc, vt, err := c.lookupHVCaps(emulator, arch, machine, virtType)
	if err != nil {
		return "", err
	}
	if len(qc.CPUModelsFor(vt)) == 0 {
		return "", virerr.New(virerr.FromQemu, virerr.ErrOperationUnsupported, "QEMU '%s' does not support any CPU models for virttype '%s'", qc.Binary, vt)
	}
	if !isX86(qc.Arch) {
		return "", virerr.New(virerr.FromQemu, virerr.ErrOperationUnsupported, "computing baseline hypervisor CPU is not supported for arch %s", qc.Arch)
	}
	migratable := flags&cpuapi.BaselineMigratable != 0
	var features []string
	if h := qc.HostCPUFor(vt); h != nil {
		features = h.FeatureNames(migratable, cpux86.FeatureFromQEMU)
		// QEMU already said which features migrate
		migratable = false
	}
	return cpuapi.BaselineWith(cpus, qc.HVModels(vt), features, migratable, flags&cpuapi.BaselineExpandFeatures != 0)
}

// fillHostCPUModel names the host CPU in the capabilities as libvirt does
// from CPUID: the closest cpu_map model, vendor and extra features. A host
// whose CPU cannot be read keeps an anonymous <cpu>.
func fillHostCPUModel(cpu *conf.CapsHostCPU) {
	h, err := hostCPU()
	if err != nil || h == nil {
		return
	}
	cpu.Model, cpu.Vendor = h.Model, h.Vendor
	for _, f := range h.Features {
		cpu.Features = append(cpu.Features, f.Name)
	}
}
