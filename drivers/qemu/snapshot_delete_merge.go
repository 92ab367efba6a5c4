package qemu

import (
	"context"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// mergeRunning is qemuSnapshotDiscardExternal: every disk's overlay is
// block-committed into the image below it, all jobs started before any
// is finished, so a failure cancels the others while they have changed
// nothing yet. Active commits are pivoted once ready, inner commits
// finalised once pending; both delete the committed overlay.
func (d *Driver) mergeRunning(v *vm, mon monitor, dom string, work []*diskMerge) error {
	ctx := context.Background()
	var jobs []*blockJob
	fail := func(err error) error {
		for _, j := range jobs {
			d.abandonOwned(ctx, v, mon, j)
		}
		return err
	}
	for _, m := range work {
		if err := d.markSnapDisk(v, dom, m.parentSnap, m.disk, true); err != nil {
			return fail(err)
		}
		j, err := d.startOwnedCommit(v, mon, m.target, layerIndex(m.top), layerIndex(m.base))
		if err != nil {
			return fail(err)
		}
		jobs = append(jobs, j)
	}
	done := make([]bool, len(jobs))
	for i, j := range jobs {
		if err := waitOwned(v, j, func() bool { return j.State == jobReady || j.pending }); err != nil {
			return fail(err)
		}
		v.mu.Lock()
		concluded := j.concluded
		v.mu.Unlock()
		if !concluded {
			continue
		}
		done[i] = true
		if st := d.collectOwned(ctx, v, mon, j); st != driver.BlockJobCompleted {
			return fail(errQEMU(virerr.ErrInternalError, "block commit failed while deleting disk '%s' snapshot: '%s'", work[i].disk, jobError(v, j)))
		}
	}
	for i, j := range jobs {
		if !done[i] {
			st, err := d.completeOwned(ctx, v, mon, j)
			if err != nil {
				return fail(err)
			}
			if st != driver.BlockJobCompleted {
				return fail(errQEMU(virerr.ErrInternalError, "finishing block job failed while deleting disk '%s' snapshot: '%s'", work[i].disk, jobError(v, j)))
			}
		}
		if err := d.markSnapDisk(v, dom, work[i].parentSnap, work[i].disk, false); err != nil {
			return fail(err)
		}
	}
	return nil
}

func jobError(v *vm, j *blockJob) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return j.errMsg
}

// mergeOffline does for a shut-off guest what mergeRunning does: qemu-img
// commits every overlay first (a failure leaves every disk reading as
// before), then each image above an inner overlay is rebased onto the
// image below it, the persistent definition follows as after a block
// commit, and the overlays are deleted. def is the persistent definition
// with its chains detected, which work points into.
func (d *Driver) mergeOffline(v *vm, dom string, def *conf.Domain, work []*diskMerge) error {
	for _, m := range work {
		if err := d.markSnapDisk(v, dom, m.parentSnap, m.disk, true); err != nil {
			return err
		}
		if err := runQemuImg("commit", "-q", "-d", "-f", formatOr(m.top.Format, "qcow2"), m.top.Path); err != nil {
			return err
		}
	}
	for _, m := range work {
		if m.prev != nil {
			if err := runQemuImg("rebase", "-q", "-u", "-f", formatOr(m.prev.Format, "qcow2"),
				"-F", formatOr(m.base.Format, "raw"), "-b", m.base.Path, m.prev.Path); err != nil {
				return err
			}
		}
		if err := d.mergeConfig(v, diskByTarget(def, m.target), m); err != nil {
			return err
		}
		removeImageFile(m.top)
		if err := d.markSnapDisk(v, dom, m.parentSnap, m.disk, false); err != nil {
			return err
		}
	}
	return nil
}

func formatOr(f, def string) string {
	if f == "" {
		return def
	}
	return f
}

