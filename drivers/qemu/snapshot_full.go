package qemu

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// createFullSnapshot takes a snapshot that is not --disk-only: internal
// (a running guest's disks and memory, or a shut-off guest's disks) or a
// running guest's external memory and disks. handled is false when the
// request is a plain external disk snapshot after all, left to the
// disk-only path (which libvirt takes for external disks of a shut-off
// guest too).
func (c *conn) createFullSnapshot(h driver.Domain, in *conf.DomainSnapshot, flags uint32) (snap driver.Snapshot, handled bool, err error) {
	if flags&driver.SnapCreateDiskOnly != 0 {
		if err := checkSnapshotMemory(in, true); err != nil {
			return snap, true, err
		}
		return snap, false, nil
	}
	if flags&driver.SnapCreateQuiesce != 0 {
		return snap, true, errQEMU(virerr.ErrInvalidArg, "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY' is required by flag 'VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE'")
	}
	if flags&driver.SnapCreateLive != 0 && flags&driver.SnapCreateRedefine != 0 {
		return snap, true, errQEMU(virerr.ErrInvalidArg, "Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_LIVE' and 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' are mutually exclusive")
	}
	halt := flags&driver.SnapCreateHalt != 0
	noMeta := flags&driver.SnapCreateNoMetadata != 0
	err = c.withSnapJob(h, "snapshot", func(v *vm, mon monitor) error {
		active := mon != nil
		v.mu.Lock()
		persistent, st, dom := v.persistent, v.state, v.name
		def := v.current()
		v.mu.Unlock()
		if !persistent && halt {
			return errQEMU(virerr.ErrOperationInvalid, "cannot halt after transient domain snapshot")
		}
		if err := checkSnapshotMemory(in, !active); err != nil {
			return err
		}
		if err := checkSnapshotState(in, st, active, flags); err != nil {
			return err
		}
		route, err := alignSnapshot(def, in, st, active)
		if err != nil {
			return err
		}
		if route == routeExternalMemory {
			handled = true
			if err := c.createMemorySnapshot(v, mon, in, flags); err != nil {
				return err
			}
			snap = driver.Snapshot{Dom: h, Name: in.Name}
			return nil
		}
		var busy func(*conf.Disk) error
		if active {
			busy = func(disk *conf.Disk) error { return checkNoJob(v, disk) }
		}
		if err := prepareInternal(def, in, active, busy); err != nil {
			return err
		}
		handled = true
		v.ext.snapMu.Lock()
		set := c.d.loadSnaps(dom)
		v.ext.snapMu.Unlock()
		if set.byName[in.Name] != nil && !noMeta {
			return virerr.New(virerr.FromDomain, virerr.ErrOperationFailed, "domain moment %s already exists", in.Name)
		}
		if in.Domain, in.InactiveDomain, err = snapshotDomains(v); err != nil {
			return err
		}
		if !noMeta {
			in.Parent = set.current
		}
		if active {
			setSnapshotCookie(v, in)
			err = c.d.createInternalActive(v, mon, in, halt)
		} else {
			_, err = c.d.forEachQcow2(def, in, "-c", false)
		}
		if err != nil {
			return err
		}
		snap = driver.Snapshot{Dom: h, Name: in.Name}
		if noMeta {
			return nil
		}
		return c.d.writeNewSnapshot(v, dom, in)
	})
	if !handled && err == nil {
		return snap, false, nil
	}
	return snap, true, err
}

// writeNewSnapshot stores a new snapshot's metadata and makes it current.
func (d *Driver) writeNewSnapshot(v *vm, dom string, in *conf.DomainSnapshot) error {
	v.ext.snapMu.Lock()
	defer v.ext.snapMu.Unlock()
	if err := d.saveSnap(dom, in); err != nil {
		return errQEMU(virerr.ErrInternalError, "unable to save metadata for snapshot %s", in.Name)
	}
	return d.setCurrentSnap(dom, in.Name)
}
