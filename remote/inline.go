package remote

import "govirt/rpc/procs"

// Inline tells the RPC layer which calls may run on the connection's
// reader goroutine instead of a goroutine of their own. The starting point
// is libvirt's own choice, "@priority: high" in remote_protocol.x
// (procs.Info.High): calls libvirtd may answer on its priority workers
// because they never wait on a guest. govirt adjusts it in two ways,
// listed below, because here a blocking call would stall every later
// message of the connection, keepalives included.
func (h *handler) Inline(prog uint32, proc int32) bool {
	if prog != ProgRemote {
		return false
	}
	if inlineExtra[proc] {
		return true
	}
	if offReader[proc] {
		return false
	}
	i := procs.Lookup(ProgRemote, proc)
	return i != nil && i.High
}

// inlineExtra are calls libvirt leaves at low priority (its drivers may
// ask the hypervisor) that govirt's drivers answer from cached state.
var inlineExtra = map[int32]bool{
	procs.DomainGetInfo:    true,
	procs.DomainGetXMLDesc: true,
}

// offReader are high-priority calls that govirt runs on their own
// goroutine: they change state on disk, start or stop processes, read
// host files or the guest, or open and close the driver connection.
var offReader = map[int32]bool{
	procs.ConnectOpen: true, procs.ConnectClose: true, procs.ConnectGetSysinfo: true,
	procs.DomainDefineXML: true, procs.DomainDefineXMLFlags: true, procs.DomainUndefine: true,
	procs.DomainUndefineFlags: true, procs.DomainDestroy: true, procs.DomainDestroyFlags: true,
	procs.DomainSetAutostart: true, procs.DomainSetMaxMemory: true,
	procs.DomainGetMaxVcpus: true, procs.DomainGetVcpus: true, procs.DomainInterfaceStats: true,
	procs.DomainSaveImageGetXMLDesc: true, procs.DomainSaveImageDefineXML: true,
	procs.NetworkDefineXML: true, procs.NetworkDefineXMLFlags: true, procs.NetworkCreateXMLFlags: true,
	procs.NetworkDestroy: true, procs.NetworkSetAutostart: true, procs.NetworkUndefine: true, procs.NetworkUpdate: true,
	procs.StoragePoolDefineXML: true, procs.StoragePoolDestroy: true, procs.StoragePoolUndefine: true,
	procs.StoragePoolSetAutostart: true, procs.StorageVolGetInfo: true, procs.StorageVolGetInfoFlags: true,
	procs.StorageVolGetXMLDesc: true, procs.StorageVolLookupByPath: true,
	procs.NodeGetCellsFreeMemory: true, procs.NodeGetFreeMemory: true, procs.NodeGetFreePages: true,
	procs.NodeGetCPUStats: true, procs.NodeGetMemoryStats: true,
	procs.SecretDefineXML: true, procs.SecretSetValue: true, procs.SecretUndefine: true,
	procs.InterfaceDefineXML: true, procs.InterfaceUndefine: true, procs.InterfaceDestroy: true,
	procs.NodeDeviceDestroy: true, procs.NodeDeviceCreate: true, procs.NodeDeviceUndefine: true,
	procs.NodeDeviceSetAutostart: true, procs.NwfilterDefineXML: true, procs.NwfilterDefineXMLFlags: true,
	procs.NwfilterUndefine: true, procs.NwfilterBindingCreateXML: true, procs.NwfilterBindingDelete: true,
	procs.AuthSaslInit: true, procs.AuthSaslStart: true, procs.AuthSaslStep: true, procs.AuthPolkit: true,

	// Not (yet) shown to answer from cached state in govirt's drivers:
	// storage calls that may wait behind a pool operation, snapshot calls
	// that may wait behind a domain job, and the domain control state.
	procs.StoragePoolLookupByVolume: true, procs.StoragePoolLookupByTargetPath: true,
	procs.StoragePoolGetXMLDesc: true, procs.StoragePoolNumOfVolumes: true, procs.StoragePoolListVolumes: true,
	procs.StorageVolLookupByKey: true, procs.StorageVolGetPath: true,
	procs.DomainSnapshotGetXMLDesc: true, procs.DomainSnapshotNum: true, procs.DomainSnapshotListNames: true,
	procs.DomainSnapshotLookupByName: true, procs.DomainSnapshotGetParent: true,
	procs.DomainSnapshotNumChildren: true, procs.DomainSnapshotListChildrenNames: true,
	procs.DomainListAllSnapshots: true, procs.DomainSnapshotListAllChildren: true,
	procs.DomainGetControlInfo: true, procs.DomainGetSecurityLabelList: true,
}
