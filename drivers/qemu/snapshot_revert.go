package qemu

import (
	"govirt/driver"
	"govirt/virerr"
)

// Revert flags (virDomainSnapshotRevertFlags).
const (
	snapRevertRunning    = 1 << 0
	snapRevertPaused     = 1 << 1
	snapRevertForce      = 1 << 2
	snapRevertResetNVRAM = 1 << 3
)

// DomainRevertToSnapshot follows libvirt 9.0's qemuSnapshotRevert up to
// where it refuses: a guest in a block job, a transient guest reverting
// to an inactive snapshot without asking to run, and any external
// snapshot ("not supported yet" in 9.0). Internal snapshots, which only
// redefined metadata can describe here, cannot be reverted either.
func (c *conn) DomainRevertToSnapshot(s driver.Snapshot, flags uint32) error {
	const allowed = snapRevertRunning | snapRevertPaused | snapRevertForce | snapRevertResetNVRAM
	if flags&^allowed != 0 {
		return errQEMU(virerr.ErrInvalidArg, "unsupported flags (0x%x) in function qemuSnapshotRevert", flags&^allowed)
	}
	v, err := c.d.doms.get(s.Dom)
	if err != nil {
		return err
	}
	v.mu.Lock()
	active, persistent := v.active(), v.persistent
	v.mu.Unlock()
	if active && hasBlockJob(v) {
		return errQEMU(virerr.ErrOperationInvalid, "domain has active block job")
	}
	return c.withSnapJob(s.Dom, "snapshot revert", func(v *vm, _ monitor) error {
		v.mu.Lock()
		dom := v.name
		v.mu.Unlock()
		v.ext.snapMu.Lock()
		snap := c.d.loadSnaps(dom).byName[s.Name]
		v.ext.snapMu.Unlock()
		if snap == nil {
			return errNoSnapshot(s.Name)
		}
		if !persistent && snap.State != "running" && snap.State != "paused" && flags&(snapRevertRunning|snapRevertPaused) == 0 {
			return errQEMU(virerr.ErrOperationInvalid, "transient domain needs to request run or pause to revert to inactive snapshot")
		}
		if isExternalSnap(snap) {
			return errQEMU(virerr.ErrConfigUnsupported, "revert to external snapshot not supported yet")
		}
		if snap.Domain == nil {
			return errQEMU(virerr.ErrSnapshotRevertRisky, "snapshot '%s' lacks domain '%s' rollback info", snap.Name, dom)
		}
		return errQEMU(virerr.ErrOperationUnsupported, "revert to internal snapshot is not supported")
	})
}
