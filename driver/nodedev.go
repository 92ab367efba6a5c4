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

// Node device lifecycle event types.
const (
	NodeDeviceEventCreated   int32 = 0
	NodeDeviceEventDeleted   int32 = 1
	NodeDeviceEventDefined   int32 = 2
	NodeDeviceEventUndefined int32 = 3
)
