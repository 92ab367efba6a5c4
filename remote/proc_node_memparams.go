package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.NodeGetMemoryParameters:     nodeGetMemoryParameters,
		procs.NodeSetMemoryParameters:     nodeSetMemoryParameters,
		procs.DomainGetPerfEvents:         queryFlags(drvDom, driver.DomainPerfInfo.DomainGetPerfEvents, perfRet),
		procs.DomainGetLaunchSecurityInfo: queryFlags(drvDom, driver.DomainPerfInfo.DomainGetLaunchSecurityInfo, launchSecRet),
	})
}

func perfRet(p []driver.TypedParam) any {
	return DomainGetPerfEventsRet{Params: paramsToWire(p, 1<<2)}
}

func launchSecRet(p []driver.TypedParam) any {
	return DomainGetLaunchSecurityInfoRet{Params: paramsToWire(p, 1<<2)}
}

// nodeGetMemoryParameters: nparams 0 asks for the count (libvirt's
// virHostMemGetParameters answers 8 whatever the kernel has); otherwise at
// most nparams parameters, those the kernel has.
func nodeGetMemoryParameters(h *handler, body []byte) (any, error) {
	a, err := args[NodeGetMemoryParametersArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NodeMemoryParams](h)
	if err != nil {
		return nil, err
	}
	params, err := d.NodeGetMemoryParameters(a.Flags)
	if err != nil {
		return nil, err
	}
	if a.Nparams == 0 {
		return NodeGetMemoryParametersRet{Params: []TypedParam{}, Nparams: 8}, nil
	}
	wire := paramsToWire(params, a.Flags)
	if int32(len(wire)) > a.Nparams {
		wire = wire[:a.Nparams]
	}
	return NodeGetMemoryParametersRet{Params: wire, Nparams: a.Nparams}, nil
}

func nodeSetMemoryParameters(h *handler, body []byte) (any, error) {
	a, err := args[NodeSetMemoryParametersArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NodeMemoryParams](h)
	if err != nil {
		return nil, err
	}
	return nil, d.NodeSetMemoryParameters(paramsFromWire(a.Params), a.Flags)
}
