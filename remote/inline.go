package remote

import "govirt/rpc/procs"

// inlineProcs are the procedures answered from cached state without ever
// waiting on a guest, a job or the disk; the RPC layer runs them on the
// connection's reader goroutine. Anything that may block must stay out.
var inlineProcs = map[int32]bool{
	procs.AuthList: true, procs.ConnectSupportsFeature: true, procs.ConnectGetLibVersion: true,
	procs.ConnectGetType: true, procs.ConnectGetVersion: true, procs.ConnectGetURI: true,
	procs.ConnectGetMaxVcpus: true, procs.NodeGetInfo: true, procs.ConnectIsSecure: true,
	procs.ConnectListAllDomains: true, procs.ConnectNumOfDomains: true, procs.ConnectListDomains: true,
	procs.ConnectNumOfDefinedDomains: true, procs.ConnectListDefinedDomains: true,
	procs.DomainLookupByName: true, procs.DomainLookupByUUID: true, procs.DomainLookupByID: true,
	procs.DomainGetInfo: true, procs.DomainGetState: true, procs.DomainGetXMLDesc: true,
	procs.DomainGetOSType: true, procs.DomainGetMaxMemory: true, procs.DomainGetAutostart: true,
	procs.DomainIsActive: true, procs.DomainIsPersistent: true, procs.DomainIsUpdated: true,
	procs.DomainGetSecurityLabel: true, procs.NodeGetSecurityModel: true,
	procs.ConnectListAllNetworks: true, procs.NetworkLookupByName: true, procs.NetworkLookupByUUID: true,
	procs.NetworkGetXMLDesc: true, procs.NetworkIsActive: true, procs.NetworkIsPersistent: true,
	procs.NetworkGetAutostart: true, procs.NetworkGetBridgeName: true,
	procs.ConnectListAllStoragePools: true, procs.StoragePoolLookupByName: true,
	procs.StoragePoolLookupByUUID: true, procs.StoragePoolGetInfo: true, procs.StoragePoolIsActive: true,
	procs.StoragePoolIsPersistent: true, procs.StoragePoolGetAutostart: true,
	procs.StoragePoolListAllVolumes: true, procs.StorageVolLookupByName: true,
}

// Inline tells the RPC layer which calls may run on the reader goroutine.
func (h *handler) Inline(prog uint32, proc int32) bool {
	return prog == ProgRemote && inlineProcs[proc]
}
