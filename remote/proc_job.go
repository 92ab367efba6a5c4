package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainGetJobInfo: query(drvDom, driver.DomainJobs.DomainGetJobInfo, func(j driver.JobInfo) any {
			return DomainGetJobInfoRet{Type: j.Type, TimeElapsed: j.TimeElapsed,
				DataTotal: j.DataTotal, DataProcessed: j.DataProcessed, DataRemaining: j.DataRemaining}
		}),
		procs.DomainGetJobStats:   domainGetJobStats,
		procs.DomainAbortJob:      on(drvDom, driver.DomainJobs.DomainAbortJob),
		procs.DomainAbortJobFlags: onFlags(drvDom, driver.DomainJobAbortFlags.DomainAbortJobFlags),
	})
}

func domainGetJobStats(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetJobStatsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainJobs](h)
	if err != nil {
		return nil, err
	}
	typ, params, err := d.DomainGetJobStats(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainGetJobStatsRet{Type: typ, Params: paramsToWire(params, 1<<2)}, nil
}
