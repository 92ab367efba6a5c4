package qemu

import (
	"context"
	"os"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// External memory snapshots (snapshot-create-as --memspec file=...) are
// libvirt 9.0's qemuSnapshotCreateActiveExternal with memory: the guest
// pauses (unless --live), its state goes to the memory file as a save
// image (the format `virsh restore` reads), then every disk gets an
// overlay in one transaction, and the guest runs again. libvirt 9.0
// cannot revert to such a snapshot, and neither can govirt.

// createMemorySnapshot takes a running guest's full external snapshot;
// in was aligned with external disks. The caller holds v's snapshot job.
func (c *conn) createMemorySnapshot(v *vm, mon monitor, in *conf.DomainSnapshot, flags uint32) error {
	d := c.d
	ctx := context.Background()
	reuse := flags&driver.SnapCreateReuseExt != 0
	noMeta := flags&driver.SnapCreateNoMetadata != 0
	v.mu.Lock()
	dom, before, state := v.name, v.current().Clone(), v.state
	v.mu.Unlock()
	if err := prepareInternal(before, in, true, func(disk *conf.Disk) error { return checkNoJob(v, disk) }); err != nil {
		return err
	}
	hasManual := false
	for _, sd := range in.Disks {
		if sd.Snapshot == "manual" {
			hasManual = true
		}
	}
	var plans []*overlayPlan
	if hasExternalDisk(in) {
		var err error
		v.mu.Lock()
		plans, err = planOverlays(before, in, reuse, true, func(disk *conf.Disk) error { return checkNoJob(v, disk) })
		if err == nil {
			for _, p := range plans {
				p.overlay = newImageSource(v, p.overlay.Type, p.overlay.Path, p.overlay.Format)
			}
		}
		v.mu.Unlock()
		if err != nil {
			return err
		}
	}
	v.ext.snapMu.Lock()
	set := d.loadSnaps(dom)
	v.ext.snapMu.Unlock()
	if set.byName[in.Name] != nil && !noMeta {
		return virerr.New(virerr.FromDomain, virerr.ErrOperationFailed, "domain moment %s already exists", in.Name)
	}
	var err error
	if in.Domain, in.InactiveDomain, err = snapshotDomains(v); err != nil {
		return err
	}
	if !noMeta {
		in.Parent = set.current
	}
	setSnapshotCookie(v, in)
	in.Disks = snapshotDisks(before, plans)

	v.mu.Lock()
	v.jobPreState = state
	v.mu.Unlock()
	if err := d.setJobPhase(v, "memory"); err != nil {
		return err
	}
	resume := false
	if state == driver.StateRunning {
		resume = !hasManual
		if flags&driver.SnapCreateLive == 0 {
			if err := d.pauseFor(ctx, v, mon, driver.PausedSnapshot); err != nil {
				return err
			}
		} else {
			// QEMU pauses by itself once the stream converged.
			v.mu.Lock()
			v.pausedReason = driver.PausedSnapshot
			v.mu.Unlock()
		}
	}
	unlink := false
	fail := func(err error) error {
		if unlink {
			os.Remove(in.MemoryFile)
		}
		if resume {
			if rerr := d.startCPUs(ctx, v, driver.RunningUnpaused); rerr != nil {
				d.emit(v, driver.EventSuspended, driver.EventSuspendedAPIError)
			}
		}
		return err
	}
	existed := fileExists(in.MemoryFile)
	if err := d.writeMemoryImage(ctx, v, mon, in.MemoryFile, resume); err != nil {
		unlink = !existed
		return fail(err)
	}
	unlink = !existed
	if len(plans) > 0 {
		if err := d.takeOverlays(v, mon, plans, reuse, in, noMeta); err != nil {
			return fail(err)
		}
	}
	if flags&driver.SnapCreateHalt != 0 {
		d.stopFromSnapshot(v, false)
		resume = false
	} else if resume {
		if err := d.startCPUs(ctx, v, driver.RunningUnpaused); err != nil {
			d.emit(v, driver.EventSuspended, driver.EventSuspendedAPIError)
			return errQEMU(virerr.ErrOperationFailed, "resuming after snapshot failed")
		}
	}
	if noMeta {
		return nil
	}
	return d.writeNewSnapshot(v, dom, in)
}

// hasExternalDisk reports whether an aligned snapshot has an external disk.
func hasExternalDisk(in *conf.DomainSnapshot) bool {
	for _, sd := range in.Disks {
		if sd.Snapshot == "external" {
			return true
		}
	}
	return false
}

// writeMemoryImage streams the guest's state into path as a save image
// (header, then QEMU's migration stream), marking it complete only once
// it is on disk, as a save does; QEMU keeps running (paused).
func (d *Driver) writeMemoryImage(ctx context.Context, v *vm, mon monitor, path string, running bool) error {
	fm, ok := mon.(fdMonitor)
	if !ok {
		return errQEMU(virerr.ErrOperationUnsupported, "monitor cannot pass descriptors")
	}
	v.mu.Lock()
	live := v.live
	v.mu.Unlock()
	xml, err := d.formatMigratable(live)
	if err != nil {
		return err
	}
	runCtx, _ := v.runContext()
	f, err := createFileCtx(runCtx, path, func(err error) error {
		return errQEMU(virerr.ErrSystemError, "Failed to create file '%s': %v", path, unwrapPathErr(err))
	})
	if err != nil {
		return err
	}
	defer f.Close()
	if err := writeSaveHeader(f, xml, running); err != nil {
		return err
	}
	if err := qmp.Getfd(ctx, fm, "govirt-snapshot", f); err != nil {
		return qmpFailed("passing the memory file", err)
	}
	if err := qmp.Migrate(ctx, mon, "fd:govirt-snapshot"); err != nil {
		return qmpFailed("memory snapshot", err)
	}
	if err := waitMigration(ctx, mon); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if _, err := f.WriteAt(saveMagic, 0); err != nil {
		return err
	}
	return f.Sync()
}

// unwrapPathErr is the system error of a path error, as libvirt prints it.
func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
