package driver

import "govirt/uuid"

// NetworkPort identifies a network port (virNetworkPort): its network
// and its UUID.
type NetworkPort struct {
	Net  Network
	UUID uuid.UUID
}

// NetworkPorts is libvirt's network port API (virNetworkPort*,
// virNetworkListAllPorts).
type NetworkPorts interface {
	NetworkListAllPorts(n Network, flags uint32) ([]NetworkPort, error)
	NetworkPortLookupByUUID(n Network, u uuid.UUID) (NetworkPort, error)
	NetworkPortCreateXML(n Network, xml string, flags uint32) (NetworkPort, error)
	NetworkPortGetXMLDesc(p NetworkPort, flags uint32) (string, error)
	NetworkPortDelete(p NetworkPort, flags uint32) error
	NetworkPortSetParameters(p NetworkPort, params []TypedParam, flags uint32) error
	NetworkPortGetParameters(p NetworkPort, flags uint32) ([]TypedParam, error)
}
