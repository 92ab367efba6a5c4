package qemu

import (
	"context"
	"errors"
	"time"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// A post-copy migration whose stream broke cannot go back: the guest runs
// on the destination with part of its memory still on the source. As
// libvirt 9.0, both sides then keep the migration's async job, in phase
// postcopy_failed, with no owner and no sync job (queries and destroy
// run), in the states paused (post-copy failed) and running (post-copy
// failed); `virsh migrate --postcopy --postcopy-resume` takes that job up
// again, step by step, in the resume phases below
// (migrate_resume.go, migrate_resume_p2p.go).

// The resume phases, after libvirt's qemuMigrationJobPhase names.
const (
	phasePostcopyFailed = "postcopy_failed"
	phaseBeginResume    = "begin_resume"
	phasePerformResume  = "perform_resume"
	phaseConfirmResume  = "confirm_resume"
	phasePrepareResume  = "prepare_resume"
	phaseFinishResume   = "finish_resume"
)

// resumeRank orders the resume phases as libvirt's enum; every earlier
// phase ranks 0.
var resumeRank = map[string]int{
	phasePostcopyFailed: 1,
	phaseBeginResume:    2,
	phasePerformResume:  3,
	phaseConfirmResume:  4,
	phasePrepareResume:  5,
	phaseFinishResume:   6,
}

// releaseAsync leaves the async job running with no owner, as libvirt's
// qemuDomainObjReleaseAsyncJob: nobody waits on it until a resume step
// (or the unattended end of the migration) takes it again.
func (j *jobObj) releaseAsync() {
	j.mu.Lock()
	j.asyncOwner = ""
	j.cond.Broadcast()
	j.mu.Unlock()
}

// claimAsync gives the async job to api again.
func (j *jobObj) claimAsync(api string) {
	j.mu.Lock()
	j.asyncOwner = api
	j.mu.Unlock()
}

// postcopyStates reports libvirt's virDomainObjIsPostcopy and
// virDomainObjIsFailedPostcopy for v; call with v.mu held.
func postcopyStates(v *vm) (postcopy, failed bool) {
	failed = v.state == driver.StatePaused && v.reason == driver.PausedPostcopyFailed ||
		v.state == driver.StateRunning && v.reason == driver.RunningPostcopyFailed ||
		v.mig != nil && v.mig.Phase == phasePostcopyFailed
	postcopy = failed || v.state == driver.StatePaused && v.reason == driver.PausedPostcopy ||
		v.state == driver.StateRunning && v.reason == driver.RunningPostcopy
	return postcopy, failed
}

// parkMigration leaves m, which failed in post-copy, waiting for a
// resume (libvirt's qemuMigrationJobContinue in phase postcopy_failed).
// The caller holds the migration's nested sync job; it is released.
func (d *Driver) parkMigration(v *vm, m *migration) {
	v.mu.Lock()
	active := v.active()
	m.Phase, m.busy, m.owner = phasePostcopyFailed, false, nil
	if active {
		v.mig = m
	}
	v.mu.Unlock()
	if !active {
		d.endMigration(v)
		return
	}
	d.log.Warn("post-copy migration failed; the guest waits for a resume", "domain", v.name, "incoming", m.Incoming)
	v.job.releaseAsync()
	d.saveStatusLogged(v)
	v.job.end()
	v.mu.Lock()
	proc, mon := v.proc, v.mon
	v.mu.Unlock()
	if proc != nil {
		select {
		case <-proc.exited:
			// Not cleaned up by the EOF handler while the job was held.
			d.monitorEOF(v)
			return
		default:
		}
	}
	// QEMU may have completed before the job was parked (an event the
	// unattended completion missed).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st, err := queryMigrate(ctx, mon); err == nil && st.Status == "completed" {
		go d.completeUnattended(v)
	}
}

// endOrPark ends m, or parks it when its guest is in post-copy: the
// destination ran it, so neither side may drop its half.
func (d *Driver) endOrPark(v *vm, m *migration) {
	if m.Flags&migrateOffline == 0 && inPostcopy(v, m) {
		v.mu.Lock()
		active := v.active()
		v.mu.Unlock()
		if active {
			d.postcopyFailed(v)
			d.parkMigration(v, m)
			return
		}
	}
	d.endMigration(v)
}

