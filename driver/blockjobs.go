package driver

// DomainBlockJobs runs and controls block jobs (commit, copy, pull) on a
// running guest's disks. Disk arguments are a target ("vda"), a target
// with a backing-chain index ("vda[2]") or an image path, as in libvirt.
type DomainBlockJobs interface {
	DomainBlockCommit(d Domain, disk, base, top string, bandwidth uint64, flags uint32) error
	DomainBlockCopy(d Domain, disk, destXML string, params []TypedParam, flags uint32) error
	DomainBlockRebase(d Domain, disk, base string, bandwidth uint64, flags uint32) error
	DomainBlockPull(d Domain, disk string, bandwidth uint64, flags uint32) error
	DomainBlockJobAbort(d Domain, disk string, flags uint32) error
	// DomainGetBlockJobInfo reports found=false when the disk has no job.
	DomainGetBlockJobInfo(d Domain, disk string, flags uint32) (info BlockJobInfo, found bool, err error)
	DomainBlockJobSetSpeed(d Domain, disk string, bandwidth uint64, flags uint32) error
}

// DomainBlockInfoer reports a disk image's sizes (virDomainGetBlockInfo).
type DomainBlockInfoer interface {
	DomainGetBlockInfo(d Domain, disk string, flags uint32) (BlockInfo, error)
}

// BlockJobInfo is virDomainBlockJobInfo.
type BlockJobInfo struct {
	Type      int32
	Bandwidth uint64 // MiB/s, or bytes/s with BlockJobInfoBandwidthBytes
	Cur, End  uint64
}

// BlockInfo is virDomainBlockInfo.
type BlockInfo struct {
	Capacity, Allocation, Physical uint64
}

// Block job types (virDomainBlockJobType); also the Type of BlockJob events.
const (
	BlockJobTypeUnknown      int32 = 0
	BlockJobTypePull         int32 = 1
	BlockJobTypeCopy         int32 = 2
	BlockJobTypeCommit       int32 = 3
	BlockJobTypeActiveCommit int32 = 4
	BlockJobTypeBackup       int32 = 5
)

// Block job event statuses (virConnectDomainEventBlockJobStatus).
const (
	BlockJobCompleted int32 = 0
	BlockJobFailed    int32 = 1
	BlockJobCanceled  int32 = 2
	BlockJobReady     int32 = 3
)

// virDomainBlockJobAbortFlags.
const (
	BlockJobAbortAsync uint32 = 1 << 0
	BlockJobAbortPivot uint32 = 1 << 1
)

// virDomainBlockJobInfoFlags and virDomainBlockJobSetSpeedFlags share the
// bit: bandwidth in bytes/s instead of MiB/s.
const BlockJobInfoBandwidthBytes uint32 = 1 << 0

// virDomainBlockCommitFlags.
const (
	BlockCommitShallow        uint32 = 1 << 0
	BlockCommitDelete         uint32 = 1 << 1
	BlockCommitActive         uint32 = 1 << 2
	BlockCommitRelative       uint32 = 1 << 3
	BlockCommitBandwidthBytes uint32 = 1 << 4
)

// virDomainBlockRebaseFlags.
const (
	BlockRebaseShallow        uint32 = 1 << 0
	BlockRebaseReuseExt       uint32 = 1 << 1
	BlockRebaseCopyRaw        uint32 = 1 << 2
	BlockRebaseCopy           uint32 = 1 << 3
	BlockRebaseRelative       uint32 = 1 << 4
	BlockRebaseCopyDev        uint32 = 1 << 5
	BlockRebaseBandwidthBytes uint32 = 1 << 6
)

// virDomainBlockPullFlags.
const BlockPullBandwidthBytes uint32 = 1 << 6

// virDomainBlockCopyFlags.
const (
	BlockCopyShallow           uint32 = 1 << 0
	BlockCopyReuseExt          uint32 = 1 << 1
	BlockCopyTransientJob      uint32 = 1 << 2
	BlockCopySynchronousWrites uint32 = 1 << 3
)

// virDomainBlockCopy typed parameters.
const (
	BlockCopyParamBandwidth   = "bandwidth"   // ullong, bytes/s
	BlockCopyParamGranularity = "granularity" // uint
	BlockCopyParamBufSize     = "buf-size"    // ullong
)
