package driver

import "govirt/uuid"

// NWFilter identifies a network filter as the wire does.
type NWFilter struct {
	Name string
	UUID uuid.UUID
}

// NWFilterBinding identifies a filter binding: the port (tap) device it
// filters and the filter's name.
type NWFilterBinding struct {
	PortDev string
	Filter  string
}

// NWFilters is the network filter API (virNWFilter*,
// virNWFilterBinding*, virConnect*NWFilter*) of a driver with libvirt's
// nwfilter driver beside it (the QEMU connection). A connection without
// it answers libvirt's "not supported", as libvirt's test driver.
type NWFilters interface {
	ListAllNWFilters(flags uint32) ([]NWFilter, error)
	NumOfNWFilters() (int32, error)
	// ListNWFilters returns at most maxnames names.
	ListNWFilters(maxnames int32) ([]string, error)
	LookupNWFilterByName(name string) (NWFilter, error)
	LookupNWFilterByUUID(u uuid.UUID) (NWFilter, error)
	NWFilterDefineXML(xml string, flags uint32) (NWFilter, error)
	NWFilterUndefine(f NWFilter) error
	NWFilterGetXMLDesc(f NWFilter, flags uint32) (string, error)

	ListAllNWFilterBindings(flags uint32) ([]NWFilterBinding, error)
	LookupNWFilterBindingByPortDev(dev string) (NWFilterBinding, error)
	NWFilterBindingCreateXML(xml string, flags uint32) (NWFilterBinding, error)
	NWFilterBindingDelete(b NWFilterBinding) error
	NWFilterBindingGetXMLDesc(b NWFilterBinding, flags uint32) (string, error)
}

// NWFilterPort is a guest interface with a <filterref>, as a hypervisor
// driver hands it to the nwfilter driver (libvirt's
// virNWFilterBindingDefForNet).
type NWFilterPort struct {
	OwnerName string
	OwnerUUID uuid.UUID
	PortDev   string // the tap
	LinkDev   string // the host device of a direct (macvtap) interface
	MAC       string
	Filter    string
	Params    [][2]string // <parameter name value/> in document order
}

// NWFilterPorts is what a hypervisor driver asks of the nwfilter driver
// for its guests' interfaces: a binding when a tap comes up (start,
// hotplug, and again after a daemon restart with ignoreExists) and its
// removal when the tap goes (libvirt's virDomainConfNWFilterInstantiate
// and virDomainConfNWFilterTeardown).
type NWFilterPorts interface {
	BindPort(p NWFilterPort, ignoreExists bool) error
	UnbindPort(portdev string)
}
