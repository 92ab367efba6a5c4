package driver

// DomainPinning pins vCPUs and the emulator threads to host CPUs. CPU maps
// are libvirt's byte bitmaps (bit i of byte i/8 for CPU i).
type DomainPinning interface {
	DomainPinVcpuFlags(d Domain, vcpu uint32, cpumap []byte, flags uint32) error
	// DomainGetVcpuPinInfo returns ncpumaps maps of maplen bytes (fewer
	// when the domain has fewer vCPUs) and their count.
	DomainGetVcpuPinInfo(d Domain, ncpumaps, maplen int32, flags uint32) ([]byte, int32, error)
	DomainPinEmulator(d Domain, cpumap []byte, flags uint32) error
	// DomainGetEmulatorPinInfo returns one map of maplen bytes and 1.
	DomainGetEmulatorPinInfo(d Domain, maplen int32, flags uint32) ([]byte, int32, error)
}
