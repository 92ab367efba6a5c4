package qemu

import (
	"context"
	"os"
	"time"

	"govirt/driver"
	"govirt/qmp"
)

// recoverMigration finishes, after a daemon restart, a migration the
// earlier daemon was in the middle of, as libvirt's recovery of migration
// jobs: the client that drove it is gone with the old daemon's sockets.
//   - incoming, before the guest's CPUs started (Prepare, or Finish before
//     it resumed the guest): QEMU is killed, the source still has it;
//   - incoming, CPUs started: the client may have had no answer from
//     Finish and told the source to resume; the source daemon is asked
//     (settleIncoming);
//   - outgoing, before QEMU completed: the migration is cancelled and the
//     guest runs again if it ran before;
//   - outgoing, completed (waiting for Confirm): whether the destination
//     runs the guest is asked of the destination daemon (settleOutgoing).
//     libvirt leaves this guest paused for a third party to decide.
//
// It runs with the migration job reconnectPrepare took and reports
// whether it keeps it (the peer is asked with the job held, and the
// question may go on in the background).
func (d *Driver) recoverMigration(ctx context.Context, v *vm, m *migration) bool {
	if m == nil {
		return false
	}
	m.events = make(chan string, 64)
	v.mu.Lock()
	state, name := v.state, v.name
	v.mu.Unlock()
	d.log.Warn("recovering an interrupted migration", "domain", name, "incoming", m.Incoming, "phase", m.Phase, "peer", m.Peer)
	if m.Postcopy {
		return d.recoverPostcopy(ctx, v, m) // migrate_postcopy.go
	}
	switch {
	case m.Incoming && state != driver.StateRunning:
		d.killIncoming(v, m)
		d.dropIfTransient(v)
	case m.Incoming, m.Phase == phasePerformed:
		if m.Peer == "" {
			d.log.Warn("interrupted migration left as it is: no peer daemon to ask where the guest runs", "domain", name, "state", state)
			return false
		}
		// The migration job reconnectPrepare took goes on with the
		// question; endMigration ends it.
		v.mu.Lock()
		m.busy = true
		v.mig = m
		v.mu.Unlock()
		d.settle(ctx, v, m, peerWaitStart, false)
		return true
	default:
		d.restoreSource(ctx, v, m)
	}
	return false
}

// settle decides, by asking the peer daemon, which side keeps a guest whose
// migration was interrupted where this side cannot tell, and ends the
// migration. It is called with the migration job held and v.mig == m
// (busy). It asks for up to wait, then goes on in the background for up
// to peerWaitMax; resume says what an outgoing guest does when the peer
// never answers (the client's word in Confirm; libvirt's paused guest
// otherwise).
func (d *Driver) settle(ctx context.Context, v *vm, m *migration, wait time.Duration, resume bool) {
	if wait > 0 && d.applyPeer(ctx, v, m, d.waitPeer(ctx, v, m, time.Now().Add(wait)), false, resume) {
		return
	}
	go func() {
		ctx := context.Background()
		d.applyPeer(ctx, v, m, d.waitPeer(ctx, v, m, time.Now().Add(peerWaitMax)), true, resume)
	}()
}

// applyPeer acts on the peer's answer and ends the migration; with an
// undecided answer it does so only when final, and reports whether it did.
//   - outgoing: the destination owns the guest: it stops here as migrated
//     (as Confirm would have); the destination has none: it runs again;
//   - incoming: the source runs the guest again: it is killed here; the
//     source has none: it stays.
func (d *Driver) applyPeer(ctx context.Context, v *vm, m *migration, view peerView, final, resume bool) bool {
	undecided := view == peerUnreachable || view == peerMigrating
	if undecided && !final {
		return false
	}
	v.mu.Lock()
	active := v.active()
	v.mu.Unlock()
	switch {
	case !active:
		// Destroyed (or its QEMU died) while the peer was asked.
	case m.Incoming && view == peerOwns:
		d.log.Warn("the migration source runs the guest: killing this copy", "domain", v.name)
		d.killIncoming(v, m)
	case m.Incoming:
	case view == peerOwns:
		d.log.Warn("the migration destination runs the guest: stopping it here", "domain", v.name)
		if err := d.stopMigratedSource(v, m.Flags); err != nil {
			d.log.Error("cannot undefine the migrated guest", "domain", v.name, "err", err)
		}
	case view == peerAbsent || resume:
		d.restoreSource(ctx, v, m)
	default:
		d.log.Warn("migration completed but the destination never said whether it runs the guest; guest left paused", "domain", v.name)
	}
	d.endMigration(v)
	d.dropIfTransient(v)
	return true
}