// dropParkedMigration forgets a parked migration whose guest stopped
// (destroyed, or its QEMU died): libvirt's qemuProcessCleanupMigrationJob.
// A step in progress holds the sync job, so stop waits for it.
func (d *Driver) dropParkedMigration(v *vm) {
	v.mu.Lock()
	m := v.mig
	parked := m != nil && !m.busy && resumeRank[m.Phase] > 0
	if parked {
		v.mig = nil
	}
	v.mu.Unlock()
	if parked {
		v.job.endAsync()
	}
}

// takeResume is libvirt's qemuMigrationAnyCanResume followed by the
// phase change: it takes up v's migration for the resume step next when
// its phase is at most expected, with libvirt's errors otherwise, and
// holds the nested sync job for the step. api names the step as the
// job's owner.
func (c *conn) takeResume(v *vm, incoming bool, flags uint32, expected, next, api string) (*migration, error) {
	if flags&migratePostcopy == 0 {
		return nil, errQEMU(virerr.ErrArgumentUnsupported, "%s", "resuming failed post-copy migration requires post-copy to be enabled")
	}
	if !incoming && resumeRank[expected] < resumeRank[phasePerformResume] && flags&(migrateChangeProtection|migratePeer2Peer) == 0 {
		return nil, errQEMU(virerr.ErrArgumentUnsupported, "%s", "resuming failed post-copy migration requires change protection")
	}
	want, notMsg := asyncMigrationOut, "domain '%s' is not being migrated"
	if incoming {
		want, notMsg = asyncMigrationIn, "domain '%s' is not processing incoming migration"
	}
	k, _, _, _ := v.job.asyncInfo()
	v.mu.Lock()
	m, name := v.mig, v.name
	if k != want || m == nil || m.Incoming != incoming {
		v.mu.Unlock()
		return nil, errQEMU(virerr.ErrOperationInvalid, notMsg, name)
	}
	postcopy, failed := postcopyStates(v)
	var err error
	switch {
	case m.busy:
		err = errQEMU(virerr.ErrOperationInvalid, "migration of domain %s is being actively monitored by another thread", name)
	case !postcopy:
		err = errQEMU(virerr.ErrOperationInvalid, "migration of domain %s is not in post-copy phase", name)
	case resumeRank[m.Phase] == 0 && !failed:
		err = errQEMU(virerr.ErrOperationInvalid, "post-copy migration of domain %s has not failed", name)
	case resumeRank[m.Phase] > resumeRank[expected]:
		err = errQEMU(virerr.ErrOperationInvalid, "resuming failed post-copy migration of domain %s already in progress", name)
	}
	if err != nil {
		v.mu.Unlock()
		return nil, err
	}
	m.busy = true
	v.mu.Unlock()
	v.job.claimAsync(api)
	if err := v.nested(c.waitCtx()); err != nil {
		v.mu.Lock()
		m.busy = false
		v.mu.Unlock()
		v.job.releaseAsync()
		return nil, err
	}
	v.mu.Lock()
	m.Phase = next
	v.mu.Unlock()
	c.d.saveStatusLogged(v)
	return m, nil
}

// resumeStepDone ends a resume step that went well: the migration waits
// for the next one, driven by owner (nil: this daemon drives it).
func (d *Driver) resumeStepDone(v *vm, m *migration, owner *conn) {
	v.mu.Lock()
	m.busy, m.owner = false, owner
	v.mu.Unlock()
	v.job.releaseAsync()
	d.saveStatusLogged(v)
	v.job.end()
}

// onResumeStatus follows QEMU's MIGRATION events for a post-copy
// migration that failed: "postcopy-recover" (a resume reconnected) puts
// back the post-copy states, as libvirt's qemuProcessHandleMigrationStatus;
// "completed" with nobody attending (a resume whose client went away, or
// a QEMU that finished while the daemon was down) ends the migration.
func (d *Driver) onResumeStatus(v *vm, status string) {
	v.mu.Lock()
	m := v.mig
	if m == nil {
		v.mu.Unlock()
		return
	}
	var event, detail int32 = -1, 0
	switch status {
	case "postcopy-recover":
		if _, failed := postcopyStates(v); failed {
			if v.state == driver.StatePaused {
				v.setState(driver.StatePaused, driver.PausedPostcopy)
				event, detail = driver.EventSuspended, driver.EventSuspendedPostcopy
			} else if v.state == driver.StateRunning {
				v.setState(driver.StateRunning, driver.RunningPostcopy)
				event, detail = driver.EventResumed, driver.EventResumedPostcopy
			}
		}
	case "completed":
		if m.Phase == phasePostcopyFailed && !m.busy {
			v.mu.Unlock()
			go d.completeUnattended(v) // not on the event goroutine
			return
		}
	}
	v.mu.Unlock()
	if event >= 0 {
		d.saveStatusLogged(v)
		d.emit(v, event, detail)
	}
}

