package driver

import "os"

// DomainGraphicsFDOpener connects a client to a guest's display
// (virDomainOpenGraphicsFD): the returned socket is passed to the caller
// over the unix connection.
type DomainGraphicsFDOpener interface {
	DomainOpenGraphicsFD(d Domain, idx uint32, flags uint32) (*os.File, error)
}

// DomainMemoryStatsPeriodSetter sets the balloon statistics period
// (virDomainSetMemoryStatsPeriod).
type DomainMemoryStatsPeriodSetter interface {
	DomainSetMemoryStatsPeriod(d Domain, period int32, flags uint32) error
}

// DomainXMLToNativer returns the hypervisor's native configuration for a
// domain definition (virConnectDomainXMLToNative).
type DomainXMLToNativer interface {
	ConnectDomainXMLToNative(format, xml string, flags uint32) (string, error)
}
