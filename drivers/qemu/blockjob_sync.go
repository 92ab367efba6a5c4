package qemu

import (
	"context"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// Owned block jobs, as libvirt's synchronous ones (qemuBlockJobSyncBegin):
// the operation that starts them keeps the guest's job until they are
// over and drives every step itself, so nothing else can change the
// disks meanwhile. Event handlers only note progress and wake it.

// wakeOwner tells an owned job's owner that something happened; call
// with v.mu held.
func wakeOwner(j *blockJob) {
	if !j.owned {
		return
	}
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// blockJobPending notes that QEMU waits for job-finalize.
func blockJobPending(v *vm, name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if j := jobByName(v, name); j != nil && j.owned {
		j.pending = true
		wakeOwner(j)
	}
}

// concludeOwned marks an owned job concluded for its owner to collect;
// false when the job is not owned.
func concludeOwned(v *vm, name string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	j := jobByName(v, name)
	if j == nil || !j.owned {
		return false
	}
	j.concluded = true
	wakeOwner(j)
	return true
}

// startOwnedCommit starts a block commit of top into base on disk as
// libvirt's snapshot delete does: with --delete, an active commit when top
// is the disk's top image (finalised automatically, pivoted by the owner)
// and otherwise a commit QEMU holds pending until the owner finalises it.
// Call with v's job held.
func (d *Driver) startOwnedCommit(v *vm, mon monitor, target string, topIdx, baseIdx int) (*blockJob, error) {
	v.mu.Lock()
	disk := diskByTarget(v.live, target)
	var top, base *conf.DiskSource
	if disk != nil {
		top, base = layerByIndex(disk, topIdx), layerByIndex(disk, baseIdx)
	}
	if top == nil || base == nil {
		v.mu.Unlock()
		return nil, errQEMU(virerr.ErrInternalError, "disk '%s' changed under the snapshot delete", target)
	}
	if err := checkNoJob(v, disk); err != nil {
		v.mu.Unlock()
		return nil, err
	}
	active := top == &disk.Source
	typ := driver.BlockJobTypeCommit
	var mirror *conf.DiskMirror
	if active {
		typ = driver.BlockJobTypeActiveCommit
		mirror = &conf.DiskMirror{Source: base.Clone(), Job: "active-commit"}
	}
	j := newBlockJob("commit-"+target+"-"+top.NodeNameFormat, target, typ)
	j.TopIndex, j.BaseIndex, j.Delete = layerIndex(top), layerIndex(base), true
	j.owned, j.wake = true, make(chan struct{}, 1)
	args := qmp.BlockCommitArgs{
		JobID: j.Name, Device: disk.Source.NodeNameFormat,
		TopNode: top.NodeNameFormat, BaseNode: base.NodeNameFormat,
		AutoFinalize: active, AutoDismiss: false,
	}
	v.mu.Unlock()
	if err := d.startJob(v, mon, j, mirror, "block-commit", func(ctx context.Context) error {
		return qmp.BlockCommit(ctx, mon, args)
	}); err != nil {
		return nil, err
	}
	return j, nil
}

// waitOwned waits until QEMU concluded j or until holds (read under
// v.mu), woken by the job's events; it fails when QEMU goes away first.
func waitOwned(v *vm, j *blockJob, until func() bool) error {
	v.mu.Lock()
	var exited chan struct{}
	if v.proc != nil {
		exited = v.proc.exited
	}
	v.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	// Events drive the wait; the slow tick only re-reads the state.
	err := qmp.Wait(ctx, j.wake, time.Minute, func(context.Context, *struct{}) (bool, error) {
		v.mu.Lock()
		defer v.mu.Unlock()
		return j.concluded || until(), nil
	})
	if err != nil {
		return errQEMU(virerr.ErrOperationFailed, "domain is not running")
	}
	return nil
}

// completeOwned finishes an owned job that is ready (pivot) or pending
// (finalise), waits for QEMU to conclude it and collects it. It returns
// the final status.
func (d *Driver) completeOwned(ctx context.Context, v *vm, mon monitor, j *blockJob) (int32, error) {
	v.mu.Lock()
	state, pending, concluded := j.State, j.pending, j.concluded
	v.mu.Unlock()
	switch {
	case concluded:
	case state == jobReady:
		if err := qmp.JobComplete(ctx, mon, j.Name); err != nil {
			return 0, qmpCommandError("job-complete", err)
		}
		v.mu.Lock()
		j.State = jobPivoting
		editDisk(v, j.Disk, func(disk *conf.Disk) {
			if disk != nil && disk.Mirror != nil {
				disk.Mirror.Ready = "pivot"
			}
		})
		v.mu.Unlock()
		d.saveStatusLogged(v)
	case pending:
		if err := qmp.JobFinalize(ctx, mon, j.Name); err != nil {
			return 0, qmpCommandError("job-finalize", err)
		}
	}
	if err := waitOwned(v, j, func() bool { return false }); err != nil {
		return 0, err
	}
	return d.collectOwned(ctx, v, mon, j), nil
}

// collectOwned applies a concluded owned job and hands it back to the
// ordinary event handling.
func (d *Driver) collectOwned(ctx context.Context, v *vm, mon monitor, j *blockJob) int32 {
	v.mu.Lock()
	j.owned = false
	v.mu.Unlock()
	return d.collectBlockJob(ctx, v, mon, j)
}

// abandonOwned ends an owned job after a failure: one still running is
// cancelled and left to the ordinary event handling; one QEMU already
// concluded is collected here.
func (d *Driver) abandonOwned(ctx context.Context, v *vm, mon monitor, j *blockJob) {
	v.mu.Lock()
	concluded, live := j.concluded, jobByName(v, j.Name) == j
	v.mu.Unlock()
	if !live {
		return
	}
	if !concluded {
		force := false
		if err := qmp.BlockJobCancel(ctx, mon, j.Name, &force); err == nil {
			v.mu.Lock()
			j.State = jobAborting
			v.mu.Unlock()
		}
	}
	v.mu.Lock()
	concluded = j.concluded
	j.owned = false
	v.mu.Unlock()
	if concluded {
		d.collectBlockJob(ctx, v, mon, j)
	}
}
