package driver

// DomainControlInfo is virDomainControlInfo.
type DomainControlInfo struct {
	State, Details uint32
	StateTime      uint64 // ms
}

// DiskError is virDomainDiskError.
type DiskError struct {
	Disk  string
	Error int32
}

// DomainHostCalls are everyday calls on a running guest that need no
// agent.
type DomainHostCalls interface {
	DomainInjectNMI(d Domain, flags uint32) error
	DomainGetControlInfo(d Domain, flags uint32) (DomainControlInfo, error)
	// DomainGetDiskErrors returns at most max errors; with max 0 it
	// returns the number of disks as count, as libvirt does.
	DomainGetDiskErrors(d Domain, max uint32, flags uint32) (errs []DiskError, count int32, err error)
}

// DomainAgentCalls need the guest agent.
type DomainAgentCalls interface {
	DomainGetTime(d Domain, flags uint32) (sec int64, nsec uint32, err error)
	DomainSetTime(d Domain, sec int64, nsec uint32, flags uint32) error
	DomainSetUserPassword(d Domain, user, password string, flags uint32) error
}

// MetadataChange is the payload of EventIDMetadataChange; URI is set for
// element metadata only.
type MetadataChange struct {
	Type int32
	URI  string
}

// DomainMetadata reads and changes a domain's title, description and
// <metadata> elements (virDomainGetMetadata, virDomainSetMetadata).
type DomainMetadata interface {
	DomainGetMetadata(d Domain, typ int32, uri string, flags uint32) (string, error)
	// DomainSetMetadata: metadata nil removes.
	DomainSetMetadata(d Domain, typ int32, metadata *string, key, uri string, flags uint32) error
}

// DomainKeys sends key presses (virDomainSendKey).
type DomainKeys interface {
	DomainSendKey(d Domain, codeset, holdtime uint32, keycodes []uint32, flags uint32) error
}

// DomainHostnames reports a guest's host name (virDomainGetHostname).
type DomainHostnames interface {
	DomainGetHostname(d Domain, flags uint32) (string, error)
}

// DomainLifecycle changes on_poweroff, on_reboot and on_crash
// (virDomainSetLifecycleAction); type and action are range-checked.
type DomainLifecycle interface {
	DomainSetLifecycleAction(d Domain, typ, action uint32, flags uint32) error
}

// LifecycleTypes and LifecycleActions are libvirt's names of
// virDomainLifecycle and virDomainLifecycleAction.
var (
	LifecycleTypes   = []string{"poweroff", "reboot", "crash"}
	LifecycleActions = []string{"destroy", "restart", "rename-restart", "preserve", "coredump-destroy", "coredump-restart"}
)
