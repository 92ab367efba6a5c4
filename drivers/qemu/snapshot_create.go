package qemu

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// overlayPlan is one disk of an external snapshot.
type overlayPlan struct {
	target  string
	oldTop  conf.DiskSource // the image the overlay goes on
	overlay conf.DiskSource // with its new index and node names when live
	created bool
}

func (c *conn) DomainSnapshotCreateXML(h driver.Domain, doc string, flags uint32) (driver.Snapshot, error) {
	var pf conf.ParseFlags
	if flags&driver.SnapCreateValidate != 0 {
		pf |= conf.ParseValidate
	}
	in, err := conf.ParseDomainSnapshot([]byte(doc), pf)
	if err != nil {
		return driver.Snapshot{}, err
	}
	// qemuSnapshotCreateXMLValidateDef: the name becomes a file name.
	if flags&driver.SnapCreateNoMetadata == 0 {
		if strings.Contains(in.Name, "/") {
			return driver.Snapshot{}, errQEMU(virerr.ErrXMLDetail, "invalid snapshot name '%s': name can't contain '/'", in.Name)
		}
		if strings.HasPrefix(in.Name, ".") {
			return driver.Snapshot{}, errQEMU(virerr.ErrXMLDetail, "invalid snapshot name '%s': name can't start with '.'", in.Name)
		}
	}
	if flags&driver.SnapCreateRedefine != 0 {
		return c.redefineSnapshot(h, in, flags)
	}
	if snap, handled, err := c.createFullSnapshot(h, in, flags); handled {
		return snap, err // snapshot_full.go
	}
	halt := flags&driver.SnapCreateHalt != 0
	reuse := flags&driver.SnapCreateReuseExt != 0
	var snap driver.Snapshot
	err = c.withSnapJob(h, "snapshot", func(v *vm, mon monitor) error {
		active := mon != nil
		v.mu.Lock()
		dom, before, persistent := v.name, v.current().Clone(), v.persistent
		v.mu.Unlock()
		if halt && !persistent {
			return errQEMU(virerr.ErrOperationInvalid, "cannot halt after transient domain snapshot")
		}
		v.mu.Lock()
		busy := func(disk *conf.Disk) error { return checkNoJob(v, disk) }
		if !active {
			busy = nil
		}
		plans, err := planOverlays(before, in, reuse, active, busy)
		if err == nil && active {
			for _, p := range plans {
				p.overlay = newImageSource(v, p.overlay.Type, p.overlay.Path, p.overlay.Format)
			}
		}
		v.mu.Unlock()
		if err != nil {
			return err
		}
		v.ext.snapMu.Lock()
		set := c.d.loadSnaps(dom)
		v.ext.snapMu.Unlock()
		if set.byName[in.Name] != nil && flags&driver.SnapCreateNoMetadata == 0 {
			return virerr.New(virerr.FromDomain, virerr.ErrOperationFailed, "domain moment %s already exists", in.Name)
		}
		state := "disk-snapshot"
		if !active {
			state = "shutoff"
		}
		noMeta := flags&driver.SnapCreateNoMetadata != 0
		in.State, in.Memory, in.Parent = state, "no", set.current
		in.Disks = snapshotDisks(before, plans)
		before.ID = -1
		in.Domain = before
		if active {
			err = c.quiesced(v, flags&driver.SnapCreateQuiesce != 0, func() error {
				return c.d.takeOverlays(v, mon, plans, reuse, in, noMeta)
			})
		} else {
			err = c.d.takeOverlaysInactive(v, plans, reuse)
		}
		if err != nil {
			return err
		}
		if halt && active {
			// qemuSnapshotCreateActiveExternal: the snapshot is
			// complete, the guest stops "from snapshot".
			c.d.stopFromSnapshot(v, false)
		}
		snap = driver.Snapshot{Dom: h, Name: in.Name}
		if noMeta {
			return nil
		}
		v.ext.snapMu.Lock()
		defer v.ext.snapMu.Unlock()
		if err := c.d.saveSnap(dom, in); err != nil {
			return errQEMU(virerr.ErrOperationFailed, "cannot save snapshot metadata: %v", err)
		}
		return c.d.setCurrentSnap(dom, in.Name)
	})
	return snap, err
}

