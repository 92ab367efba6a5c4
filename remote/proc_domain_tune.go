package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

// Flags of virDomainModificationImpact that the legacy calls imply.
const (
	affectCurrent = 0
	affectLive    = 1
	affectConfig  = 2
	memMaximum    = 4
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainSetMemory:        domainSetMemory(affectLive),
		procs.DomainSetMemoryFlags:   domainSetMemoryFlags,
		procs.DomainSetMaxMemory:     domainSetMemory(affectConfig | memMaximum),
		procs.DomainSetVcpus:         domainSetVcpus,
		procs.DomainSetVcpusFlags:    domainSetVcpusFlags,
		procs.DomainGetVcpusFlags:    queryFlags(drvDom, driver.DomainTuner.DomainGetVcpusFlags, retInt),
		procs.DomainGetMaxVcpus:      query(drvDom, driver.DomainTuner.DomainGetMaxVcpus, retInt),
		procs.DomainGetVcpus:         domainGetVcpus,
		procs.DomainGetSchedulerType: domainGetSchedulerType,

		procs.DomainGetSchedulerParameters: getParams(procs.DomainGetSchedulerParameters, func(d driver.DomainParams, dom driver.Domain, _ uint32) ([]driver.TypedParam, error) {
			return d.DomainGetSchedulerParameters(dom, 0)
		}, false),
		procs.DomainGetSchedulerParametersFlags: getParams(procs.DomainGetSchedulerParametersFlags, driver.DomainParams.DomainGetSchedulerParameters, false),
		procs.DomainSetSchedulerParameters:      setParams(driver.DomainParams.DomainSetSchedulerParameters, false),
		procs.DomainSetSchedulerParametersFlags: setParams(driver.DomainParams.DomainSetSchedulerParameters, true),
		procs.DomainGetMemoryParameters:         getParams(procs.DomainGetMemoryParameters, driver.DomainParams.DomainGetMemoryParameters, true),
		procs.DomainSetMemoryParameters:         setParams(driver.DomainParams.DomainSetMemoryParameters, true),
		procs.DomainGetBlkioParameters:          getParams(procs.DomainGetBlkioParameters, driver.DomainParams.DomainGetBlkioParameters, true),
		procs.DomainSetBlkioParameters:          setParams(driver.DomainParams.DomainSetBlkioParameters, true),
		procs.DomainGetCPUStats:                 domainGetCPUStats,
	})
}

// domainGetCPUStats is remoteDispatchDomainGetCPUStats: the driver's
// parameters go out densely, the count per CPU in nparams.
func domainGetCPUStats(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetCPUStatsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainCPUStatser](h)
	if err != nil {
		return nil, err
	}
	params, n, err := d.DomainGetCPUStats(drvDom(a.Dom), a.Nparams, a.StartCPU, a.Ncpus, a.Flags)
	if err != nil {
		return nil, err
	}
	ret := DomainGetCPUStatsRet{Params: []TypedParam{}, Nparams: n}
	if a.Nparams > 0 {
		ret.Params = paramsToWire(params, a.Flags)
	}
	return ret, nil
}

func domainSetMemory(flags uint32) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[DomainSetMemoryArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[driver.DomainTuner](h)
		if err != nil {
			return nil, err
		}
		if flags&memMaximum != 0 {
			return nil, d.DomainSetMaxMemory(drvDom(a.Dom), a.Memory)
		}
		return nil, d.DomainSetMemoryFlags(drvDom(a.Dom), a.Memory, flags)
	}
}

func domainSetMemoryFlags(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetMemoryFlagsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainTuner](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetMemoryFlags(drvDom(a.Dom), a.Memory, a.Flags)
}

func domainSetVcpus(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetVcpusArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainTuner](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetVcpusFlags(drvDom(a.Dom), a.Nvcpus, affectLive)
}

func domainSetVcpusFlags(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetVcpusFlagsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainTuner](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetVcpusFlags(drvDom(a.Dom), a.Nvcpus, a.Flags)
}

