package driver

import (
	"io"

	"govirt/uuid"
)

// Host answers the node-level queries a driver can answer better than the
// daemon's generic fallback.
type Host interface {
	Hostname() (string, error)
	Sysinfo(flags uint32) (string, error)
	MaxVcpus(typ string) (int32, error)
	NodeFreeMemory() (uint64, error)
	NodeCellsFreeMemory(start, max int32) ([]uint64, error)
	// NodeCPUMap returns the online CPU bitmap, the online count and the
	// total CPU count.
	NodeCPUMap(flags uint32) ([]byte, uint32, int32, error)
	DomainCapabilities(emulator, arch, machine, virtType string, flags uint32) (string, error)
}

// NetworkInfo is what net-list/net-info show besides the XML.
type Networks interface {
	ListAllNetworks(flags uint32) ([]Network, error)
	LookupNetworkByName(name string) (Network, error)
	LookupNetworkByUUID(u uuid.UUID) (Network, error)
	NetworkDefineXML(xml string, flags uint32) (Network, error)
	NetworkCreateXML(xml string, flags uint32) (Network, error)
	NetworkUndefine(n Network) error
	NetworkCreate(n Network) error
	NetworkDestroy(n Network) error
	NetworkGetXMLDesc(n Network, flags uint32) (string, error)
	NetworkGetBridgeName(n Network) (string, error)
	NetworkGetAutostart(n Network) (bool, error)
	NetworkSetAutostart(n Network, on bool) error
	NetworkIsActive(n Network) (bool, error)
	NetworkIsPersistent(n Network) (bool, error)
}

// PoolInfo is virStoragePoolInfo.
type PoolInfo struct {
	State      int32
	Capacity   uint64
	Allocation uint64
	Available  uint64
}

// Storage pool states.
const (
	PoolInactive     int32 = 0
	PoolBuilding     int32 = 1
	PoolRunning      int32 = 2
	PoolDegraded     int32 = 3
	PoolInaccessible int32 = 4
)

// VolInfo is virStorageVolInfo.
type VolInfo struct {
	Type       int32
	Capacity   uint64
	Allocation uint64
}

// StoragePools manages pools.
type StoragePools interface {
	ListAllStoragePools(flags uint32) ([]Pool, error)
	LookupStoragePoolByName(name string) (Pool, error)
	LookupStoragePoolByUUID(u uuid.UUID) (Pool, error)
	LookupStoragePoolByVolume(v Vol) (Pool, error)
	StoragePoolDefineXML(xml string, flags uint32) (Pool, error)
	StoragePoolCreateXML(xml string, flags uint32) (Pool, error)
	StoragePoolBuild(p Pool, flags uint32) error
	StoragePoolUndefine(p Pool) error
	StoragePoolCreate(p Pool, flags uint32) error
	StoragePoolDestroy(p Pool) error
	StoragePoolDelete(p Pool, flags uint32) error
	StoragePoolRefresh(p Pool, flags uint32) error
	StoragePoolGetInfo(p Pool) (PoolInfo, error)
	StoragePoolGetXMLDesc(p Pool, flags uint32) (string, error)
	StoragePoolGetAutostart(p Pool) (bool, error)
	StoragePoolSetAutostart(p Pool, on bool) error
	StoragePoolIsActive(p Pool) (bool, error)
	StoragePoolIsPersistent(p Pool) (bool, error)
	StoragePoolNumOfVolumes(p Pool) (int32, error)
}

// StoragePoolSources discovers pool sources on the host
// (virConnectFindStoragePoolSources); drivers without it report "not
// supported".
type StoragePoolSources interface {
	FindStoragePoolSources(typ, srcSpec string, flags uint32) (string, error)
}

// StorageVols manages volumes.
type StorageVols interface {
	StoragePoolListAllVolumes(p Pool, flags uint32) ([]Vol, error)
	LookupStorageVolByName(p Pool, name string) (Vol, error)
	LookupStorageVolByKey(key string) (Vol, error)
	LookupStorageVolByPath(path string) (Vol, error)
	StorageVolCreateXML(p Pool, xml string, flags uint32) (Vol, error)
	StorageVolCreateXMLFrom(p Pool, xml string, clone Vol, flags uint32) (Vol, error)
	StorageVolDelete(v Vol, flags uint32) error
	StorageVolWipe(v Vol, flags uint32) error
	StorageVolResize(v Vol, capacity uint64, flags uint32) error
	StorageVolGetInfo(v Vol) (VolInfo, error)
	StorageVolGetXMLDesc(v Vol, flags uint32) (string, error)
	StorageVolGetPath(v Vol) (string, error)
	// StorageVolUpload writes r into the volume at offset; length 0 means
	// until EOF.
	StorageVolUpload(v Vol, r io.Reader, offset, length uint64, flags uint32) error
	// StorageVolDownload copies length bytes (0: to the end) from offset to w.
	StorageVolDownload(v Vol, w io.Writer, offset, length uint64, flags uint32) error
}

// Interfaces manages host interfaces (read-mostly).
type Interfaces interface {
	ListAllInterfaces(flags uint32) ([]Interface, error)
	LookupInterfaceByName(name string) (Interface, error)
	LookupInterfaceByMACString(mac string) (Interface, error)
	InterfaceGetXMLDesc(i Interface, flags uint32) (string, error)
	InterfaceIsActive(i Interface) (bool, error)
}

// StoragePoolByTarget finds an active pool by its target path
// (virStoragePoolLookupByTargetPath); libvirt's test driver lacks it.
type StoragePoolByTarget interface {
	LookupStoragePoolByTargetPath(path string) (Pool, error)
}

// NodeStat is one virNodeCPUStats or virNodeMemoryStats entry.
type NodeStat struct {
	Field string
	Value uint64
}

// NodeStats reports the host's CPU and memory counters. Each method
// gets the caller's nparams (0: only the count is wanted) and returns the
// entries to send (nil when nparams is 0) and the count.
type NodeStats interface {
	NodeGetCPUStats(cpuNum, nparams int32, flags uint32) ([]NodeStat, int32, error)
}

// NodeMemoryStats is the memory half of NodeStats; libvirt's test driver
// lacks it.
type NodeMemoryStats interface {
	NodeGetMemoryStats(cellNum, nparams int32, flags uint32) ([]NodeStat, int32, error)
}
