package driver

// virDomainSnapshotCreateFlags.
const (
	SnapCreateRedefine   = 1 << 0
	SnapCreateCurrent    = 1 << 1
	SnapCreateNoMetadata = 1 << 2
	SnapCreateHalt       = 1 << 3
	SnapCreateDiskOnly   = 1 << 4
	SnapCreateReuseExt   = 1 << 5
	SnapCreateQuiesce    = 1 << 6
	SnapCreateAtomic     = 1 << 7
	SnapCreateLive       = 1 << 8
	SnapCreateValidate   = 1 << 9
)
