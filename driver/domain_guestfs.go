package driver

// FSInfo is virDomainFSInfo: a mounted guest file system and the disks
// (target names) it lives on.
type FSInfo struct {
	Mountpoint, Name, Fstype string
	DevAliases               []string
}

// DomainGuestFS are the guest file system calls (virDomainFSFreeze,
// virDomainFSThaw, virDomainFSTrim, virDomainGetFSInfo); a real driver
// answers them through the guest agent.
type DomainGuestFS interface {
	// DomainFSFreeze and DomainFSThaw return how many file systems
	// changed state; no mount points means all.
	DomainFSFreeze(d Domain, mountpoints []string, flags uint32) (int32, error)
	DomainFSThaw(d Domain, mountpoints []string, flags uint32) (int32, error)
	// DomainFSTrim: mountPoint nil means every file system.
	DomainFSTrim(d Domain, mountPoint *string, minimum uint64, flags uint32) error
	DomainGetFSInfo(d Domain, flags uint32) ([]FSInfo, error)
}

// DomainProcessSignaler sends a signal to a guest process
// (virDomainSendProcessSignal); signum is libvirt's portable number.
type DomainProcessSignaler interface {
	DomainSendProcessSignal(d Domain, pid int64, signum uint32, flags uint32) error
}