// recoverJob finishes or rolls back, after a daemon restart, the async
// job the status file says was in flight (libvirt's qemuProcessRecoverJob):
//   - migration: recoverMigration;
//   - save or dump: QEMU's stream to the file is cancelled and a guest
//     the job paused runs again;
//   - snapshot: the block graph QEMU really has decides whether the new
//     overlays are adopted (recoverSnapshot);
//   - start: a half-started QEMU was killed before we got here.
//
// It runs with the reconnection's job held and reports whether a
// migration's recovery kept it (recoverMigration).
func (d *Driver) recoverJob(ctx context.Context, v *vm, st *status) bool {
	if st.Migration != nil {
		return d.recoverMigration(ctx, v, st.Migration)
	}
	if st.Job == nil {
		return false
	}
	v.mu.Lock()
	mon, state, name := v.mon, v.state, v.name
	v.mu.Unlock()
	k := parseAsyncKind(st.Job.Async)
	d.log.Warn("recovering an interrupted job", "domain", name, "job", k.String(), "phase", st.Job.Phase)
	switch k {
	case asyncSave, asyncDump:
		if mon != nil {
			_ = mon.Execute(ctx, "migrate_cancel", nil, nil)
			settleMigrationToFile(ctx, mon, 10*time.Second)
			// QEMU's own run state decides: a save that completed
			// while the daemon was down left QEMU in postmigrate, and
			// its STOP may not have reached the state we hold yet.
			if rs, err := qmp.QueryStatus(ctx, mon); err == nil && !rs.Running {
				state = driver.StatePaused
			}
		}
		if st.Job.PreState == driver.StateRunning && state == driver.StatePaused {
			if err := d.startCPUs(ctx, v, driver.RunningSaveCanceled); err != nil {
				d.log.Warn("cannot resume after an interrupted save", "domain", name, "err", err)
			}
		}
		if k == asyncSave {
			d.dropPartialManagedSave(name)
		}
	case asyncSnapshot:
		d.recoverSnapshot(ctx, v, st.Job)
		d.recoverSnapshotJobs(ctx, v, st.Job) // snapshot_internal.go
	}
	return false
}

// dropPartialManagedSave removes the managed save image an interrupted
// save left unfinished, so the guest, which keeps running, is not shown
// as having one; a complete image (the save finished, only its job
// record was left) stays.
func (d *Driver) dropPartialManagedSave(name string) {
	path, err := d.managedSavePath(name)
	if err != nil {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	_, err = readSaveHeader(f)
	f.Close()
	if unusableManagedSave(err) {
		os.Remove(path)
	}
}

// settleMigrationToFile waits, up to limit, for a migration to file that
// migrate_cancel was sent to to end (cancelled, completed or failed) and
// for QEMU to leave its finish-migrate run state: migrate_cancel only asks,
// and a daemon killed while QEMU was in a save's final phase found cont
// refused with "Migration is not finalized yet", leaving the guest paused
// (saving) after the restart (fault seed 1796679673843225377, op 245).
func settleMigrationToFile(ctx context.Context, mon monitor, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		mi, err := qmp.QueryMigrate(ctx, mon)
		settled := err != nil || (!mi.Active() && mi.Status != "cancelling")
		if settled {
			rs, err := qmp.QueryStatus(ctx, mon)
			settled = err != nil || rs.Status != "finish-migrate"
		}
		if settled || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}
