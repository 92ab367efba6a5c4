package driver

// NodeDevices is the node device API (virNodeDevice*, virNodeListDevices)
// of a driver that has host devices; devices are named.
type NodeDevices interface {
	ListAllNodeDevices(flags uint32) ([]string, error)
	// NodeNumOfDevices and NodeListDevices filter by capability name;
	// cap "" lists all.
	NodeNumOfDevices(cap string, flags uint32) (int32, error)
	NodeListDevices(cap string, maxnames int32, flags uint32) ([]string, error)
	LookupNodeDeviceByName(name string) (string, error)
	NodeDeviceGetXMLDesc(name string, flags uint32) (string, error)
	NodeDeviceGetParent(name string) (string, error)
	NodeDeviceNumOfCaps(name string) (int32, error)
	NodeDeviceListCaps(name string, maxnames int32) ([]string, error)
	NodeDeviceCreateXML(xml string, flags uint32) (string, error)
	NodeDeviceDestroy(name string) error
}

// NodeDeviceEvent is a node device event: a lifecycle event
// (VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE) or, with Update set, an update.
type NodeDeviceEvent struct {
	Name   string
	Update bool
	Event  int32
	Detail int32
}

// NodeDeviceEventSource is a connection whose node device events cost
// work only while someone listens: a registration holds them on until
// the returned func is called (once, at deregistration or disconnect).
type NodeDeviceEventSource interface {
	HoldNodeDeviceEvents() (release func())
}

// Node device lifecycle event types.
const (
	NodeDeviceEventCreated   int32 = 0
	NodeDeviceEventDeleted   int32 = 1
	NodeDeviceEventDefined   int32 = 2
	NodeDeviceEventUndefined int32 = 3
)

// NodeDeviceAssign detaches PCI functions from their host drivers for
// guests and gives them back (virNodeDeviceDetachFlags, ReAttach,
// Reset); a hypervisor driver's calls in libvirt.
type NodeDeviceAssign interface {
	NodeDeviceDetachFlags(name, driverName string, flags uint32) error
	NodeDeviceReAttach(name string) error
	NodeDeviceReset(name string) error
}

// NodeDeviceByWWN finds an FC HBA by its WWNs
// (virNodeDeviceLookupSCSIHostByWWN).
type NodeDeviceByWWN interface {
	LookupSCSIHostByWWN(wwnn, wwpn string, flags uint32) (string, error)
}

// NodeDeviceStates answers the persistent-device calls of libvirt 7.3+
// (virNodeDeviceIsActive, IsPersistent, Get/SetAutostart, Create,
// Undefine, DefineXML), which only mediated devices really use.
type NodeDeviceStates interface {
	NodeDeviceIsActive(name string) (bool, error)
	NodeDeviceIsPersistent(name string) (bool, error)
	NodeDeviceGetAutostart(name string) (bool, error)
	NodeDeviceSetAutostart(name string, on bool) error
	NodeDeviceCreate(name string, flags uint32) error
	NodeDeviceUndefine(name string, flags uint32) error
	NodeDeviceDefineXML(xml string, flags uint32) (string, error)
}
