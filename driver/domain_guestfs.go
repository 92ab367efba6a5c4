package driver

// DomainGuestCalls are guest-facing calls libvirt's test driver fakes:
// process signals, filesystem freeze/thaw/trim, memory peeks and the
// launch security parameters.
type DomainGuestCalls interface {
	DomainSendProcessSignal(d Domain, pid int64, signum uint32, flags uint32) error
	DomainFSFreeze(d Domain, mountpoints []string, flags uint32) (int32, error)
	DomainFSThaw(d Domain, mountpoints []string, flags uint32) (int32, error)
	// DomainFSTrim: mountpoint nil means all.
	DomainFSTrim(d Domain, mountpoint *string, minimum uint64, flags uint32) error
	DomainMemoryPeek(d Domain, offset uint64, size uint32, flags uint32) ([]byte, error)
	DomainGetLaunchSecurityInfo(d Domain, flags uint32) ([]TypedParam, error)
}

// DomainRenamer renames an inactive persistent domain (virDomainRename).
type DomainRenamer interface {
	DomainRename(d Domain, newName string, flags uint32) error
}
