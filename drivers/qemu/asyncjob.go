package qemu

import (
	"context"
	"time"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// asyncVM looks h up and starts async job k on it (libvirt's
// qemuDomainObjBeginAsyncJob); the caller ends it with v.job.endAsync.
func (c *conn) asyncVM(ctx context.Context, h driver.Domain, k asyncKind, op string, mask uint32) (*vm, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, err
	}
	if err := v.job.beginAsync(c.waitCtx(), k, c.owner(op), mask); err != nil {
		return nil, err
	}
	v.mu.Lock()
	err = v.goneErr()
	v.mu.Unlock()
	if err != nil {
		v.job.endAsync()
		return nil, err
	}
	return v, nil
}

// nested takes the sync job for the owner of v's async job: a step
// that must not interleave with destroy or the other allowed jobs.
func (v *vm) nested(ctx context.Context) error {
	_, owner, _, _ := v.job.asyncInfo()
	return v.job.begin(ctx, jobNested, owner)
}

// beginMigrationJob starts a migration's async job and keeps the sync
// job nested in it from Begin (or Prepare) to the end, as the migration
// steps are separate calls that each expect the guest unchanged.
func (v *vm) beginMigrationJob(ctx context.Context, k asyncKind, owner string) error {
	if err := v.job.beginAsync(ctx, k, owner, defaultJobMask); err != nil {
		return err
	}
	if err := v.nested(ctx); err != nil {
		v.job.endAsync()
		return err
	}
	return nil
}

func (v *vm) endMigrationJob() {
	v.job.end()
	v.job.endAsync()
}

// setJobPhase records the async job's phase in the job and in the status
// file, so a restarted daemon knows how far it got.
func (d *Driver) setJobPhase(v *vm, phase string) error {
	v.job.setPhase(phase)
	return d.saveStatus(v)
}

func (c *conn) asyncOf(h driver.Domain) (asyncKind, time.Time, monitor, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return 0, time.Time{}, nil, err
	}
	v.mu.Lock()
	active, mon := v.active(), v.mon
	v.mu.Unlock()
	if !active {
		return 0, time.Time{}, nil, errNotRunning()
	}
	k, _, _, started := v.job.asyncInfo()
	return k, started, mon, nil
}

// jobReportable is whether domjobinfo shows an async job: libvirt reports
// the jobs that have a job operation (not a start).
func jobReportable(k asyncKind) bool {
	return k != asyncNone && k != asyncStart
}

func (c *conn) DomainGetJobInfo(h driver.Domain) (driver.JobInfo, error) {
	k, started, mon, err := c.asyncOf(h)
	if err != nil || !jobReportable(k) {
		return driver.JobInfo{}, err
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return driver.JobInfo{}, err
	}
	info := driver.JobInfo{Type: 2, TimeElapsed: uint64(time.Since(started).Milliseconds())}
	if k != asyncSave && k != asyncMigrationOut && k != asyncMigrationIn && k != asyncDump {
		return info, nil
	}
	if _, _, phase, _ := v.job.asyncInfo(); k == asyncDump && phase == phaseMemoryDump {
		return memoryDumpJobInfo(mon, info), nil // dump.go
	}
	// query-migrate never waits on a job; a stuck monitor only costs its
	// own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if st, err := queryMigrate(ctx, mon); err == nil {
		info.DataTotal, info.DataProcessed, info.DataRemaining = st.RAM.Total, st.RAM.Transferred, st.RAM.Remaining
	}
	return info, nil
}

func (c *conn) DomainGetJobStats(h driver.Domain, flags uint32) (int32, []driver.TypedParam, error) {
	if flags&^(jobStatsCompleted|jobStatsKeepCompleted) != 0 {
		return 0, nil, errFlagsFn(flags&^(jobStatsCompleted|jobStatsKeepCompleted), "qemuDomainGetJobStats")
	}
	if flags&jobStatsCompleted != 0 {
		return c.completedJobStats(h, flags) // migrate_jobstats.go
	}
	if k, started, mon, err := c.asyncOf(h); err == nil && (k == asyncMigrationOut || k == asyncMigrationIn || k == asyncSave) {
		return jobTypeUnbounded, migrationJobStats(mon, k, started), nil
	}
	info, err := c.DomainGetJobInfo(h)
	if err != nil || info.Type == 0 {
		return 0, nil, err
	}
	params := []driver.TypedParam{{Field: "time_elapsed", Value: info.TimeElapsed}}
	if info.DataTotal > 0 { // known once QEMU moves data, as in libvirt
		params = append(params,
			driver.TypedParam{Field: "data_total", Value: info.DataTotal},
			driver.TypedParam{Field: "data_processed", Value: info.DataProcessed},
			driver.TypedParam{Field: "data_remaining", Value: info.DataRemaining})
	}
	if k, _, _, err := c.asyncOf(h); err == nil && jobReportable(k) {
		params = append(params, driver.TypedParam{Field: "operation", Value: jobOperation(k)})
	}
	return info.Type, params, nil
}

// jobOperation is virDomainJobOperation for an async job.
func jobOperation(k asyncKind) int32 {
	switch k {
	case asyncStart:
		return 1
	case asyncSave:
		return 2
	case asyncMigrationIn:
		return 4
	case asyncMigrationOut:
		return 5
	case asyncSnapshot:
		return 6
	case asyncDump:
		return 8
	case asyncBackup:
		return 9
	}
	return 0
}

// DomainAbortJob cancels the async job (libvirt's qemuDomainAbortJob):
// QEMU is asked to cancel what it streams, and the async job then fails
// and undoes what it did. Jobs that cannot be aborted get libvirt's
// errors under the abort job, which every async job allows.
func (c *conn) DomainAbortJob(h driver.Domain) error {
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	if done, err := abortMigration(v); done {
		return err
	}
	// A migration keeps its nested job from step to step, and a save
	// while it streams, so aborting either cannot wait for the sync job;
	// migrate_cancel is safe at any point.
	if k, _, _, _ := v.job.asyncInfo(); k != asyncMigrationOut && k != asyncMigrationIn && k != asyncSave && k != asyncDump {
		if err := v.job.begin(context.Background(), jobAbort, "remoteDispatchDomainAbortJob"); err != nil {
			return err
		}
		defer v.job.end()
	}
	k, _, mon, err := c.asyncOf(h)
	if err != nil {
		return err
	}
	switch k {
	case asyncNone:
		return errQEMU(virerr.ErrOperationInvalid, "no job is active on the domain")
	case asyncStart:
		return errQEMU(virerr.ErrOperationInvalid, "cannot abort VM start; use virDomainDestroy instead")
	case asyncMigrationIn:
		return errQEMU(virerr.ErrOperationInvalid, "cannot abort incoming migration; use virDomainDestroy instead")
	case asyncDump:
		if _, _, phase, _ := v.job.asyncInfo(); phase == phaseMemoryDump {
			return errQEMU(virerr.ErrOperationInvalid, "cannot abort memory-only dump")
		}
	}
	if mon == nil {
		return errNotRunning()
	}
	if k == asyncDump {
		markDumpAborted(v) // dump.go
	}
	if err := qmp.MigrateCancel(context.Background(), mon); err != nil {
		return qmpFailed("abort", err)
	}
	return nil
}
