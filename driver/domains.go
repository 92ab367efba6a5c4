package driver

import "govirt/uuid"

// DomainInfo is virDomainInfo.
type DomainInfo struct {
	State     State
	MaxMem    uint64 // KiB
	Memory    uint64 // KiB
	NrVirtCPU uint16
	CPUTime   uint64 // ns
}

// VcpuInfo is virVcpuInfo.
type VcpuInfo struct {
	Number  uint32
	State   int32
	CPUTime uint64
	CPU     int32
}

// SecurityLabel is virSecurityLabel.
type SecurityLabel struct {
	Label     string
	Enforcing bool
}

// SecurityModel is virSecurityModel.
type SecurityModel struct {
	Model string
	DOI   string
}

// BlockStats is the legacy virDomainBlockStatsStruct.
type BlockStats struct {
	RdReq, RdBytes, WrReq, WrBytes, Errs int64
}

// InterfaceStats is virDomainInterfaceStatsStruct.
type InterfaceStats struct {
	RxBytes, RxPackets, RxErrs, RxDrop int64
	TxBytes, TxPackets, TxErrs, TxDrop int64
}

// MemoryStat is one virDomainMemoryStatStruct.
type MemoryStat struct {
	Tag int32
	Val uint64
}

// DomainStats is one record of virConnectGetAllDomainStats.
type DomainStats struct {
	Dom    Domain
	Params []TypedParam
}

// Domains is the core domain API every driver with guests implements.
// Reads are answered from cached state and never wait on a busy guest.
type Domains interface {
	ListAllDomains(flags uint32) ([]Domain, error)
	LookupDomainByName(name string) (Domain, error)
	LookupDomainByUUID(u uuid.UUID) (Domain, error)
	LookupDomainByID(id int32) (Domain, error)

	DomainDefineXML(xml string, flags uint32) (Domain, error)
	DomainUndefine(d Domain, flags uint32) error
	DomainCreateXML(xml string, flags uint32) (Domain, error)
	// DomainCreate starts a defined domain and returns it with its new id.
	DomainCreate(d Domain, flags uint32) (Domain, error)
	DomainDestroy(d Domain, flags uint32) error

	DomainGetInfo(d Domain) (DomainInfo, error)
	DomainGetState(d Domain, flags uint32) (state State, reason int32, err error)
	DomainGetXMLDesc(d Domain, flags uint32) (string, error)
	DomainGetOSType(d Domain) (string, error)
	DomainGetMaxMemory(d Domain) (uint64, error)
	DomainGetAutostart(d Domain) (bool, error)
	DomainSetAutostart(d Domain, on bool) error
	DomainIsActive(d Domain) (bool, error)
	DomainIsPersistent(d Domain) (bool, error)
	DomainIsUpdated(d Domain) (bool, error)
}

// DomainControl changes a running guest's run state.
type DomainControl interface {
	DomainShutdown(d Domain, flags uint32) error
	DomainReboot(d Domain, flags uint32) error
	DomainReset(d Domain, flags uint32) error
	DomainSuspend(d Domain) error
	DomainResume(d Domain) error
}

// DomainSaver saves guest memory to files and restores it.
type DomainSaver interface {
	DomainSave(d Domain, path, dxml string, flags uint32) error
	DomainRestore(path, dxml string, flags uint32) error
	DomainManagedSave(d Domain, flags uint32) error
	DomainHasManagedSaveImage(d Domain, flags uint32) (bool, error)
	DomainManagedSaveRemove(d Domain, flags uint32) error
}

// DomainTuner changes resources.
type DomainTuner interface {
	DomainSetMemoryFlags(d Domain, kib uint64, flags uint32) error
	DomainSetMaxMemory(d Domain, kib uint64) error
	DomainSetVcpusFlags(d Domain, n uint32, flags uint32) error
	DomainGetVcpusFlags(d Domain, flags uint32) (int32, error)
	DomainGetMaxVcpus(d Domain) (int32, error)
	DomainGetVcpus(d Domain, maxinfo int32, maplen int32) ([]VcpuInfo, []byte, error)
}

