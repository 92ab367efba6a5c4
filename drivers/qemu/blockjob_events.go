package qemu

import (
	"context"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
)

// Block jobs run with auto-dismiss off, as in libvirt: QEMU keeps a
// finished job "concluded" until we dismiss it, so its outcome can be
// read with query-jobs even if the daemon was down when it ended.
// JOB_STATUS_CHANGE drives everything; the BLOCK_JOB_* events only add
// detail. Nothing here polls.

// onJobStatusChange handles JOB_STATUS_CHANGE.
func (d *Driver) onJobStatusChange(v *vm, ev *qmp.JobStatusChangeEvent) {
	if isMigrationMirror(ev.ID) {
		return // a storage migration's own job (migrate_nbd.go)
	}
	switch ev.Status {
	case "ready":
		d.blockJobReady(v, ev.ID)
	case "pending":
		blockJobPending(v, ev.ID)
	case "concluded":
		id := ev.ID
		v.work.submit(func() { d.concludeBlockJob(v, id) })
	}
}

// recordBlockJobError keeps the error of BLOCK_JOB_COMPLETED (errText)
// or BLOCK_JOB_ERROR (op, action) for the job's outcome.
func (d *Driver) recordBlockJobError(v *vm, job, errText, op, action string) {
	if errText == "" && action == "" {
		return
	}
	msg := errText
	if msg == "" {
		msg = op + " error, action " + action
	}
	v.mu.Lock()
	if j := jobByName(v, job); j != nil {
		j.errMsg = msg
	}
	v.mu.Unlock()
	d.log.Warn("block job error", "domain", v.name, "job", job, "error", msg)
}

// blockJobReady moves a running two-phase job (copy, active commit) to
// ready and tells clients. QEMU may report ready again later (after a
// blip, or while pivoting); only the first transition counts.
func (d *Driver) blockJobReady(v *vm, name string) {
	v.mu.Lock()
	j := jobByName(v, name)
	if j == nil || j.State != jobRunning {
		v.mu.Unlock()
		return
	}
	j.State = jobReady
	dc := editDisk(v, j.Disk, func(disk *conf.Disk) {
		if disk != nil && disk.Mirror != nil {
			disk.Mirror.Ready = "yes"
		}
	})
	typ := j.Type
	wakeOwner(j)
	v.mu.Unlock()
	// Clients hear first, as from libvirt: the status write (two fsyncs
	// right after the copy dirtied the page cache) would delay a waiting
	// "virsh blockcopy --wait", and a restart finds the ready job again
	// from QEMU's own job list anyway.
	d.blockJobEvent(v, dc, typ, driver.BlockJobReady)
	d.saveStatusLogged(v)
}

// lockJobForEvent takes v's job for event processing, waiting out other
// operations for as long as the run lasts; false when it ended.
func lockJobForEvent(v *vm, op string) bool {
	ctx, _ := v.runContext()
	return v.job.beginWait(ctx, jobModify, apiName(op)) == nil
}

// qemuJob is an entry of query-jobs.
type qemuJob = qmp.JobInfo

func queryJobs(ctx context.Context, mon monitor) (map[string]qemuJob, error) {
	list, err := qmp.QueryJobs(ctx, mon)
	if err != nil {
		return nil, err
	}
	out := make(map[string]qemuJob, len(list))
	for _, j := range list {
		out[j.ID] = j
	}
	return out, nil
}

// concludeBlockJob finishes a job QEMU reported concluded: it reads the
// outcome, dismisses the job, applies the result to the disk's chain and
// emits the final events. It runs on the guest's worker, under its job;
// an owned job is only marked, for its owner to collect.
func (d *Driver) concludeBlockJob(v *vm, name string) {
	if concludeOwned(v, name) {
		return
	}
	if !lockJobForEvent(v, "block job completion") {
		return
	}
	defer v.job.release()
	v.mu.Lock()
	j, mon := jobByName(v, name), v.mon
	v.mu.Unlock()
	if j == nil || mon == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.collectBlockJob(ctx, v, mon, j)
}