// mergeConfig updates the persistent definition after m's overlay went,
// as libvirt's commit completion does: where the definition spells the
// chain down to the image below the overlay, the overlay's entry goes;
// otherwise an inner merge forgets the spelled chain and a top merge
// makes the image below the new source. live is the disk with the chain
// m points into.
func (d *Driver) mergeConfig(v *vm, live *conf.Disk, m *diskMerge) error {
	v.mu.Lock()
	if live == nil || v.def == nil || !v.persistent || diskByTarget(v.def, m.target) == nil {
		v.mu.Unlock()
		return nil
	}
	def := v.def.Clone() // copy on write: readers use v.def outside v.mu
	cfg := diskByTarget(def, m.target)
	var cfgPrev, cfgBase *conf.DiskSource
	c, l := &cfg.Source, &live.Source
	for c != nil && c.Type != "" && l != nil && l.Type != "" && sameLocation(c, l) {
		if l == m.prev {
			cfgPrev = c
		}
		if l == m.base {
			cfgBase = c
			break
		}
		c, l = c.Backing, l.Backing
	}
	sameTop := sameLocation(&cfg.Source, &live.Source)
	switch {
	case m.prev == nil && cfgBase != nil:
		cfg.Source = *cfgBase
	case m.prev == nil && sameTop:
		cfg.Source = configSource(m.base, false)
	case m.prev != nil && cfgBase != nil && cfgPrev != nil:
		cfgPrev.Backing = cfgBase
	case m.prev != nil && sameTop:
		cfg.Source.Backing = nil
	default:
		v.mu.Unlock()
		return nil
	}
	v.def = def
	v.mu.Unlock()
	return d.saveDef(def)
}

// markSnapDisk sets or clears <snapshotDeleteInProgress/> on a disk of
// snapshot parent, as libvirt's qemuSnapshotSetInvalid.
func (d *Driver) markSnapDisk(v *vm, dom, parent, disk string, on bool) error {
	if parent == "" {
		return nil
	}
	v.ext.snapMu.Lock()
	defer v.ext.snapMu.Unlock()
	ps := d.loadSnaps(dom).byName[parent]
	if ps == nil {
		return nil
	}
	for i := range ps.Disks {
		if ps.Disks[i].Name == disk {
			ps.Disks[i].DeleteInProgress = on
		}
	}
	if err := d.saveSnap(dom, ps); err != nil {
		return errQEMU(virerr.ErrOperationFailed, "cannot save snapshot metadata: %v", err)
	}
	return nil
}

// deleteInternal removes an internal snapshot's data as libvirt does: on
// a running guest QEMU deletes it (snapshot-delete; libvirt 9.0's HMP
// delvm), whatever it answers; qemu-img snapshot -d on
// each qcow2 image of a shut-off one, skipping images where that fails.
func (d *Driver) deleteInternal(v *vm, mon monitor, snap *conf.DomainSnapshot) error {
	if mon != nil {
		d.deleteInternalActive(v, mon, snap) // snapshot_internal.go
		return nil
	}
	def := snap.Domain
	if def == nil {
		v.mu.Lock()
		def = v.def
		v.mu.Unlock()
	}
	for _, disk := range def.Devices.Disks {
		var sd *conf.SnapshotDisk
		for i := range snap.Disks {
			if snap.Disks[i].Name == disk.TargetDev {
				sd = &snap.Disks[i]
			}
		}
		if disk.Device != "disk" || sd == nil || sd.Snapshot != "internal" {
			continue
		}
		if disk.Source.Type != "file" && disk.Source.Type != "block" {
			return errQEMU(virerr.ErrOperationInvalid, "can't manipulate inactive snapshots of disk '%s'", disk.TargetDev)
		}
		if f := disk.Source.Format; f != "" && f != "qcow2" {
			d.log.Warn("skipping snapshot action", "domain", v.name, "disk", disk.TargetDev)
			continue
		}
		if err := runQemuImg("snapshot", "-d", snap.Name, disk.Source.Path); err != nil {
			d.log.Warn("skipping snapshot action", "domain", v.name, "disk", disk.TargetDev, "err", err)
		}
	}
	return nil
}
