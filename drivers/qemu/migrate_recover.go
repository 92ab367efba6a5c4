package qemu

import (
	"context"

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