// collectBlockJob reads a concluded job's outcome from QEMU, dismisses
// it and applies it; the caller holds v's job. It returns the final
// status (driver.BlockJob*), or -1 for a stale event.
func (d *Driver) collectBlockJob(ctx context.Context, v *vm, mon monitor, j *blockJob) int32 {
	name := j.Name
	errMsg := ""
	if jobs, err := queryJobs(ctx, mon); err == nil {
		if qj, ok := jobs[name]; ok {
			if qj.Status != "concluded" {
				return -1 // a stale event; the real one follows
			}
			errMsg = qj.Error
		}
	}
	v.mu.Lock()
	if errMsg == "" {
		errMsg = j.errMsg
	}
	status := driver.BlockJobCompleted
	switch {
	case j.State == jobAborting:
		status = driver.BlockJobCanceled
	case errMsg != "":
		status = driver.BlockJobFailed
	}
	j.errMsg = errMsg
	v.mu.Unlock()
	if errMsg != "" {
		d.log.Warn("block job failed", "domain", v.name, "job", name, "error", errMsg)
	}
	d.finishBlockJob(ctx, v, mon, j, status)
	return status
}

// finishBlockJob applies a concluded job's outcome, dismisses the job
// and forgets it.
func (d *Driver) finishBlockJob(ctx context.Context, v *vm, mon monitor, j *blockJob, status int32) {
	var res chainChange
	v.mu.Lock()
	dc := editDisk(v, j.Disk, func(disk *conf.Disk) {
		if disk != nil {
			oldTop := disk.Source.Path
			res = applyJobOutcome(disk, j, status)
			res.oldTop = oldTop
			disk.Mirror = nil
		}
	})
	delete(blockOf(v).Jobs, j.Disk)
	j.status = status
	v.mu.Unlock()
	// The persistent definition follows first: once the status no longer
	// names the job, a daemon killed before the definition was written
	// would leave it on the old image for good (a 150-operation run of
	// TestFaultDaemonKill: live XML on the base after a pivot, the
	// persistent one on the merged overlay). Written before, a kill in
	// between finds the job in the status and applies its outcome to the
	// live XML again, while the definition, already on the new image,
	// no longer matches the old top and is left alone.
	if dc != nil && res.changed {
		d.syncConfigChain(v, dc, res.oldTop)
	}
	// QEMU forgets the job only once its outcome is in the status file:
	// a daemon killed before that finds the job concluded and applies it
	// again, instead of a pivoted QEMU under a live XML naming the old
	// image. One killed after it finds a concluded job no status names,
	// and dismisses it (resumeBlockJobs).
	d.saveStatusLogged(v)
	d.faultAt("blockjob_recorded")
	if err := qmp.JobDismiss(ctx, mon, j.Name); err != nil {
		d.log.Warn("job-dismiss", "domain", v.name, "job", j.Name, "err", err)
	}
	// Images that left the chain are unplugged from QEMU, top down so no
	// node is still used by another when deleted. Only now: a concluded
	// commit job holds the images it dropped until it is dismissed, and
	// blockdev-del of a node still in use fails (libvirt too dismisses
	// first, qemuBlockJobEventProcessConcluded).
	for _, s := range res.unplug {
		delNodes(ctx, mon, s)
	}
	if res.deleteFiles {
		for _, s := range res.unplug {
			removeImageFile(s)
		}
	} else {
		d.restoreLeftImages(v, dc, j, res)
	}
	d.saveStatusLogged(v)
	d.blockJobEvent(v, dc, j.Type, status)
	close(j.done)
}

// resumeBlockJobs catches up with jobs a previous daemon started: once
// the monitor is back, query-jobs says which ended (and how) while
// nobody listened, and which reached ready.
func (d *Driver) resumeBlockJobs(v *vm) {
	v.work.submit(func() {
		v.mu.Lock()
		mon := v.mon
		var names []string
		for _, j := range blockOf(v).Jobs {
			names = append(names, j.Name)
		}
		v.mu.Unlock()
		if mon == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		jobs, err := queryJobs(ctx, mon)
		if err != nil {
			d.log.Warn("query-jobs after reconnect", "domain", v.name, "err", err)
			return
		}
		known := map[string]bool{}
		for _, name := range names {
			known[name] = true
		}
		for name, qj := range jobs {
			// Applied and saved by the previous daemon, which died
			// before dismissing it.
			if !known[name] && qj.Status == "concluded" {
				_ = qmp.JobDismiss(ctx, mon, name)
			}
		}
		for _, name := range names {
			qj, ok := jobs[name]
			switch {
			case !ok:
				// QEMU forgot it: nothing to apply, but no job either.
				d.dropVanishedJob(v, name)
			case qj.Status == "ready":
				d.blockJobReady(v, name)
			case qj.Status == "pending":
				// Its owner went with the old daemon: finish it.
				_ = qmp.JobFinalize(ctx, mon, name)
			case qj.Status == "concluded":
				d.notePivot(ctx, v, mon, name)
				d.concludeBlockJob(v, name)
			}
		}
	})
}

