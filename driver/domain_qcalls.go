package driver

// DomainMigrationParams reads and changes the migration parameters of a
// running guest (virDomainMigrate{Get,Set}{MaxDowntime,MaxSpeed,
// CompressionCache}).
type DomainMigrationParams interface {
	DomainMigrateGetMaxDowntime(d Domain, flags uint32) (uint64, error)
	DomainMigrateSetMaxDowntime(d Domain, downtime uint64, flags uint32) error
	DomainMigrateGetMaxSpeed(d Domain, flags uint32) (uint64, error)
	DomainMigrateSetMaxSpeed(d Domain, bandwidth uint64, flags uint32) error
	DomainMigrateGetCompressionCache(d Domain, flags uint32) (uint64, error)
	DomainMigrateSetCompressionCache(d Domain, size uint64, flags uint32) error
}

// DomainVcpuSetter enables or disables individual vCPUs
// (virDomainSetVcpu); cpumap is libvirt's bitmap syntax ("1,3-4").
type DomainVcpuSetter interface {
	DomainSetVcpu(d Domain, cpumap string, state int32, flags uint32) error
}

// DomainBlockThresholder arms a write threshold on a disk or one image of
// its chain (virDomainSetBlockThreshold); crossing it raises
// EventIDBlockThreshold.
type DomainBlockThresholder interface {
	DomainSetBlockThreshold(d Domain, dev string, threshold uint64, flags uint32) error
}

// BlockThreshold is the payload of EventIDBlockThreshold: Dev is the
// disk target, with "[index]" for an image below the top; Path is the
// image's path ("" when it has none).
type BlockThreshold struct {
	Dev       string
	Path      string
	Threshold uint64
	Excess    uint64
}

// DomainDirtyRater starts a memory dirty rate measurement
// (virDomainStartDirtyRateCalc); results come with the dirtyrate stats.
type DomainDirtyRater interface {
	DomainStartDirtyRateCalc(d Domain, seconds int32, flags uint32) error
}

// StoragePoolCapser describes the storage pool types a connection
// handles (virConnectGetStoragePoolCapabilities).
type StoragePoolCapser interface {
	ConnectGetStoragePoolCapabilities(flags uint32) (string, error)
}
