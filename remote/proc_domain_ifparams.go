package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainGetInterfaceParameters: domainGetInterfaceParameters,
		procs.DomainSetInterfaceParameters: domainSetInterfaceParameters,
	})
}

// domainGetInterfaceParameters answers nparams 0 with the count (both
// libvirt drivers do so before looking at the device), else at most
// nparams values.
func domainGetInterfaceParameters(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetInterfaceParametersArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainInterfaceParams](h)
	if err != nil {
		return nil, err
	}
	device := a.Device
	if a.Nparams == 0 {
		device = ""
	}
	params, err := d.DomainGetInterfaceParameters(drvDom(a.Dom), device, a.Flags)
	if err != nil {
		return nil, err
	}
	if a.Nparams == 0 {
		return DomainGetInterfaceParametersRet{Params: []TypedParam{}, Nparams: driver.BandwidthParamCount}, nil
	}
	wire := paramsToWire(params, a.Flags)
	if int32(len(wire)) > a.Nparams {
		wire = wire[:a.Nparams]
	}
	return DomainGetInterfaceParametersRet{Params: wire, Nparams: int32(len(wire))}, nil
}

func domainSetInterfaceParameters(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetInterfaceParametersArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainInterfaceParams](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetInterfaceParameters(drvDom(a.Dom), a.Device, paramsFromWire(a.Params), a.Flags)
}
