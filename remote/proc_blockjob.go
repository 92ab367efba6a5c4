package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

// Block job procedures: commit, copy, pull/rebase and the job controls
// virsh's blockjob and --wait use, plus virDomainGetBlockInfo.
func init() {
	register(true, map[int32]procFunc{
		procs.DomainBlockCommit:      domainBlockCommit,
		procs.DomainBlockCopy:        domainBlockCopy,
		procs.DomainBlockRebase:      domainBlockRebase,
		procs.DomainBlockPull:        domainBlockPull,
		procs.DomainBlockJobAbort:    domainBlockJobAbort,
		procs.DomainGetBlockJobInfo:  domainGetBlockJobInfo,
		procs.DomainBlockJobSetSpeed: domainBlockJobSetSpeed,
		procs.DomainGetBlockInfo:     domainGetBlockInfo,
	})
}

func domainBlockCommit(h *handler, body []byte) (any, error) {
	a, err := args[DomainBlockCommitArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockJobs](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainBlockCommit(drvDom(a.Dom), a.Disk, optString(a.Base), optString(a.Top), a.Bandwidth, a.Flags)
}

func domainBlockCopy(h *handler, body []byte) (any, error) {
	a, err := args[DomainBlockCopyArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockJobs](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainBlockCopy(drvDom(a.Dom), a.Path, a.Destxml, paramsFromWire(a.Params), a.Flags)
}

func domainBlockRebase(h *handler, body []byte) (any, error) {
	a, err := args[DomainBlockRebaseArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockJobs](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainBlockRebase(drvDom(a.Dom), a.Path, optString(a.Base), a.Bandwidth, a.Flags)
}

func domainBlockPull(h *handler, body []byte) (any, error) {
	a, err := args[DomainBlockPullArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockJobs](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainBlockPull(drvDom(a.Dom), a.Path, a.Bandwidth, a.Flags)
}

func domainBlockJobAbort(h *handler, body []byte) (any, error) {
	a, err := args[DomainBlockJobAbortArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockJobs](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainBlockJobAbort(drvDom(a.Dom), a.Path, a.Flags)
}

func domainGetBlockJobInfo(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetBlockJobInfoArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockJobs](h)
	if err != nil {
		return nil, err
	}
	info, found, err := d.DomainGetBlockJobInfo(drvDom(a.Dom), a.Path, a.Flags)
	if err != nil {
		return nil, err
	}
	if !found {
		// libvirt's "no job" answer: found=0 and nothing else.
		return DomainGetBlockJobInfoRet{}, nil
	}
	return DomainGetBlockJobInfoRet{Found: 1, Type: info.Type, Bandwidth: info.Bandwidth, Cur: info.Cur, End: info.End}, nil
}

func domainBlockJobSetSpeed(h *handler, body []byte) (any, error) {
	a, err := args[DomainBlockJobSetSpeedArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockJobs](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainBlockJobSetSpeed(drvDom(a.Dom), a.Path, a.Bandwidth, a.Flags)
}

func domainGetBlockInfo(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetBlockInfoArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainBlockInfoer](h)
	if err != nil {
		return nil, err
	}
	bi, err := d.DomainGetBlockInfo(drvDom(a.Dom), a.Path, a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainGetBlockInfoRet{Allocation: bi.Allocation, Capacity: bi.Capacity, Physical: bi.Physical}, nil
}
