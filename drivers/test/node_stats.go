package test

import (
	"govirt/driver"
)

// NodeGetCPUStats is libvirt's testNodeGetCPUStats: fixed counters, as
// many as asked for up to four; asked for none, it reports four.
func (c *conn) NodeGetCPUStats(cpuNum, nparams int32, flags uint32) ([]driver.NodeStat, int32, error) {
	if err := checkFlags(flags, 0, "testNodeGetCPUStats"); err != nil {
		return nil, 0, err
	}
	all := []driver.NodeStat{
		{Field: "user", Value: 9797400000},
		{Field: "kernel", Value: 34678723400000},
		{Field: "idle", Value: 87264900000},
		{Field: "iowait", Value: 763600000},
	}
	if nparams == 0 {
		return nil, int32(len(all)), nil
	}
	if int(nparams) < len(all) {
		all = all[:nparams]
	}
	return all, int32(len(all)), nil
}
