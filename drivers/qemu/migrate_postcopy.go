package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// Post-copy migration (virsh migrate --postcopy, migrate-postcopy,
// --postcopy-after-precopy, --timeout-postcopy), as libvirt 9.0: QEMU
// starts with postcopy-ram on both sides; once a client asks
// (virDomainMigrateStartPostCopy) QEMU stops the guest on the source,
// which becomes paused/post-copy, and Perform returns; the destination's
// Finish runs the guest there (running/post-copy) while QEMU pulls the
// pages it still lacks, and when QEMU completes it becomes
// running/migrated (a second RESUMED event, migrated). Confirm on the
// source waits for its QEMU to finish sending before it stops it. A
// migration that fails once the guest runs on the destination cannot go
// back: the source stays paused/post-copy failed, the destination
// running/post-copy failed, both waiting for a resume
// (migrate_resume*.go).

// checkMigrateCombos refuses the flag combinations libvirt 9.0's Begin
// and Prepare refuse.
func checkMigrateCombos(flags uint32) error {
	switch {
	case flags&migrateOffline != 0 && copiesStorage(flags):
		return errQEMU(virerr.ErrOperationInvalid, "%s", "offline migration cannot handle non-shared storage")
	case flags&migrateOffline != 0 && flags&migratePersistDest == 0:
		return errQEMU(virerr.ErrOperationInvalid, "%s", "offline migration must be specified with the persistent flag set")
	case flags&migrateOffline != 0 && flags&migrateTunnelled != 0:
		return errQEMU(virerr.ErrOperationInvalid, "%s", "tunnelled offline migration does not make sense")
	case flags&migratePostcopy != 0 && (flags&migrateLive == 0 || flags&migratePaused != 0):
		return errQEMU(virerr.ErrArgumentUnsupported, "%s", "post-copy migration is not supported with non-live or paused migration")
	case flags&migratePostcopy != 0 && flags&migrateTunnelled != 0:
		return errQEMU(virerr.ErrArgumentUnsupported, "%s", "post-copy is not supported with tunnelled migration")
	case flags&migrateZeroCopy != 0 && flags&migrateParallel == 0:
		return errQEMU(virerr.ErrOperationInvalid, "%s", "zero-copy is only available for parallel migration")
	case copiesStorage(flags) && flags&migrateTunnelled != 0:
		// libvirt 9.0 reports this in Begin and goes on to mirror the
		// disks to an empty host name, which fails; govirt stops here.
		return errQEMU(virerr.ErrOperationUnsupported, "%s", "migration of non-shared storage is not supported with tunnelled migration and this QEMU")
	}
	return nil
}

// onMigrationStatus follows QEMU's MIGRATION events: the waiter gets the
// status, and the post-copy states are set as libvirt's
// qemuProcessHandleMigrationStatus sets them.
func (d *Driver) onMigrationStatus(v *vm, ev *qmp.MigrationEvent) {
	onMigrationEvent(v, ev)
	v.mu.Lock()
	m := v.mig
	if m == nil {
		v.mu.Unlock()
		return
	}
	var event, detail int32 = -1, 0
	save := false
	switch ev.Status {
	case "postcopy-active":
		// Recorded at once: a restarted daemon must not undo it.
		save = !m.Postcopy
		m.Postcopy = true
		if !m.Incoming && v.state == driver.StatePaused && v.reason == driver.PausedMigration {
			v.setState(driver.StatePaused, driver.PausedPostcopy)
			event, detail = driver.EventSuspended, driver.EventSuspendedPostcopy
		}
	case "postcopy-paused":
		// The connection broke after the switch: neither side has the
		// whole guest.
		m.Postcopy = true
		switch {
		case !m.Incoming && v.state == driver.StatePaused && v.reason != driver.PausedPostcopyFailed:
			v.setState(driver.StatePaused, driver.PausedPostcopyFailed)
			event, detail = driver.EventSuspended, driver.EventSuspendedPostcopyFailed
		case m.Incoming && v.state == driver.StateRunning && v.reason != driver.RunningPostcopyFailed:
			v.setState(driver.StateRunning, driver.RunningPostcopyFailed)
			event, detail = driver.EventResumed, driver.EventResumedPostcopyFailed
		}
	}
	v.mu.Unlock()
	if event >= 0 || save {
		d.saveStatusLogged(v)
	}
	if event >= 0 {
		d.emit(v, event, detail)
	}
	d.onResumeStatus(v, ev.Status) // migrate_resume_state.go
}