// completeUnattended ends a parked post-copy migration that QEMU
// completed: the source stops as migrated, the destination runs the
// guest (running/migrated), as libvirt's qemuMigrationProcessUnattended.
func (d *Driver) completeUnattended(v *vm) {
	v.mu.Lock()
	m := v.mig
	ok := m != nil && m.Phase == phasePostcopyFailed && !m.busy && v.active()
	if ok {
		m.busy = true
	}
	v.mu.Unlock()
	if !ok {
		return
	}
	v.job.claimAsync("qemuProcessEventHandler")
	if err := v.nested(context.Background()); err != nil {
		v.mu.Lock()
		m.busy = false
		v.mu.Unlock()
		v.job.releaseAsync()
		return
	}
	d.log.Info("unattended post-copy migration completed", "domain", v.name, "incoming", m.Incoming)
	if m.Incoming {
		v.mu.Lock()
		m.Phase = phaseFinishResume
		v.mu.Unlock()
		d.completeResumedIn(v, m)
		return
	}
	v.mu.Lock()
	m.Phase = phaseConfirmResume
	v.mu.Unlock()
	d.completeResumedOut(v, m)
}

// completeResumedIn: the destination has the whole guest.
func (d *Driver) completeResumedIn(v *vm, m *migration) {
	v.mu.Lock()
	mon := v.mon
	migrated := v.state == driver.StateRunning
	if migrated {
		v.setState(driver.StateRunning, driver.RunningMigrated)
	}
	v.mu.Unlock()
	if migrated {
		d.saveStatusLogged(v)
		d.emit(v, driver.EventResumed, driver.EventResumedMigrated)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resetMigSettings(ctx, mon)
	dropMigrationTLS(ctx, mon, m.Flags)
	d.endMigration(v)
}

// completeResumedOut: the destination has the whole guest; it stops here.
func (d *Driver) completeResumedOut(v *vm, m *migration) {
	v.mu.Lock()
	mon := v.mon
	v.mu.Unlock()
	d.recordCompleted(v, mon, asyncMigrationOut)
	if err := d.stopMigratedSource(v, m.Flags); err != nil {
		d.log.Error("cannot undefine the migrated guest", "domain", v.name, "err", err)
	}
	d.endMigration(v)
	d.dropIfTransient(v)
}

// drainMigrationEvents drops the MIGRATION statuses queued for m, so a
// wait that starts now sees only what comes after.
func drainMigrationEvents(m *migration) {
	for {
		select {
		case <-m.events:
		default:
			return
		}
	}
}

// resumeConnectWait bounds how long the destination's Finish waits for
// the source's QEMU to reconnect: the source's Perform only starts it.
var resumeConnectWait = 30 * time.Second

// waitResumed waits until a resumed post-copy migration completed. QEMU
// stays in postcopy-paused until the source's QEMU connects; once it
// recovered, postcopy-paused again is a failure, and so is never
// reconnecting.
func waitResumed(ctx context.Context, mon monitor, m *migration, job string) error {
	start := time.Now()
	recovering := false
	wctx, cancel := context.WithTimeout(ctx, 6*time.Hour)
	defer cancel()
	failed := errQEMU(virerr.ErrOperationFailed, "job '%s' failed in post-copy phase", job)
	err := qmp.Wait(wctx, m.events, time.Second, func(ctx context.Context, ev *string) (bool, error) {
		status, err := migStatusOf(ctx, mon, ev)
		if err != nil {
			return false, err
		}
		switch status {
		case "completed":
			return true, nil
		case "postcopy-recover", "postcopy-active":
			recovering = true
		case "postcopy-paused":
			if recovering || time.Since(start) > resumeConnectWait {
				return false, failed
			}
		case "failed", "cancelled":
			return false, failed
		}
		return false, nil
	})
	var ve *virerr.Error
	if err != nil && !errors.As(err, &ve) {
		err = migrationWaitErr(err, ctx, "migration in job")
	}
	return err
}
