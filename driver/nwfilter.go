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