// onMigrationPass is QEMU's MIGRATION_PASS: libvirt's migration
// iteration event (what virsh --postcopy-after-precopy waits for).
func (d *Driver) onMigrationPass(v *vm, data json.RawMessage) {
	var p struct {
		Pass int32 `json:"pass"`
	}
	if json.Unmarshal(data, &p) != nil {
		return
	}
	if k, _, _, _ := v.job.asyncInfo(); k == asyncNone {
		return
	}
	d.publishDomain(v, driver.EventIDMigrationIteration, driver.MigrationIteration{Iteration: p.Pass})
}

// waitMigrationSwitch waits until QEMU completed the migration or, with
// postcopy, switched to post-copy (reported by the returned bool).
func waitMigrationSwitch(ctx context.Context, mon monitor, m *migration, postcopy bool, what string) (bool, error) {
	if !postcopy {
		return false, waitMigrationEvents(ctx, mon, m, what)
	}
	return waitMigrationStatus(ctx, mon, m, true, what)
}

// waitMigrationStatus waits until QEMU's migration completed or, when
// stopAtPostcopy, switched to post-copy; post-copy paused is a failure.
func waitMigrationStatus(ctx context.Context, mon monitor, m *migration, stopAtPostcopy bool, what string) (bool, error) {
	inPostcopy := false
	wctx, cancel := context.WithTimeout(ctx, 6*time.Hour)
	defer cancel()
	err := qmp.Wait(wctx, m.events, time.Second, func(ctx context.Context, ev *string) (bool, error) {
		status, err := migStatusOf(ctx, mon, ev)
		if err != nil {
			return false, err
		}
		switch status {
		case "completed":
			return true, nil
		case "postcopy-active":
			inPostcopy = true
			return stopAtPostcopy, nil
		case "failed", "cancelled", "postcopy-paused":
			st, _ := qmp.QueryMigrate(ctx, mon)
			if status == "postcopy-paused" {
				return false, errQEMU(virerr.ErrOperationFailed, "job '%s' failed in post-copy phase", strings.TrimSuffix(what, " job"))
			}
			return false, &qmp.MigrationError{Status: status, Desc: st.ErrorDesc}
		}
		return false, nil
	})
	var ve *virerr.Error
	if err != nil && !errors.As(err, &ve) {
		err = migrationWaitErr(err, ctx, what)
	}
	return inPostcopy, err
}

// migrationWaitErr turns a wait's error into libvirt's.
func migrationWaitErr(err error, ctx context.Context, what string) error {
	var me *qmp.MigrationError
	switch {
	case errors.Is(err, qmp.ErrMigrationCancelled):
		return errQEMU(virerr.ErrOperationAborted, "%s: canceled by client", what)
	case errors.As(err, &me) && me.Desc != "":
		return errQEMU(virerr.ErrOperationFailed, "%s: %s", what, me.Desc)
	case errors.Is(err, qmp.ErrMigrationFailed):
		return errQEMU(virerr.ErrOperationFailed, "%s: unexpectedly failed", what)
	case err == context.DeadlineExceeded && ctx.Err() == nil:
		return errQEMU(virerr.ErrOperationTimeout, "%s did not finish", what)
	}
	return errQEMU(virerr.ErrOperationFailed, "%s: %v", what, err)
}

// waitPostcopyEnd waits for a migration in post-copy to complete (on
// either side); a failure leaves the guest in its post-copy failed state.
func (d *Driver) waitPostcopyEnd(ctx context.Context, v *vm, mon monitor, m *migration, what string) error {
	_, err := waitMigrationStatus(ctx, mon, m, false, what)
	if err != nil {
		d.postcopyFailed(v)
	}
	return err
}

// postcopyFailed sets the post-copy failed state of libvirt's
// qemuMigrationSrcPostcopyFailed / qemuMigrationDstPostcopyFailed.
func (d *Driver) postcopyFailed(v *vm) {
	v.mu.Lock()
	var event, detail int32 = -1, 0
	switch {
	case v.state == driver.StatePaused && v.reason != driver.PausedPostcopyFailed:
		v.setState(driver.StatePaused, driver.PausedPostcopyFailed)
		event, detail = driver.EventSuspended, driver.EventSuspendedPostcopyFailed
	case v.state == driver.StateRunning && v.reason != driver.RunningPostcopyFailed:
		v.setState(driver.StateRunning, driver.RunningPostcopyFailed)
		event, detail = driver.EventResumed, driver.EventResumedPostcopyFailed
	}
	v.mu.Unlock()
	if event >= 0 {
		d.saveStatusLogged(v)
		d.emit(v, event, detail)
	}
}

// inPostcopy reports whether m's guest already runs on the destination.
func inPostcopy(v *vm, m *migration) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return m.Postcopy
}

