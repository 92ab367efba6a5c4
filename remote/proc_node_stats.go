package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// NODE_GET_CPU_STATS and NODE_GET_MEMORY_STATS: nparams was bounded by
// checkCounts (libvirt's "nparams too large"); the negative-number checks
// are virNodeGetCPUStats'/virNodeGetMemoryStats' own. A call with nparams
// 0 asks for the count only, which travels in the reply's nparams.

func init() {
	register(true, map[int32]procFunc{
		procs.NodeGetCPUStats:    nodeGetCPUStats,
		procs.NodeGetMemoryStats: nodeGetMemoryStats,
	})
}

func nodeGetCPUStats(h *handler, body []byte) (any, error) {
	a, err := args[NodeGetCPUStatsArgs](body)
	if err != nil {
		return nil, err
	}
	if a.CpuNum < 0 && a.CpuNum != -1 {
		return nil, virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "cpuNum in virNodeGetCPUStats only accepts -1 as a negative value")
	}
	d, err := need[driver.NodeStats](h)
	if err != nil {
		return nil, err
	}
	stats, n, err := d.NodeGetCPUStats(a.CpuNum, a.Nparams, a.Flags)
	if err != nil {
		return nil, err
	}
	ret := NodeGetCPUStatsRet{Params: []NodeGetCPUStats{}}
	if a.Nparams == 0 {
		ret.Nparams = n
		return ret, nil
	}
	for _, s := range stats {
		ret.Params = append(ret.Params, NodeGetCPUStats{Field: s.Field, Value: s.Value})
	}
	return ret, nil
}

func nodeGetMemoryStats(h *handler, body []byte) (any, error) {
	a, err := args[NodeGetMemoryStatsArgs](body)
	if err != nil {
		return nil, err
	}
	if a.CellNum < 0 && a.CellNum != -1 {
		return nil, virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "cellNum in virNodeGetMemoryStats only accepts -1 as a negative value")
	}
	d, err := need[driver.NodeMemoryStats](h)
	if err != nil {
		return nil, err
	}
	stats, n, err := d.NodeGetMemoryStats(a.CellNum, a.Nparams, a.Flags)
	if err != nil {
		return nil, err
	}
	ret := NodeGetMemoryStatsRet{Params: []NodeGetMemoryStats{}}
	if a.Nparams == 0 {
		ret.Nparams = n
		return ret, nil
	}
	for _, s := range stats {
		ret.Params = append(ret.Params, NodeGetMemoryStats{Field: s.Field, Value: s.Value})
	}
	return ret, nil
}