// withSnapJob runs fn under v's job whether the guest runs or not, as
// libvirt's snapshot jobs do; mon is nil for a guest that is shut off.
// Creating a snapshot is libvirt's snapshot async job, recorded in the
// status so a restarted daemon can settle it; its steps run in the nested
// sync job, so destroy (which kills QEMU first) waits for them to fail.
func (c *conn) withSnapJob(h driver.Domain, op string, fn func(v *vm, mon monitor) error) error {
	var v *vm
	var err error
	if op == "snapshot" {
		ctx := context.Background()
		v, err = c.asyncVM(ctx, h, asyncSnapshot, op, defaultJobMask)
		if err != nil {
			return err
		}
		defer v.job.endAsync()
		if err := v.nested(c.waitCtx()); err != nil {
			return err
		}
		defer v.job.end()
	} else {
		v, err = c.jobVM(h, op)
		if err != nil {
			return err
		}
		defer v.job.release()
	}
	v.mu.Lock()
	active, mon, broken := v.active(), v.mon, v.brokenMsg
	v.mu.Unlock()
	switch {
	case !active:
		return fn(v, nil)
	case broken != "":
		return errQEMU(virerr.ErrOperationFailed, "%s", broken)
	case mon == nil:
		return errQEMU(virerr.ErrOperationInvalid, "monitor of domain '%s' is not connected", h.Name)
	}
	return fn(v, mon)
}

// planOverlays decides which disks of def get an overlay and where, with
// libvirt's defaults: every writable disk with an image, next to it,
// named after the snapshot. busy refuses disks in a block job.
func planOverlays(def *conf.Domain, in *conf.DomainSnapshot, reuse, active bool, busy func(*conf.Disk) error) ([]*overlayPlan, error) {
	spec := map[string]*conf.SnapshotDisk{}
	for i := range in.Disks {
		sd := &in.Disks[i]
		disk, _, err := findDisk(def, sd.Name, func(a string) error {
			return errQEMU(virerr.ErrConfigUnsupported, "no disk named '%s'", a)
		})
		if err != nil {
			return nil, err
		}
		spec[disk.TargetDev] = sd
	}
	var plans []*overlayPlan
	for _, disk := range def.Devices.Disks {
		sd := spec[disk.TargetDev]
		mode := "external"
		if sd != nil && sd.Snapshot != "" {
			mode = sd.Snapshot
		} else if disk.Device != "disk" || disk.ReadOnly || disk.Source.Path == "" {
			mode = "no"
		}
		switch mode {
		case "no":
			continue
		case "external":
		default:
			return nil, errQEMU(virerr.ErrConfigUnsupported, "'%s' snapshot of disk '%s' is not supported; only external disk snapshots are", mode, disk.TargetDev)
		}
		if busy != nil {
			if err := busy(disk); err != nil {
				return nil, err
			}
		}
		path, format, typ := "", "qcow2", "file"
		if sd != nil {
			path = sd.SourceFile
			if sd.DriverType != "" {
				format = sd.DriverType
			}
			if sd.Type != "" {
				typ = sd.Type
			}
		}
		if format != "qcow2" {
			return nil, errQEMU(virerr.ErrConfigUnsupported, "external snapshot format for disk %s is unsupported: %s", disk.TargetDev, format)
		}
		if err := checkSnapshotDiskTypes(disk, typ, active); err != nil {
			return nil, err
		}
		if path == "" {
			path = defaultOverlayPath(disk.Source.Path, in.Name)
		}
		if !filepath.IsAbs(path) {
			return nil, errQEMU(virerr.ErrConfigUnsupported, "external snapshot file for disk %s must use absolute path", disk.TargetDev)
		}
		if err := checkOverlayTarget(disk.TargetDev, path, typ, reuse); err != nil {
			return nil, err
		}
		for _, p := range plans {
			if p.overlay.Path == path {
				return nil, errQEMU(virerr.ErrConfigUnsupported, "cannot snapshot two disks to the same file '%s'", path)
			}
		}
		plans = append(plans, &overlayPlan{target: disk.TargetDev, oldTop: disk.Source,
			overlay: conf.DiskSource{Type: typ, Path: path, Format: format}})
	}
	if len(plans) == 0 {
		return nil, errQEMU(virerr.ErrConfigUnsupported, "nothing selected for snapshot")
	}
	return plans, nil
}