// finishPostcopyIn is the end of the destination's Finish once the guest
// runs here in post-copy: QEMU completes, and the guest is
// running/migrated with libvirt's second RESUMED (migrated) event.
func (d *Driver) finishPostcopyIn(ctx context.Context, v *vm, mon monitor, m *migration) error {
	if err := d.waitPostcopyEnd(ctx, v, mon, m, "migration in job"); err != nil {
		return err
	}
	v.mu.Lock()
	if v.state == driver.StateRunning {
		v.setState(driver.StateRunning, driver.RunningMigrated)
	}
	v.mu.Unlock()
	d.saveStatusLogged(v)
	d.emit(v, driver.EventResumed, driver.EventResumedMigrated)
	return nil
}

// DomainMigrateStartPostCopy switches a migration started with
// --postcopy to post-copy (virsh migrate-postcopy), as libvirt's
// qemuDomainMigrateStartPostCopy. The migration holds the guest's job
// from Begin, so this does not wait for one (as domjobabort).
func (c *conn) DomainMigrateStartPostCopy(h driver.Domain, flags uint32) error {
	if flags != 0 {
		return errFlagsFn(flags, "qemuDomainMigrateStartPostCopy")
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	v.mu.Lock()
	active, mon, m := v.active(), v.mon, v.mig
	v.mu.Unlock()
	if !active {
		return errNotRunning()
	}
	if k, _, _, _ := v.job.asyncInfo(); k != asyncMigrationOut || m == nil || m.Incoming {
		return errQEMU(virerr.ErrOperationInvalid, "%s", "post-copy can only be started while outgoing migration is in progress")
	}
	if m.Flags&migratePostcopy == 0 {
		return errQEMU(virerr.ErrOperationInvalid, "%s", "switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag")
	}
	if mon == nil {
		return errNotRunning()
	}
	if err := mon.Execute(context.Background(), "migrate-start-postcopy", nil, nil); err != nil {
		return errQEMU(virerr.ErrOperationFailed, "%v", err)
	}
	return nil
}

// postcopyDrainWait bounds how long Confirm waits for the source's QEMU
// to report the post-copy migration completed after the destination's did.
const postcopyDrainWait = 30 * time.Second

// drainPostcopy lets the source's QEMU finish sending before Confirm
// stops it: the destination completed, so this is only QEMU's own view
// catching up.
func (d *Driver) drainPostcopy(ctx context.Context, v *vm, m *migration) {
	v.mu.Lock()
	mon := v.mon
	v.mu.Unlock()
	if mon == nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, postcopyDrainWait)
	defer cancel()
	if _, err := waitMigrationStatus(wctx, mon, m, false, "migration out job"); err != nil {
		d.log.Warn("post-copy migration did not complete on the source", "domain", v.name, "err", err)
	}
}

// recoverPostcopy is a restarted daemon's recovery of a migration that
// had switched to post-copy: if QEMU completed meanwhile, the guest is
// migrated (running here, or stopped on the source); otherwise neither
// side may drop its half: the migration is parked, waiting for a resume
// or for QEMU to complete it, in the post-copy failed state unless QEMU
// still migrates, as libvirt's recovery of post-copy migrations. It
// reports whether it kept the migration's job.
func (d *Driver) recoverPostcopy(ctx context.Context, v *vm, m *migration) bool {
	v.mu.Lock()
	mon := v.mon
	v.mu.Unlock()
	st, err := queryMigrate(ctx, mon)
	switch {
	case err == nil && st.Status == "completed" && m.Incoming:
		v.mu.Lock()
		if v.state == driver.StateRunning {
			v.setState(driver.StateRunning, driver.RunningMigrated)
		}
		v.mig = nil
		v.mu.Unlock()
		d.saveStatusLogged(v)
		d.emit(v, driver.EventResumed, driver.EventResumedMigrated)
	case err == nil && st.Status == "completed":
		if err := d.stopMigratedSource(v, m.Flags); err != nil {
			d.log.Error("cannot undefine the migrated guest", "domain", v.name, "err", err)
		}
		v.mu.Lock()
		v.mig = nil
		v.mu.Unlock()
		d.dropIfTransient(v)
	case err == nil && (st.Status == "postcopy-active" || st.Status == "postcopy-recover"):
		d.parkMigration(v, m) // migrate_resume_state.go
		return true
	default:
		d.postcopyFailed(v)
		d.parkMigration(v, m)
		return true
	}
	return false
}

// migStatusOf is the migration status a qmp.Wait step sees: the
// MIGRATION event's when one woke it, else query-migrate's.
func migStatusOf(ctx context.Context, mon monitor, ev *string) (string, error) {
	if ev != nil {
		return *ev, nil
	}
	st, err := qmp.QueryMigrate(ctx, mon)
	if err != nil {
		return "", err
	}
	return st.Status, nil
}
