package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/virerr"
)

func init() {
	register(true, map[int32]procFunc{
		procs.NodeGetMemoryParameters:     nodeGetMemoryParameters,
		procs.NodeSetMemoryParameters:     nodeSetMemoryParameters,
		procs.NodeGetFreePages:            nodeGetFreePages,
		procs.DomainGetNumaParameters:     domainGetNumaParameters,
		procs.NodeAllocPages:              nodeAllocPages,
		procs.DomainGetPerfEvents:         queryFlags(drvDom, driver.DomainPerfEvents.DomainGetPerfEvents, perfRet),
		procs.DomainGetLaunchSecurityInfo: queryFlags(drvDom, driver.DomainLaunchSecurity.DomainGetLaunchSecurityInfo, launchSecRet),
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

func nodeGetFreePages(h *handler, body []byte) (any, error) {
	a, err := args[NodeGetFreePagesArgs](body)
	if err != nil {
		return nil, err
	}
	// remoteDispatchNodeGetFreePages's bound on the reply, checked in 64
	// bits so no product wraps.
	if uint64(len(a.Pages))*uint64(a.CellCount) > RemoteNodeMaxCells {
		return nil, errTooLarge("the result won't fit into REMOTE_NODE_MAX_CELLS")
	}
	// virNodeGetFreePages's argument checks.
	if len(a.Pages) == 0 {
		return nil, virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, "npages in virNodeGetFreePages must not be zero")
	}
	if a.CellCount == 0 {
		return nil, virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, "cellCount in virNodeGetFreePages must not be zero")
	}
	d, err := need[driver.NodePages](h)
	if err != nil {
		return nil, err
	}
	counts, err := d.NodeGetFreePages(a.Pages, a.StartCell, a.CellCount, a.Flags)
	if err != nil {
		return nil, err
	}
	if len(counts) == 0 {
		// remoteDispatchNodeGetFreePages fails a call that counted
		// nothing (libvirt's test driver always does) without an error
		// of its own.
		return nil, virerr.Raw(virerr.FromRPC, virerr.ErrInternalError, "Library function returned error but did not set virError")
	}
	return NodeGetFreePagesRet{Counts: counts}, nil
}

func nodeAllocPages(h *handler, body []byte) (any, error) {
	a, err := args[NodeAllocPagesArgs](body)
	if err != nil {
		return nil, err
	}
	// The two lists describe the same pools; libvirt's client always
	// sends them with one length, and a different one would make the
	// daemon read past the shorter.
	// virNodeAllocPages's argument checks.
	if len(a.PageSizes) == 0 {
		return nil, virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, "npages in virNodeAllocPages must not be zero")
	}
	if len(a.PageCounts) == 0 {
		return nil, virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, "pageCounts in virNodeAllocPages must not be NULL")
	}
	if a.CellCount == 0 {
		return nil, virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, "cellCount in virNodeAllocPages must not be zero")
	}
	if len(a.PageSizes) != len(a.PageCounts) {
		return nil, virerr.New(virerr.FromRPC, virerr.ErrInvalidArg, "%s", "pageSizes and pageCounts differ in length")
	}
	d, err := need[driver.NodePages](h)
	if err != nil {
		return nil, err
	}
	n, err := d.NodeAllocPages(a.PageSizes, a.PageCounts, a.StartCell, a.CellCount, a.Flags)
	if err != nil {
		return nil, err
	}
	return NodeAllocPagesRet{Ret: n}, nil
}

// domainGetNumaParameters: nparams 0 asks for the count, 2 (mode and
// node set) in both of libvirt's drivers.
func domainGetNumaParameters(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetNumaParametersArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainNumaParams](h)
	if err != nil {
		return nil, err
	}
	params, err := d.DomainGetNumaParameters(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	if a.Nparams == 0 {
		return DomainGetNumaParametersRet{Params: []TypedParam{}, Nparams: int32(len(params))}, nil
	}
	wire := paramsToWire(params, a.Flags)
	if int32(len(wire)) > a.Nparams {
		wire = wire[:a.Nparams]
	}
	return DomainGetNumaParametersRet{Params: wire, Nparams: int32(len(wire))}, nil
}