func domainGetVcpus(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetVcpusArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainTuner](h)
	if err != nil {
		return nil, err
	}
	infos, maps, err := d.DomainGetVcpus(drvDom(a.Dom), a.Maxinfo, a.Maplen)
	if err != nil {
		return nil, err
	}
	ret := DomainGetVcpusRet{Cpumaps: maps}
	for _, i := range infos {
		ret.Info = append(ret.Info, VcpuInfo{Number: i.Number, State: i.State, CPUTime: i.CPUTime, CPU: i.CPU})
	}
	return ret, nil
}

func domainGetSchedulerType(h *handler, body []byte) (any, error) {
	a, err := args[domArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainParams](h)
	if err != nil {
		return nil, err
	}
	t, n, err := d.DomainGetSchedulerType(drvDom(a.Obj))
	if err != nil {
		return nil, err
	}
	return DomainGetSchedulerTypeRet{Type: t, Nparams: n}, nil
}

// getParams serves the typed-parameter getters. With nparams 0 the caller
// asks only how many there are (when the reply has a count); otherwise it
// gets at most nparams of them. The arguments are decoded with the
// procedure's generated type, whose checkCounts bounds nparams as libvirt
// does (no negative count reaches the slicing below).
func getParams(proc int32, fn func(driver.DomainParams, driver.Domain, uint32) ([]driver.TypedParam, error), hasCount bool) procFunc {
	type countRet struct {
		Params  []TypedParam
		Nparams int32
	}
	type plainRet struct{ Params []TypedParam }
	return func(h *handler, body []byte) (any, error) {
		dom, nparams, flags, err := paramArgs(body, proc)
		if err != nil {
			return nil, err
		}
		d, err := need[driver.DomainParams](h)
		if err != nil {
			return nil, err
		}
		params, err := fn(d, drvDom(dom), flags)
		if err != nil {
			return nil, err
		}
		wire := paramsToWire(params, flags)
		if hasCount && nparams == 0 {
			return countRet{Params: []TypedParam{}, Nparams: int32(len(wire))}, nil
		}
		if int32(len(wire)) > nparams {
			wire = wire[:nparams]
		}
		if hasCount {
			return countRet{Params: wire, Nparams: int32(len(wire))}, nil
		}
		return plainRet{Params: wire}, nil
	}
}

// paramArgs decodes the arguments of a typed-parameter getter.
func paramArgs(body []byte, proc int32) (NonnullDomain, int32, uint32, error) {
	switch proc {
	case procs.DomainGetSchedulerParameters:
		a, err := args[DomainGetSchedulerParametersArgs](body)
		return a.Dom, a.Nparams, 0, err
	case procs.DomainGetSchedulerParametersFlags:
		a, err := args[DomainGetSchedulerParametersFlagsArgs](body)
		return a.Dom, a.Nparams, a.Flags, err
	case procs.DomainGetMemoryParameters:
		a, err := args[DomainGetMemoryParametersArgs](body)
		return a.Dom, a.Nparams, a.Flags, err
	case procs.DomainGetBlkioParameters:
		a, err := args[DomainGetBlkioParametersArgs](body)
		return a.Dom, a.Nparams, a.Flags, err
	}
	return NonnullDomain{}, 0, 0, errDecode
}

func setParams(fn func(driver.DomainParams, driver.Domain, []driver.TypedParam, uint32) error, hasFlags bool) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[DomainSetSchedulerParametersFlagsArgs](body)
		if !hasFlags {
			var b DomainSetSchedulerParametersArgs
			b, err = args[DomainSetSchedulerParametersArgs](body)
			a.Dom, a.Params = b.Dom, b.Params
		}
		if err != nil {
			return nil, err
		}
		d, err := need[driver.DomainParams](h)
		if err != nil {
			return nil, err
		}
		return nil, fn(d, drvDom(a.Dom), paramsFromWire(a.Params), a.Flags)
	}
}
