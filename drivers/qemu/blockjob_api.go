package qemu

import (
	"context"
	"errors"
	"math"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// bandwidthBytes converts a client bandwidth to bytes/s.
func bandwidthBytes(bw uint64, bytes bool) (uint64, error) {
	if bytes {
		return bw, nil
	}
	if bw > math.MaxInt64>>20 {
		return 0, errQEMU(virerr.ErrOverflow, "bandwidth must be less than %d", uint64(math.MaxInt64>>20)+1)
	}
	return bw << 20, nil
}

// qmpCommandError is libvirt's report of a failed QMP command.
func qmpCommandError(cmd string, err error) error {
	var qe *qmp.Error
	if errors.As(err, &qe) {
		return errQEMU(virerr.ErrInternalError, "unable to execute QEMU command '%s': %s", cmd, qe.Desc)
	}
	return errQEMU(virerr.ErrOperationFailed, "%s failed: %v", cmd, err)
}

// checkNoJob refuses a new job on a disk that has one, with libvirt's
// codes: a mirror (copy, active commit) is BLOCK_COPY_ACTIVE.
func checkNoJob(v *vm, disk *conf.Disk) error {
	if disk.Mirror != nil {
		return errQEMU(virerr.ErrBlockCopyActive, "disk '%s' already in active block job", disk.TargetDev)
	}
	if jobOn(v, disk.TargetDev) != nil {
		return errQEMU(virerr.ErrOperationUnsupported, "disk '%s' already in active block job", disk.TargetDev)
	}
	return nil
}

// startJob registers j, runs the QMP command that starts it and saves
// the status; on failure the registration is undone. The job is known
// before QEMU starts it, so its first events always find it.
func (d *Driver) startJob(v *vm, mon monitor, j *blockJob, mirror *conf.DiskMirror, cmd string, start func(context.Context) error) error {
	v.mu.Lock()
	blockOf(v).Jobs[j.Disk] = j
	if mirror != nil {
		editDisk(v, j.Disk, func(disk *conf.Disk) {
			if disk != nil {
				disk.Mirror = mirror
			}
		})
	}
	v.mu.Unlock()
	if err := start(context.Background()); err != nil {
		v.mu.Lock()
		delete(blockOf(v).Jobs, j.Disk)
		if mirror != nil {
			editDisk(v, j.Disk, func(disk *conf.Disk) {
				if disk != nil {
					disk.Mirror = nil
				}
			})
		}
		v.mu.Unlock()
		return qmpCommandError(cmd, err)
	}
	return d.saveStatus(v)
}

func (c *conn) DomainBlockCommit(h driver.Domain, diskArg, base, top string, bandwidth uint64, flags uint32) error {
	speed, err := bandwidthBytes(bandwidth, flags&driver.BlockCommitBandwidthBytes != 0)
	if err != nil {
		return err
	}
	if flags&driver.BlockCommitRelative != 0 {
		return errQEMU(virerr.ErrArgumentUnsupported, "relative backing during commit is not supported")
	}
	return c.withJob(h, "block commit", func(v *vm, mon monitor) error {
		v.mu.Lock()
		disk, _, err := findDisk(v.live, diskArg, errDiskNotFound)
		if err == nil {
			err = checkNoJob(v, disk)
		}
		var topSrc, baseSrc *conf.DiskSource
		if err == nil {
			topSrc, baseSrc, err = commitEnds(disk, top, base, flags)
		}
		if err != nil {
			v.mu.Unlock()
			return err
		}
		active := topSrc == &disk.Source
		typ := driver.BlockJobTypeCommit
		var mirror *conf.DiskMirror
		if active {
			typ = driver.BlockJobTypeActiveCommit
			mirror = &conf.DiskMirror{Source: baseSrc.Clone(), Job: "active-commit"}
		}
		j := newBlockJob("commit-"+disk.TargetDev+"-"+topSrc.NodeNameFormat, disk.TargetDev, typ)
		j.TopIndex, j.BaseIndex, j.Delete, j.Bandwidth = layerIndex(topSrc), layerIndex(baseSrc), flags&driver.BlockCommitDelete != 0, speed
		args := qmp.BlockCommitArgs{
			JobID: j.Name, Device: disk.Source.NodeNameFormat,
			TopNode: topSrc.NodeNameFormat, BaseNode: baseSrc.NodeNameFormat,
			Speed: speed, AutoFinalize: true, AutoDismiss: false,
		}
		v.mu.Unlock()
		return c.d.startJob(v, mon, j, mirror, "block-commit", func(ctx context.Context) error {
			return qmp.BlockCommit(ctx, mon, args)
		})
	})
}

// commitEnds resolves and checks --top and --base as libvirt does.
func commitEnds(disk *conf.Disk, top, base string, flags uint32) (*conf.DiskSource, *conf.DiskSource, error) {
	topSrc := &disk.Source
	if top != "" {
		var err error
		if topSrc, err = chainLookup(disk, top, nil); err != nil {
			return nil, nil, err
		}
	}
	if topSrc.Backing == nil || topSrc.Backing.Type == "" {
		return nil, nil, errQEMU(virerr.ErrInvalidArg, "top '%s' in chain for '%s' has no backing file", topSrc.Path, disk.TargetDev)
	}
	active := topSrc == &disk.Source
	if active && flags&driver.BlockCommitActive == 0 {
		return nil, nil, errQEMU(virerr.ErrInvalidArg, "commit of '%s' active layer requires active flag", disk.TargetDev)
	}
	if !active && flags&driver.BlockCommitActive != 0 {
		return nil, nil, errQEMU(virerr.ErrInvalidArg, "active commit requested but '%s' is not active", topSrc.Path)
	}
	var baseSrc *conf.DiskSource
	switch {
	case base != "":
		var err error
		if baseSrc, err = chainLookup(disk, base, topSrc); err != nil {
			return nil, nil, err
		}
		if flags&driver.BlockCommitShallow != 0 && baseSrc != topSrc.Backing {
			return nil, nil, errQEMU(virerr.ErrInvalidArg, "base '%s' is not immediately below '%s' in chain for '%s'", base, topSrc.Path, disk.TargetDev)
		}
	case flags&driver.BlockCommitShallow != 0:
		baseSrc = topSrc.Backing
	default:
		ls := layersOf(topSrc)
		baseSrc = ls[len(ls)-1]
	}
	return topSrc, baseSrc, nil
}

func (c *conn) DomainBlockPull(h driver.Domain, diskArg string, bandwidth uint64, flags uint32) error {
	speed, err := bandwidthBytes(bandwidth, flags&driver.BlockPullBandwidthBytes != 0)
	if err != nil {
		return err
	}
	return c.blockPull(h, diskArg, "", speed)
}

func (c *conn) DomainBlockRebase(h driver.Domain, diskArg, base string, bandwidth uint64, flags uint32) error {
	speed, err := bandwidthBytes(bandwidth, flags&driver.BlockRebaseBandwidthBytes != 0)
	if err != nil {
		return err
	}
	if flags&driver.BlockRebaseCopy == 0 {
		if flags&driver.BlockRebaseRelative != 0 {
			return errQEMU(virerr.ErrArgumentUnsupported, "relative backing during pull is not supported")
		}
		return c.blockPull(h, diskArg, base, speed)
	}
	// The legacy spelling of a block copy.
	dest := conf.DiskSource{Type: "file", Path: base}
	if flags&driver.BlockRebaseCopyDev != 0 {
		dest.Type = "block"
	}
	if flags&driver.BlockRebaseCopyRaw != 0 {
		dest.Format = "raw"
	}
	cflags := flags & (driver.BlockRebaseShallow | driver.BlockRebaseReuseExt)
	return c.blockCopy(h, diskArg, dest, copyTuning{speed: speed}, cflags)
}

func (c *conn) blockPull(h driver.Domain, diskArg, base string, speed uint64) error {
	return c.withJob(h, "block pull", func(v *vm, mon monitor) error {
		v.mu.Lock()
		disk, _, err := findDisk(v.live, diskArg, errDiskNotFound)
		if err == nil {
			err = checkNoJob(v, disk)
		}
		var baseSrc *conf.DiskSource
		if err == nil && base != "" {
			baseSrc, err = chainLookup(disk, base, &disk.Source)
		}
		if err != nil {
			v.mu.Unlock()
			return err
		}
		j := newBlockJob("pull-"+disk.TargetDev+"-"+disk.Source.NodeNameFormat, disk.TargetDev, driver.BlockJobTypePull)
		j.Bandwidth = speed
		args := qmp.BlockStreamArgs{
			JobID: j.Name, Device: disk.Source.NodeNameFormat,
			Speed: speed, AutoFinalize: true, AutoDismiss: false,
		}
		if baseSrc != nil {
			j.BaseIndex = layerIndex(baseSrc)
			args.BaseNode = baseSrc.NodeNameFormat
		}
		v.mu.Unlock()
		return c.d.startJob(v, mon, j, nil, "block-stream", func(ctx context.Context) error {
			return qmp.BlockStream(ctx, mon, args)
		})
	})
}

func errNoJob(target string) error {
	return errQEMU(virerr.ErrInvalidArg, "disk %s does not have an active block job", target)
}

func (c *conn) DomainBlockJobAbort(h driver.Domain, diskArg string, flags uint32) error {
	pivot := flags&driver.BlockJobAbortPivot != 0
	var j *blockJob
	var exited chan struct{}
	err := c.withJob(h, "block job abort", func(v *vm, mon monitor) error {
		v.mu.Lock()
		disk, _, err := findDisk(v.live, diskArg, errDiskNotFound)
		if err != nil {
			v.mu.Unlock()
			return err
		}
		j = jobOn(v, disk.TargetDev)
		if v.proc != nil {
			exited = v.proc.exited
		}
		switch {
		case j == nil:
			err = errNoJob(disk.TargetDev)
		case j.State == jobAborting || j.State == jobPivoting:
			err = errQEMU(virerr.ErrOperationInvalid, "block job on disk '%s' is still being ended", disk.TargetDev)
		case pivot && j.Type != driver.BlockJobTypeCopy && j.Type != driver.BlockJobTypeActiveCommit:
			err = errQEMU(virerr.ErrOperationInvalid, "job type '%s' does not support pivot", jobTypeName(j.Type))
		case pivot && j.State != jobReady:
			err = errQEMU(virerr.ErrBlockCopyActive, "block job '%s' not ready for pivot yet", j.Name)
		}
		v.mu.Unlock()
		if err != nil {
			return err
		}
		cmd, state, ready := "block-job-cancel", jobAborting, "abort"
		if pivot {
			cmd, state, ready = "job-complete", jobPivoting, "pivot"
		}
		if pivot {
			err = qmp.JobComplete(context.Background(), mon, j.Name)
		} else {
			err = qmp.BlockJobCancel(context.Background(), mon, j.Name, nil)
		}
		if err != nil {
			var qe *qmp.Error
			if errors.As(err, &qe) && qe.Class == "DeviceNotActive" {
				return errQEMU(virerr.ErrOperationInvalid, "No active block job '%s'", j.Name)
			}
			return qmpCommandError(cmd, err)
		}
		v.mu.Lock()
		j.State = state
		editDisk(v, j.Disk, func(disk *conf.Disk) {
			if disk != nil && disk.Mirror != nil {
				disk.Mirror.Ready = ready
			}
		})
		v.mu.Unlock()
		return c.d.saveStatus(v)
	})
	if err != nil || flags&driver.BlockJobAbortAsync != 0 {
		return err
	}
	// Without ASYNC the call returns once the job is over and applied, as
	// libvirt's; the job itself is released meanwhile so the completion
	// (which needs it) can run.
	select {
	case <-j.done:
	case <-exited:
		return errNotRunning()
	}
	if pivot && j.status == driver.BlockJobFailed {
		if j.errMsg != "" {
			return errQEMU(virerr.ErrOperationFailed, "block job '%s' failed while pivoting: %s", j.Name, j.errMsg)
		}
		return errQEMU(virerr.ErrOperationFailed, "block job '%s' failed while pivoting", j.Name)
	}
	return nil
}

func jobTypeName(t int32) string {
	switch t {
	case driver.BlockJobTypePull:
		return "pull"
	case driver.BlockJobTypeCopy:
		return "copy"
	case driver.BlockJobTypeCommit:
		return "commit"
	case driver.BlockJobTypeActiveCommit:
		return "active-commit"
	}
	return "none"
}

// DomainGetBlockJobInfo answers from QEMU's progress without taking the
// guest's job, so polling clients (virsh --wait) never queue behind a
// long operation.
func (c *conn) DomainGetBlockJobInfo(h driver.Domain, diskArg string, flags uint32) (driver.BlockJobInfo, bool, error) {
	var info driver.BlockJobInfo
	v, err := c.d.doms.get(h)
	if err != nil {
		return info, false, err
	}
	v.mu.Lock()
	if !v.active() {
		v.mu.Unlock()
		return info, false, errNotRunning()
	}
	disk, _, err := findDisk(v.live, diskArg, errDiskNotFound)
	if err != nil {
		v.mu.Unlock()
		return info, false, err
	}
	j, mon := jobOn(v, disk.TargetDev), v.mon
	var name string
	var typ int32
	var bw uint64
	if j != nil {
		name, typ, bw = j.Name, j.Type, j.Bandwidth
	}
	v.mu.Unlock()
	if j == nil || mon == nil {
		return info, false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := qmp.QueryBlockJobs(ctx, mon)
	if err != nil {
		return info, false, qmpCommandError("query-block-jobs", err)
	}
	info.Type, info.Bandwidth = typ, bw
	for _, q := range list {
		if q.Device != name {
			continue
		}
		info.Cur, info.End, info.Bandwidth = q.Offset, q.Len, q.Speed
		if info.Cur == 0 && info.End == 0 && q.Ready != nil {
			info.End = 1
			if *q.Ready {
				info.Cur = 1
			}
		}
		// A job that is not ready must not look finished to pollers.
		if q.Ready != nil && !*q.Ready && info.Cur == info.End && info.Cur > 0 {
			info.Cur--
		}
	}
	if flags&driver.BlockJobInfoBandwidthBytes == 0 {
		info.Bandwidth >>= 20
	}
	return info, true, nil
}

func (c *conn) DomainBlockJobSetSpeed(h driver.Domain, diskArg string, bandwidth uint64, flags uint32) error {
	speed, err := bandwidthBytes(bandwidth, flags&driver.BlockJobInfoBandwidthBytes != 0)
	if err != nil {
		return err
	}
	return c.withJob(h, "block job speed", func(v *vm, mon monitor) error {
		v.mu.Lock()
		disk, _, err := findDisk(v.live, diskArg, errDiskNotFound)
		if err != nil {
			v.mu.Unlock()
			return err
		}
		j := jobOn(v, disk.TargetDev)
		v.mu.Unlock()
		if j == nil {
			return errNoJob(disk.TargetDev)
		}
		if err := qmp.BlockJobSetSpeed(context.Background(), mon, j.Name, speed); err != nil {
			return qmpCommandError("block-job-set-speed", err)
		}
		v.mu.Lock()
		j.Bandwidth = speed
		v.mu.Unlock()
		return c.d.saveStatus(v)
	})
}

var (
	_ driver.DomainBlockJobs   = (*conn)(nil)
	_ driver.DomainBlockInfoer = (*conn)(nil)
	_ driver.DomainSnapshots   = (*conn)(nil)
)
