package remote

import (
	"govirt/rpc/procs"
	"govirt/virerr"
)

// Count arguments. A client says how many items it wants (maxnames,
// nparams, maxinfo, maplen, ...) and libvirt's daemon sizes its reply
// buffers from that number, so every one is bounded before any handler
// sees it. The list calls that libvirt's gendispatch.pl generates get their
// checks generated too (wire_procs.go); these are the ones libvirt writes
// by hand in remote_daemon_dispatch.c, with its codes and messages. args()
// runs checkCounts on every decoded argument struct that has one.
//
// A negative count is where libvirt's daemon would hand a negative size to
// g_new0 and abort; its public API refuses the same value with
// virCheckNonNegativeArgGoto, and that is the error given here.

// countChecker is implemented by argument structs with count arguments.
type countChecker interface {
	checkCounts() error
}

// errNegative is virReportInvalidNonNegativeArg's error.
func errNegative(arg, api string) error {
	return virerr.New(apiErrorDomain(api), virerr.ErrInvalidArg, "%s in %s must be zero or greater", arg, api)
}

func errTooLarge(msg string) error {
	return virerr.New(virerr.FromRPC, virerr.ErrInternalError, "%s", msg)
}

func apiOf(proc int32) string { return procs.Lookup(procs.ProgramRemote, proc).API }

// checkNparams is the "nparams too large" check of the typed-parameter
// getters.
func checkNparams(n int32, max int, proc int32) error {
	if int(n) > max {
		return errTooLarge("nparams too large")
	}
	if n < 0 {
		return errNegative("nparams", apiOf(proc))
	}
	return nil
}

func (a *DomainGetSchedulerParametersArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteDomainSchedulerParametersMax, procs.DomainGetSchedulerParameters)
}

func (a *DomainGetSchedulerParametersFlagsArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteDomainSchedulerParametersMax, procs.DomainGetSchedulerParametersFlags)
}

func (a *DomainBlockStatsFlagsArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteDomainBlockStatsParametersMax, procs.DomainBlockStatsFlags)
}

func (a *DomainGetMemoryParametersArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteDomainMemoryParametersMax, procs.DomainGetMemoryParameters)
}

func (a *DomainGetNumaParametersArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteDomainNumaParametersMax, procs.DomainGetNumaParameters)
}

func (a *DomainGetBlkioParametersArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteDomainBlkioParametersMax, procs.DomainGetBlkioParameters)
}

func (a *NodeGetCPUStatsArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteNodeCPUStatsMax, procs.NodeGetCPUStats)
}

func (a *NodeGetMemoryStatsArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteNodeMemoryStatsMax, procs.NodeGetMemoryStats)
}

func (a *DomainGetBlockIOTuneArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteDomainBlockIOTuneParametersMax, procs.DomainGetBlockIOTune)
}

func (a *DomainGetInterfaceParametersArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteDomainInterfaceParametersMax, procs.DomainGetInterfaceParameters)
}

func (a *NodeGetMemoryParametersArgs) checkCounts() error {
	return checkNparams(a.Nparams, RemoteNodeMemoryParametersMax, procs.NodeGetMemoryParameters)
}

func (a *DomainGetCPUStatsArgs) checkCounts() error {
	if a.Nparams > RemoteNodeCPUStatsMax {
		return errTooLarge("nparams too large")
	}
	if a.Ncpus > RemoteDomainGetCPUStatsNcpusMax {
		return errTooLarge("ncpus too large")
	}
	return nil
}

func (a *DomainMemoryStatsArgs) checkCounts() error {
	if a.MaxStats > RemoteDomainMemoryStatsMax {
		return errTooLarge("maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX")
	}
	return nil
}

func (a *DomainBlockPeekArgs) checkCounts() error {
	if a.Size > RemoteDomainBlockPeekBufferMax {
		return errTooLarge("size > maximum buffer size")
	}
	return nil
}

func (a *DomainMemoryPeekArgs) checkCounts() error {
	if a.Size > RemoteDomainMemoryPeekBufferMax {
		return errTooLarge("size > maximum buffer size")
	}
	return nil
}

func (a *DomainGetDiskErrorsArgs) checkCounts() error {
	if a.Maxerrors > RemoteDomainDiskErrorsMax {
		return errTooLarge("maxerrors too large")
	}
	return nil
}

func (a *NodeGetFreePagesArgs) checkCounts() error {
	if uint64(len(a.Pages))*uint64(a.CellCount) > RemoteNodeMaxCells {
		return errTooLarge("the result won't fit into REMOTE_NODE_MAX_CELLS")
	}
	return nil
}

// checkCPUMaps is the vCPU map check of GET_VCPUS and GET_VCPU_PIN_INFO:
// n maps of maplen bytes each must fit REMOTE_CPUMAPS_MAX. libvirt checks
// the product for overflow; in 64 bits it cannot overflow.
func checkCPUMaps(n, maplen int32, nName string, proc int32) error {
	if n > RemoteVcpuinfoMax {
		return errTooLarge(nName + " > REMOTE_VCPUINFO_MAX")
	}
	if n < 0 {
		return errNegative(nName, apiOf(proc))
	}
	if maplen < 0 {
		return errNegative("maplen", apiOf(proc))
	}
	if int64(n)*int64(maplen) > RemoteCpumapsMax {
		return errTooLarge("maxinfo * maplen > REMOTE_CPUMAPS_MAX")
	}
	return nil
}

func (a *DomainGetVcpusArgs) checkCounts() error {
	return checkCPUMaps(a.Maxinfo, a.Maplen, "maxinfo", procs.DomainGetVcpus)
}

func (a *DomainGetVcpuPinInfoArgs) checkCounts() error {
	return checkCPUMaps(a.Ncpumaps, a.Maplen, "ncpumaps", procs.DomainGetVcpuPinInfo)
}

// libvirt 9.0 does not bound GET_EMULATOR_PIN_INFO's maplen at all and
// allocates what the client asks; the reply cannot carry more than
// REMOTE_CPUMAPS_MAX bytes, so that is the bound here.
func (a *DomainGetEmulatorPinInfoArgs) checkCounts() error {
	return checkCPUMaps(1, a.Maplen, "maplen", procs.DomainGetEmulatorPinInfo)
}
