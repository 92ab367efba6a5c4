package qemu

import (
	"context"
	"errors"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// Revert flags (virDomainSnapshotRevertFlags).
const (
	snapRevertRunning    = 1 << 0
	snapRevertPaused     = 1 << 1
	snapRevertForce      = 1 << 2
	snapRevertResetNVRAM = 1 << 3
)

// DomainRevertToSnapshot is libvirt 9.0's qemuSnapshotRevert. External
// snapshots are refused ("not supported yet" in 9.0). A snapshot with
// memory (running or paused) restarts QEMU from the snapshot's
// definition, paused, loads the snapshot with QEMU's snapshot-load job
// (libvirt 9.0 passes -loadvm, to the same effect) and runs it unless
// it was paused or a pause is asked for. A snapshot of a shut-off guest
// stops QEMU, reverts each image with qemu-img snapshot -a and starts
// the guest only with --running or --paused. Transitions send libvirt's
// events: STOPPED, STARTED and SUSPENDED "from snapshot".
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
	active := v.active()
	v.mu.Unlock()
	if active && hasBlockJob(v) {
		return errQEMU(virerr.ErrOperationInvalid, "domain has active block job")
	}
	return c.withSnapJob(s.Dom, "snapshot revert", func(v *vm, _ monitor) error {
		v.mu.Lock()
		dom, persistent := v.name, v.persistent
		v.mu.Unlock()
		v.ext.snapMu.Lock()
		snap := c.d.loadSnaps(dom).byName[s.Name]
		v.ext.snapMu.Unlock()
		if snap == nil {
			return errNoSnapshot(s.Name)
		}
		if err := c.validateRevert(v, dom, persistent, snap, flags); err != nil {
			return err
		}
		config, inactive := revertConfigs(snap, v)
		switch snap.State {
		case "running", "paused":
			return c.d.revertActive(v, snap, config, inactive, flags)
		case "shutdown", "shutoff", "crashed":
			return c.d.revertInactive(v, snap, inactive, flags)
		case "pmsuspended":
			return errQEMU(virerr.ErrOperationUnsupported, "qemu doesn't support reversion of snapshot taken in PMSUSPENDED state")
		}
		return errQEMU(virerr.ErrInternalError, "Invalid target domain state '%s'. Refusing snapshot reversion", snap.State)
	})
}

// validateRevert is qemuSnapshotRevertValidate.
func (c *conn) validateRevert(v *vm, dom string, persistent bool, snap *conf.DomainSnapshot, flags uint32) error {
	withMemory := snap.State == "running" || snap.State == "paused"
	if !persistent && !withMemory && flags&(snapRevertRunning|snapRevertPaused) == 0 {
		return errQEMU(virerr.ErrOperationInvalid, "transient domain needs to request run or pause to revert to inactive snapshot")
	}
	if isExternalSnap(snap) {
		return errQEMU(virerr.ErrConfigUnsupported, "revert to external snapshot not supported yet")
	}
	if snap.Domain == nil {
		return errQEMU(virerr.ErrSnapshotRevertRisky, "snapshot '%s' lacks domain '%s' rollback info", snap.Name, dom)
	}
	if flags&snapRevertForce == 0 && persistent && c.d.hasManagedSave(dom) && !withMemory {
		return errQEMU(virerr.ErrSnapshotRevertRisky, "snapshot without memory state, removal of existing managed saved state strongly recommended to avoid corruption")
	}
	return nil
}

// revertConfigs is qemuSnapshotRevertPrep: the definition to run and the
// persistent one to take, both named as the guest is now. A snapshot
// without <inactiveDomain> uses its <domain> for both (one with memory)
// or only as the persistent one (one without).
func revertConfigs(snap *conf.DomainSnapshot, v *vm) (config, inactive *conf.Domain) {
	v.mu.Lock()
	name := v.name
	v.mu.Unlock()
	config = snap.Domain.Clone()
	config.Name = name
	config.ID = -1
	if snap.InactiveDomain != nil {
		inactive = snap.InactiveDomain.Clone()
		inactive.Name = name
	} else if snap.State == "running" || snap.State == "paused" {
		inactive = config.Clone()
	} else {
		inactive, config = config, nil
	}
	return config, inactive
}

