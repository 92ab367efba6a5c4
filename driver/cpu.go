package driver

// The host-side CPU API of a connection (libvirt's CPU driver): virsh
// cpu-models, cpu-compare and cpu-baseline; separate because libvirt's
// test driver has the first and the last only.
type CPUModelNames interface {
	GetCPUModelNames(arch string, flags uint32) ([]string, error)
}

// CPUCompare is virConnectCompareCPU.
type CPUCompare interface {
	CompareCPU(xml string, flags uint32) (int32, error)
}

// CPUBaseline is virConnectBaselineCPU.
type CPUBaseline interface {
	BaselineCPU(xmls []string, flags uint32) (string, error)
}

// HypervisorCPUs compares and baselines CPUs against what the hypervisor
// (a QEMU binary, machine and accelerator) can provide: virsh
// hypervisor-cpu-compare and hypervisor-cpu-baseline.
type HypervisorCPUs interface {
	CompareHypervisorCPU(emulator, arch, machine, virtType, xml string, flags uint32) (int32, error)
	BaselineHypervisorCPU(emulator, arch, machine, virtType string, xmls []string, flags uint32) (string, error)
}