// checkSnapshotDiskTypes refuses image types an external snapshot cannot
// use, with qemuSnapshotPrepareDiskExternal{Active,Inactive}'s errors
// for a shut-off guest.
func checkSnapshotDiskTypes(disk *conf.Disk, snapType string, active bool) error {
	if active {
		if disk.Source.Type != "file" && disk.Source.Type != "block" {
			return errQEMU(virerr.ErrConfigUnsupported, "external snapshot of disk '%s' of type '%s' is not supported", disk.TargetDev, disk.Source.Type)
		}
		return nil
	}
	switch disk.Source.Type {
	case "file", "block":
	case "network":
		return errQEMU(virerr.ErrInternalError, "external inactive snapshots are not supported on 'network' disks using '%s' protocol", disk.Source.Protocol)
	default:
		return errQEMU(virerr.ErrInternalError, "external inactive snapshots are not supported on '%s' disks", disk.Source.Type)
	}
	if snapType != "file" && snapType != "block" {
		return errQEMU(virerr.ErrInternalError, "external inactive snapshots are not supported on '%s' disks", snapType)
	}
	return nil
}

// checkOverlayTarget is libvirt's check of an overlay path: a new one
// must not hold data, a reused one must exist, and a block overlay must
// be a block device.
func checkOverlayTarget(name, path, typ string, reuse bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return errQEMU(virerr.ErrSystemError, "unable to stat for disk %s: %s: %v", name, path, errors.Unwrap(err))
		}
		if reuse {
			return errQEMU(virerr.ErrSystemError, "missing existing file for disk %s: %s: No such file or directory", name, path)
		}
		if typ == "block" {
			return errQEMU(virerr.ErrOperationUnsupported, "block device snapshot target '%s' doesn't exist", path)
		}
		return nil
	}
	isBlock := fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0
	if typ == "block" && !isBlock || typ == "file" && !fi.Mode().IsRegular() {
		return errQEMU(virerr.ErrConfigUnsupported, "mismatch between configured type for snapshot disk '%s' and the type of existing file '%s'", name, path)
	}
	if !reuse && typ == "file" && fi.Size() > 0 {
		return errQEMU(virerr.ErrConfigUnsupported, "external snapshot file for disk %s already exists and is not a block device: %s", name, path)
	}
	return nil
}

// defaultOverlayPath is libvirt's name for an overlay: the image path with
// its extension replaced by the snapshot name, or the name appended.
func defaultOverlayPath(image, snap string) string {
	base := image
	if i := strings.LastIndexByte(image, '.'); i >= 0 && !strings.Contains(image[i:], "/") {
		base = image[:i]
	}
	return base + "." + snap
}

// takeOverlays creates and plugs the overlays, then puts them on top of
// their disks in one transaction, so either every disk moves or none does.
//
// Before QEMU sees anything, the plan (overlays, node names, the metadata
// to write) goes into the status as the snapshot job's record; a daemon
// killed at any point from here on finds it and settles the snapshot from
// the block graph QEMU really has (recoverSnapshot).
func (d *Driver) takeOverlays(v *vm, mon monitor, plans []*overlayPlan, reuse bool, meta *conf.DomainSnapshot, noMeta bool) error {
	ctx := context.Background()
	rec := &snapRecord{Reuse: reuse}
	if !noMeta {
		data, err := meta.Format(conf.FormatSecure)
		if err != nil {
			return err
		}
		rec.Meta = string(data)
	}
	for _, p := range plans {
		rec.Overlays = append(rec.Overlays, snapOverlay{Target: p.target, OldTop: p.oldTop, Overlay: p.overlay})
	}
	v.mu.Lock()
	v.jobSnap = rec
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.jobSnap = nil
		v.mu.Unlock()
	}()
	if err := d.setJobPhase(v, "prepare"); err != nil {
		return err
	}
	var added []*overlayPlan
	undo := func() {
		for _, p := range added {
			delNodes(ctx, mon, &p.overlay)
		}
		for _, p := range plans {
			if p.created {
				os.Remove(p.overlay.Path)
			}
		}
	}
	var actions []qmp.TransactionAction
	for _, p := range plans {
		if !reuse || !fileExists(p.overlay.Path) {
			size, err := nodeVirtualSize(ctx, mon, p.oldTop.NodeNameFormat)
			if err != nil {
				undo()
				return err
			}
			bfmt := p.oldTop.Format
			if bfmt == "" {
				bfmt = "raw"
			}
			if err := createImage(p.overlay.Path, p.overlay.Format, size, p.oldTop.Path, bfmt); err != nil {
				undo()
				return err
			}
			p.created = true
		}
		// The overlay becomes the disk's top image: QEMU's user gets it.
		live, _, _ := liveSnapshot(v)
		var disk *conf.Disk
		if live != nil {
			disk = live.DiskByTarget(p.target)
		}
		if disk != nil {
			if err := d.grantNewImage(v, live, disk, &p.overlay); err != nil {
				undo()
				return err
			}
		}
		if err := addImageNodes(ctx, mon, &p.overlay, ""); err != nil {
			if !p.created {
				d.restoreNewImage(v.name, live, disk, &p.overlay)
			}
			undo()
			return err
		}
		added = append(added, p)
		actions = append(actions, qmp.BlockdevSnapshotAction(p.oldTop.NodeNameFormat, p.overlay.NodeNameFormat))
	}
	if err := d.setJobPhase(v, "transaction"); err != nil {
		undo()
		return err
	}
	if err := qmp.Transaction(ctx, mon, actions); err != nil {
		undo()
		return qmpCommandError("transaction", err)
	}
	for _, p := range plans {
		v.mu.Lock()
		editDisk(v, p.target, func(disk *conf.Disk) {
			if disk != nil {
				old := disk.Source
				top := p.overlay
				top.Backing = &old
				disk.Source = top
			}
		})
		v.mu.Unlock()
		if err := d.overlayConfig(v, p, true); err != nil {
			d.log.Error("cannot save definition after a snapshot", "domain", v.name, "err", err)
		}
	}
	return d.saveStatus(v)
}