// DomainParams gets and sets typed-parameter tunables (memtune, blkiotune,
// schedinfo). Returned parameter lists are complete; the dispatcher trims
// them to what the caller asked for.
type DomainParams interface {
	DomainGetSchedulerType(d Domain) (string, int32, error)
	DomainGetSchedulerParameters(d Domain, flags uint32) ([]TypedParam, error)
	DomainSetSchedulerParameters(d Domain, params []TypedParam, flags uint32) error
	DomainGetMemoryParameters(d Domain, flags uint32) ([]TypedParam, error)
	DomainSetMemoryParameters(d Domain, params []TypedParam, flags uint32) error
	DomainGetBlkioParameters(d Domain, flags uint32) ([]TypedParam, error)
	DomainSetBlkioParameters(d Domain, params []TypedParam, flags uint32) error
}

// DomainCPUStatser reports a guest's CPU time (virDomainGetCPUStats).
// With startCPU -1 it returns the totals, else one group of parameters
// per host CPU from startCPU, flattened; n is what libvirt's call returns
// (the parameter count per CPU, or a count asked for with nparams 0).
type DomainCPUStatser interface {
	DomainGetCPUStats(d Domain, nparams uint32, startCPU int32, ncpus uint32, flags uint32) (params []TypedParam, n int32, err error)
}

// DomainStatser reports statistics.
type DomainStatser interface {
	DomainBlockStats(d Domain, path string) (BlockStats, error)
	DomainBlockStatsFlags(d Domain, path string, flags uint32) ([]TypedParam, error)
	DomainInterfaceStats(d Domain, dev string) (InterfaceStats, error)
	DomainMemoryStats(d Domain, max uint32, flags uint32) ([]MemoryStat, error)
	GetAllDomainStats(doms []Domain, stats uint32, flags uint32) ([]DomainStats, error)
}

// DomainSecurity reports security labels.
type DomainSecurity interface {
	NodeGetSecurityModel() (SecurityModel, error)
	DomainGetSecurityLabel(d Domain) (SecurityLabel, error)
	DomainGetMessages(d Domain, flags uint32) ([]string, error)
}

// DomainDevices changes a guest's devices.
type DomainDevices interface {
	DomainAttachDeviceFlags(d Domain, xml string, flags uint32) error
	DomainDetachDeviceFlags(d Domain, xml string, flags uint32) error
	DomainUpdateDeviceFlags(d Domain, xml string, flags uint32) error
}

// DomainSnapshots manages snapshot metadata.
type DomainSnapshots interface {
	DomainSnapshotCreateXML(d Domain, xml string, flags uint32) (Snapshot, error)
	DomainListAllSnapshots(d Domain, flags uint32) ([]Snapshot, error)
	DomainSnapshotNum(d Domain, flags uint32) (int32, error)
	DomainSnapshotLookupByName(d Domain, name string, flags uint32) (Snapshot, error)
	DomainSnapshotGetXMLDesc(s Snapshot, flags uint32) (string, error)
	DomainSnapshotCurrent(d Domain, flags uint32) (Snapshot, error)
	DomainHasCurrentSnapshot(d Domain, flags uint32) (bool, error)
	DomainSnapshotGetParent(s Snapshot, flags uint32) (Snapshot, error)
	DomainSnapshotIsCurrent(s Snapshot, flags uint32) (bool, error)
	DomainSnapshotHasMetadata(s Snapshot, flags uint32) (bool, error)
	DomainSnapshotListAllChildren(s Snapshot, flags uint32) ([]Snapshot, error)
	DomainSnapshotDelete(s Snapshot, flags uint32) error
	DomainRevertToSnapshot(s Snapshot, flags uint32) error
}

// DomainSecurityLabelLister reports every security driver's label of a
// guest (virDomainGetSecurityLabelList).
type DomainSecurityLabelLister interface {
	DomainGetSecurityLabelList(d Domain) ([]SecurityLabel, error)
}
