package qemu

import (
	"context"
	"os"

	"govirt/driver"
)

// recoverMigration finishes, after a daemon restart, a migration the
// earlier daemon was in the middle of, as libvirt's recovery of migration
// jobs: the client that drove it is gone with the old daemon's sockets.
//   - incoming: a guest whose CPUs Finish already started stays; any
//     other is killed (the source still has it);
//   - outgoing, before QEMU completed: the migration is cancelled and the
//     guest runs again if it ran before;
//   - outgoing, completed (waiting for Confirm): whether the destination
//     runs the guest is unknown, so it stays paused for the user to decide.
func (d *Driver) recoverMigration(ctx context.Context, v *vm, m *migration) {
	if m == nil {
		return
	}
	m.events = make(chan string, 64)
	v.mu.Lock()
	state, name := v.state, v.name
	v.mu.Unlock()
	d.log.Warn("recovering an interrupted migration", "domain", name, "incoming", m.Incoming, "phase", m.Phase)
	if m.Incoming {
		if state == driver.StateRunning {
			return
		}
		d.killIncoming(v)
		d.dropIfTransient(v)
		return
	}
	switch m.Phase {
	case phaseBegin, phasePerform:
		d.restoreSource(ctx, v, m)
	default:
		d.log.Warn("migration completed but not confirmed; guest left paused", "domain", name)
	}
}

// recoverJob finishes or rolls back, after a daemon restart, the async
// job the status file says was in flight (libvirt's qemuProcessRecoverJob):
//   - migration: recoverMigration;
//   - save or dump: QEMU's stream to the file is cancelled and a guest
//     the job paused runs again;
//   - snapshot: the block graph QEMU really has decides whether the new
//     overlays are adopted (recoverSnapshot);
//   - start: a half-started QEMU was killed before we got here.
func (d *Driver) recoverJob(ctx context.Context, v *vm, st *status) {
	if st.Migration != nil {
		d.recoverMigration(ctx, v, st.Migration)
		return
	}
	if st.Job == nil {
		return
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
