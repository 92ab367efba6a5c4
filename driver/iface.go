package driver

// InterfaceEditor defines, starts and stops host interfaces and runs
// their change transactions (virInterfaceChangeBegin/Commit/Rollback).
type InterfaceEditor interface {
	InterfaceDefineXML(xml string, flags uint32) (Interface, error)
	InterfaceUndefine(i Interface) error
	InterfaceCreate(i Interface, flags uint32) error
	InterfaceDestroy(i Interface, flags uint32) error
	InterfaceChangeBegin(flags uint32) error
	InterfaceChangeCommit(flags uint32) error
	InterfaceChangeRollback(flags uint32) error
}

// InterfaceCounting answers the older interface list calls
// (virConnectNumOfInterfaces, ListDefinedInterfaces, ...) for a driver
// whose "defined" interfaces are not simply the inactive ones of
// ListAllInterfaces: libvirt's udev backend counts an interface as
// active when its operstate is "up" and as defined when it is "down".
type InterfaceCounting interface {
	InterfaceNames(active bool) ([]string, error)
}