// overlayConfig puts a new overlay on top of the persistent definition's
// disk when that disk still uses the image the overlay went on; keep
// leaves the old source below it (libvirt does for a running guest, and
// for a shut-off one whose source had a backing chain spelled out).
func (d *Driver) overlayConfig(v *vm, p *overlayPlan, keep bool) error {
	v.mu.Lock()
	if v.def == nil || !v.persistent {
		v.mu.Unlock()
		return nil
	}
	if cfg := diskByTarget(v.def, p.target); cfg == nil || !sameLocation(&cfg.Source, &p.oldTop) {
		v.mu.Unlock()
		return nil
	}
	def := v.def.Clone() // copy on write: readers use v.def outside v.mu
	cfg := diskByTarget(def, p.target)
	top := configSource(&p.overlay, false)
	if keep {
		old := cfg.Source
		top.Backing = &old
	}
	cfg.Source = top
	v.def = def
	v.mu.Unlock()
	return d.saveDef(def)
}

// sameLocation is virStorageSourceIsSameLocation for local images.
func sameLocation(a, b *conf.DiskSource) bool {
	ta, tb := a.Type, b.Type
	if ta == "" {
		ta = "file"
	}
	if tb == "" {
		tb = "file"
	}
	return ta == tb && a.Path == b.Path && a.Protocol == b.Protocol && a.Name == b.Name
}

// hasBacking reports whether s has a backing image (not just the
// <backingStore/> terminator).
func hasBacking(s *conf.DiskSource) bool {
	return s.Backing != nil && s.Backing.Type != ""
}

// snapshotDisks is the <disks> of the metadata: what each disk did.
func snapshotDisks(def *conf.Domain, plans []*overlayPlan) []conf.SnapshotDisk {
	var out []conf.SnapshotDisk
	for _, disk := range def.Devices.Disks {
		sd := conf.SnapshotDisk{Name: disk.TargetDev, Snapshot: "no"}
		for _, p := range plans {
			if p.target == disk.TargetDev {
				sd = conf.SnapshotDisk{Name: disk.TargetDev, Snapshot: "external", Type: p.overlay.Type,
					DriverType: p.overlay.Format, SourceFile: p.overlay.Path}
			}
		}
		out = append(out, sd)
	}
	return out
}

// redefineSnapshot stores metadata a client saved earlier, as it is.
func (c *conn) redefineSnapshot(h driver.Domain, in *conf.DomainSnapshot, flags uint32) (driver.Snapshot, error) {
	err := c.withSnaps(h, func(dom string, set *snapSet) error {
		if in.Parent != "" && set.byName[in.Parent] == nil {
			return errQEMU(virerr.ErrNoDomainSnapshot, "parent %s for snapshot %s not found", in.Parent, in.Name)
		}
		if err := c.d.saveSnap(dom, in); err != nil {
			return errQEMU(virerr.ErrOperationFailed, "cannot save snapshot metadata: %v", err)
		}
		if flags&driver.SnapCreateCurrent != 0 {
			return c.d.setCurrentSnap(dom, in.Name)
		}
		return nil
	})
	return driver.Snapshot{Dom: h, Name: in.Name}, err
}