// notePivot marks a concluded active commit or copy as pivoted when
// QEMU's graph says it was: a daemon killed after sending job-complete but
// before the status recorded the pivot left the job "ready", and applying
// it as such would keep the live XML on the image QEMU no longer writes
// (the fault suite's interrupted snapshot-delete). The drive's top node
// is the truth: the commit's base or the copy's mirror means the pivot
// happened.
func (d *Driver) notePivot(ctx context.Context, v *vm, mon monitor, name string) {
	v.mu.Lock()
	j := jobByName(v, name)
	want := ""
	if j != nil && j.State != jobPivoting && j.State != jobAborting {
		if disk := diskByTarget(v.live, j.Disk); disk != nil {
			switch j.Type {
			case driver.BlockJobTypeActiveCommit:
				if base := layerByIndex(disk, j.BaseIndex); base != nil {
					want = base.NodeNameFormat
				}
			case driver.BlockJobTypeCopy:
				if disk.Mirror != nil {
					want = disk.Mirror.Source.NodeNameFormat
				}
			}
		}
	}
	v.mu.Unlock()
	if want == "" {
		return
	}
	tops, _, err := blockGraph(ctx, mon)
	if err != nil {
		d.log.Warn("cannot read the block graph of a concluded job", "domain", v.name, "job", name, "err", err)
		return
	}
	if _, ok := tops[want]; !ok {
		return
	}
	v.mu.Lock()
	if j := jobByName(v, name); j != nil && j.State != jobAborting {
		j.State = jobPivoting
	}
	v.mu.Unlock()
	d.log.Warn("a block job pivoted while govirtd was down", "domain", v.name, "job", name)
}

func (d *Driver) dropVanishedJob(v *vm, name string) {
	v.mu.Lock()
	j := jobByName(v, name)
	if j != nil {
		delete(blockOf(v).Jobs, j.Disk)
		editDisk(v, j.Disk, func(disk *conf.Disk) {
			if disk != nil {
				disk.Mirror = nil
			}
		})
	}
	v.mu.Unlock()
	if j != nil {
		d.log.Warn("block job vanished while govirtd was down", "domain", v.name, "job", name)
		close(j.done)
		d.saveStatusLogged(v)
	}
}

// stashPendingBlockState keeps a block state read from a status file at
// daemon start until its guest's reconnect finishes (its first status
// save). The stash is the driver's, keyed by guest name, since the guest
// may not exist yet when the status file is read.
func (d *Driver) stashPendingBlockState(name string, bs *blockState) {
	d.pendingMu.Lock()
	defer d.pendingMu.Unlock()
	if bs != nil {
		d.pendingBlock[name] = bs
	}
}

// adoptPendingBlockState installs v's stashed state, if any, when v's
// monitor is connected; true when jobs need catching up. Call with v.mu
// held.
func (d *Driver) adoptPendingBlockState(v *vm) bool {
	if v.mon == nil {
		return false
	}
	d.pendingMu.Lock()
	bs := d.pendingBlock[v.name]
	delete(d.pendingBlock, v.name)
	d.pendingMu.Unlock()
	if bs == nil {
		return false
	}
	adoptBlockState(v, bs)
	return len(bs.Jobs) > 0
}

// dropPendingBlockState forgets a stale stash when a guest starts anew.
func (d *Driver) dropPendingBlockState(name string) {
	d.pendingMu.Lock()
	delete(d.pendingBlock, name)
	d.pendingMu.Unlock()
}
