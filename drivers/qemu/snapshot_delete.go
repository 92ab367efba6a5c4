package qemu

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// DomainSnapshotDelete is libvirt 9.0's qemuSnapshotDelete. With
// --metadata only the metadata goes. Otherwise an external snapshot's
// overlays are merged into the images below them and deleted: a running
// guest block-commits each overlay (an active commit with pivot when it is
// the disk's top image, a commit of an inner image otherwise); for a
// shut-off guest, where libvirt starts QEMU paused to do the same, qemu-img
// commits the overlays. An internal snapshot (only redefined metadata can
// be one here) is deleted with HMP delvm or qemu-img snapshot -d.
// External snapshots with children are refused with --children, as are
// external descendants with --children and --children-only.
func (c *conn) DomainSnapshotDelete(s driver.Snapshot, flags uint32) error {
	const allowed = snapDeleteChildren | snapDeleteMetadata | snapDeleteChildOnly
	if flags&^allowed != 0 {
		return errQEMU(virerr.ErrInvalidArg, "unsupported flags (0x%x) in function qemuSnapshotDelete", flags&^allowed)
	}
	metaOnly := flags&snapDeleteMetadata != 0
	withKids := flags&(snapDeleteChildren|snapDeleteChildOnly) != 0
	return c.withSnapJob(s.Dom, "snapshot delete", func(v *vm, mon monitor) error {
		v.mu.Lock()
		dom, def := v.name, v.current()
		v.mu.Unlock()
		v.ext.snapMu.Lock()
		set := c.d.loadSnaps(dom)
		v.ext.snapMu.Unlock()
		snap := set.byName[s.Name]
		if snap == nil {
			return errNoSnapshot(s.Name)
		}
		var work []*diskMerge
		if !metaOnly {
			if err := validateSnapshotDelete(v, def, set, snap, flags, mon != nil); err != nil {
				return err
			}
			if isExternalSnap(snap) && !withKids {
				var err error
				if work, err = prepareExternalDelete(def, set, snap, mon != nil); err != nil {
					return err
				}
				if mon == nil {
					// libvirt checks again with the chain the started
					// QEMU sees: here, the one the images describe.
					if def, err = detectedDef(def); err != nil {
						return err
					}
					if work, err = prepareExternalDelete(def, set, snap, true); err != nil {
						return err
					}
				}
			}
		}
		if withKids {
			return c.d.deleteWithChildren(v, mon, dom, set, snap, metaOnly, flags&snapDeleteChildOnly != 0)
		}
		return c.d.deleteOne(v, mon, dom, def, snap, work, metaOnly)
	})
}

// validateSnapshotDelete is qemuSnapshotDeleteValidate.
func validateSnapshotDelete(v *vm, def *conf.Domain, set *snapSet, snap *conf.DomainSnapshot, flags uint32, active bool) error {
	external := isExternalSnap(snap)
	if !external && active {
		for _, sd := range snap.Disks {
			cur, _, _ := findDisk(def, sd.Name, errDiskNotFound)
			var then *conf.Disk
			if snap.Domain != nil {
				then, _, _ = findDisk(snap.Domain, sd.Name, errDiskNotFound)
			}
			if cur == nil || then == nil || !sameLocation(&cur.Source, &then.Source) {
				return errQEMU(virerr.ErrOperationUnsupported, "disk image '%s' for internal snapshot '%s' is not the same as disk image currently used by VM", sd.Name, snap.Name)
			}
		}
	}
	if flags&(snapDeleteChildren|snapDeleteChildOnly) != 0 {
		ext, internal := 0, 0
		for _, d := range set.descendants(snap.Name) {
			if isExternalSnap(d) {
				ext++
			} else {
				internal++
			}
		}
		if ext > 0 && internal > 0 {
			return errQEMU(virerr.ErrConfigUnsupported, "deletion of external and internal children disk snapshots not supported")
		}
		if ext > 0 {
			return errQEMU(virerr.ErrConfigUnsupported, "deletion of external children disk snapshots not supported")
		}
	}
	if external && active && hasBlockJob(v) {
		return errQEMU(virerr.ErrOperationUnsupported, "cannot delete external snapshots when there is another active block job")
	}
	if external && flags&snapDeleteChildren != 0 {
		return errQEMU(virerr.ErrConfigUnsupported, "deletion of external disk snapshots with children not supported")
	}
	return nil
}

// hasBlockJob is qemuDomainHasBlockjob: any disk in a block job.
func hasBlockJob(v *vm) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(blockOf(v).Jobs) > 0 {
		return true
	}
	if v.live != nil {
		for _, d := range v.live.Devices.Disks {
			if d.Mirror != nil {
				return true
			}
		}
	}
	return false
}

// isExternalSnap is virDomainSnapshotIsExternal.
func isExternalSnap(s *conf.DomainSnapshot) bool {
	if s.Memory == "external" {
		return true
	}
	for _, d := range s.Disks {
		if d.Snapshot == "external" {
			return true
		}
	}
	return false
}

// deleteOne deletes one snapshot: its data unless metaOnly, then its
// metadata, its children moving to its parent.
func (d *Driver) deleteOne(v *vm, mon monitor, dom string, def *conf.Domain, snap *conf.DomainSnapshot, work []*diskMerge, metaOnly bool) error {
	if !metaOnly {
		var err error
		switch {
		case !isExternalSnap(snap):
			err = d.deleteInternal(v, mon, snap)
		case mon != nil:
			err = d.mergeRunning(v, mon, dom, work)
		default:
			err = d.mergeOffline(v, dom, def, work)
		}
		if err != nil {
			return err
		}
	}
	v.ext.snapMu.Lock()
	defer v.ext.snapMu.Unlock()
	set := d.loadSnaps(dom)
	if s := set.byName[snap.Name]; s != nil {
		return d.discardMeta(dom, set, s)
	}
	return nil
}

// deleteWithChildren is qemuSnapshotDeleteChildren: the descendants go
// first, deepest first, then the snapshot itself unless childrenOnly.
// Validation let through no external snapshot whose data would go.
func (d *Driver) deleteWithChildren(v *vm, mon monitor, dom string, set *snapSet, snap *conf.DomainSnapshot, metaOnly, childrenOnly bool) error {
	var firstErr error
	var walk func(name string)
	walk = func(name string) {
		for _, k := range set.children(name) {
			walk(k.Name)
			if err := d.deleteOne(v, mon, dom, nil, k, nil, metaOnly); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	walk(snap.Name)
	if firstErr != nil {
		return firstErr
	}
	if childrenOnly {
		return nil
	}
	return d.deleteOne(v, mon, dom, nil, snap, nil, metaOnly)
}