// revertActive is qemuSnapshotRevertActive (transitions to running or
// paused from any state).
func (d *Driver) revertActive(v *vm, snap *conf.DomainSnapshot, config, inactive *conf.Domain, flags uint32) error {
	ctx := context.Background()
	d.stopFromSnapshot(v, true)
	defined := d.takeInactiveConfig(v, inactive)
	if flags&snapRevertResetNVRAM != 0 {
		v.mu.Lock()
		v.resetNVRAM = true
		v.mu.Unlock()
	}
	v.mu.Lock()
	v.live = config
	v.mu.Unlock()
	err := d.launch(ctx, v, false)
	if err != nil {
		v.mu.Lock()
		if !v.active() && v.live == config {
			v.live = nil
		}
		v.mu.Unlock()
	}
	if err == nil {
		err = d.loadInternal(ctx, v, snap)
		if err != nil {
			d.stopFromSnapshot(v, true)
		}
	}
	if err == nil {
		d.runPostStartHooks(v)
	}
	d.emit(v, driver.EventStarted, driver.EventStartedFromSnapshot)
	if err != nil {
		d.dropIfTransient(v)
		return err
	}
	if flags&snapRevertRunning == 0 && (snap.State == "paused" || flags&snapRevertPaused != 0) {
		v.mu.Lock()
		v.setState(driver.StatePaused, driver.PausedFromSnapshot)
		v.mu.Unlock()
		d.emit(v, driver.EventSuspended, driver.EventSuspendedFromSnapshot)
	} else if err := d.startCPUsThen(ctx, v, driver.RunningFromSnapshot, false); err != nil {
		return err
	}
	if err := d.saveStatus(v); err != nil {
		return err
	}
	return d.revertWriteMetadata(v, snap, defined)
}

// loadInternal loads the snapshot into a QEMU started paused, from the
// images of the disks it covers.
func (d *Driver) loadInternal(ctx context.Context, v *vm, snap *conf.DomainSnapshot) error {
	v.mu.Lock()
	live, mon := v.live, v.mon
	v.mu.Unlock()
	if mon == nil {
		return errNoLongerRunning()
	}
	nodes := internalNodes(live, snap)
	if len(nodes) == 0 {
		return errQEMU(virerr.ErrOperationFailed, "this domain does not have a device to load snapshots")
	}
	err := runSnapshotJob(ctx, mon, "snapshot-load", func(id string) error {
		return qmp.SnapshotLoad(ctx, mon, qmp.SnapshotJobArgs{JobID: id, Tag: snap.Name, VMState: nodes[0], Devices: nodes})
	})
	if err == nil {
		return nil
	}
	var qe *qmp.Error
	if errors.As(err, &qe) {
		return qmpCommandError("snapshot-load", err)
	}
	return errQEMU(virerr.ErrOperationFailed, "Failed to load snapshot: %v", err)
}

// revertInactive is qemuSnapshotRevertInactive (transitions to shut off,
// then optionally to running or paused).
func (d *Driver) revertInactive(v *vm, snap *conf.DomainSnapshot, inactive *conf.Domain, flags uint32) error {
	ctx := context.Background()
	keep := flags&(snapRevertRunning|snapRevertPaused) != 0
	d.stopFromSnapshot(v, keep)
	def := snap.Domain
	if def == nil {
		v.mu.Lock()
		def = v.def
		v.mu.Unlock()
	}
	if skipped, err := d.forEachQcow2(def, snap, "-a", true); err != nil || skipped {
		if err == nil {
			err = errQEMU(virerr.ErrInternalError, "An error occurred, but the cause is unknown")
		}
		d.dropIfTransient(v)
		return err
	}
	defined := d.takeInactiveConfig(v, inactive)
	if flags&(snapRevertRunning|snapRevertPaused) != 0 {
		paused := flags&snapRevertPaused != 0
		if flags&snapRevertResetNVRAM != 0 {
			v.mu.Lock()
			v.resetNVRAM = true
			v.mu.Unlock()
		}
		if err := d.launch(ctx, v, false); err != nil {
			d.dropIfTransient(v)
			return err
		}
		d.runPostStartHooks(v)
		if paused {
			v.mu.Lock()
			v.setState(driver.StatePaused, driver.PausedUser)
			v.mu.Unlock()
		} else if err := d.startCPUsThen(ctx, v, driver.RunningBooted, false); err != nil {
			d.abortLaunch(v)
			return err
		}
		d.emit(v, driver.EventStarted, driver.EventStartedFromSnapshot)
		if paused {
			d.emit(v, driver.EventSuspended, driver.EventSuspendedFromSnapshot)
		}
		if err := d.saveStatus(v); err != nil {
			return err
		}
	}
	return d.revertWriteMetadata(v, snap, defined)
}

// takeInactiveConfig makes def the guest's persistent definition (kept in
// memory; revertWriteMetadata saves it). It reports whether it did.
func (d *Driver) takeInactiveConfig(v *vm, def *conf.Domain) bool {
	if def == nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	def.UUID = v.uuid
	if !v.persistent {
		return false
	}
	v.def = def
	return true
}

// revertWriteMetadata is qemuSnapshotRevertWriteMetadata: the snapshot
// becomes current and, for a persistent guest whose definition changed,
// the definition is saved and clients hear DEFINED from snapshot.
func (d *Driver) revertWriteMetadata(v *vm, snap *conf.DomainSnapshot, defined bool) error {
	v.mu.Lock()
	dom, def, persistent := v.name, v.def, v.persistent
	v.mu.Unlock()
	v.ext.snapMu.Lock()
	err := d.setCurrentSnap(dom, snap.Name)
	v.ext.snapMu.Unlock()
	if err != nil {
		return err
	}
	if defined && persistent && def != nil {
		if err := d.saveDef(def); err != nil {
			return err
		}
		d.emit(v, driver.EventDefined, driver.EventDefinedFromSnapshot)
	}
	return nil
}
