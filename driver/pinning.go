package driver

// IOThreadInfo is one virDomainIOThreadInfo: an iothread and the host CPUs
// it may run on.
type IOThreadInfo struct {
	ID   uint32
	CPUs []int
}

// DomainPinning is virsh vcpupin, emulatorpin, iothreadinfo and
// iothreadpin: which host CPUs a guest's threads may run on, read from
// and written to the live or persistent definition (flags are
// virDomainModificationImpact). CPU sets are host CPU numbers, sorted.
type DomainPinning interface {
	// DomainGetVcpuPinInfo returns one set per vCPU up to the
	// definition's maximum.
	DomainGetVcpuPinInfo(d Domain, flags uint32) ([][]int, error)
	DomainPinVcpu(d Domain, vcpu uint32, cpus []int, flags uint32) error
	DomainGetEmulatorPinInfo(d Domain, flags uint32) ([]int, error)
	DomainPinEmulator(d Domain, cpus []int, flags uint32) error
	DomainGetIOThreadInfo(d Domain, flags uint32) ([]IOThreadInfo, error)
	DomainPinIOThread(d Domain, id uint32, cpus []int, flags uint32) error
}

// DomainIOThreads adds and removes a guest's iothreads
// (virDomainAddIOThread, virDomainDelIOThread).
type DomainIOThreads interface {
	DomainAddIOThread(d Domain, id uint32, flags uint32) error
	DomainDelIOThread(d Domain, id uint32, flags uint32) error
}

// DomainIOThreadParams changes an iothread's polling and thread-pool
// settings (virDomainSetIOThreadParams).
type DomainIOThreadParams interface {
	DomainSetIOThreadParams(d Domain, id uint32, params []TypedParam, flags uint32) error
}
