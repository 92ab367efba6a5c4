package qemu

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// overlayPlan is one disk of an external snapshot.
type overlayPlan struct {
	target  string
	oldTop  conf.DiskSource // the image the overlay goes on
	overlay conf.DiskSource // with its new index and node names
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
	if flags&driver.SnapCreateRedefine != 0 {
		return c.redefineSnapshot(h, in, flags)
	}
	if flags&(driver.SnapCreateHalt|driver.SnapCreateQuiesce) != 0 {
		return driver.Snapshot{}, errQEMU(virerr.ErrConfigUnsupported, "halt and quiesce are not supported with disk-only snapshots")
	}
	diskOnly := flags&driver.SnapCreateDiskOnly != 0 || in.Memory == "no" && in.State == ""
	if !diskOnly || (in.Memory != "" && in.Memory != "no") {
		return driver.Snapshot{}, errQEMU(virerr.ErrConfigUnsupported, "internal and memory snapshots are not supported; use --disk-only")
	}
	var snap driver.Snapshot
	err = c.withJob(h, "snapshot", func(v *vm, mon monitor) error {
		v.mu.Lock()
		dom, before := v.name, v.live.Clone()
		plans, err := planOverlays(v, in, flags&driver.SnapCreateReuseExt != 0)
		v.mu.Unlock()
		if err != nil {
			return err
		}
		snapMu.Lock()
		set := c.d.loadSnaps(dom)
		snapMu.Unlock()
		if set.byName[in.Name] != nil && flags&driver.SnapCreateNoMetadata == 0 {
			return virerr.New(virerr.FromDomain, virerr.ErrOperationFailed, "domain moment %s already exists", in.Name)
		}
		if err := c.d.takeOverlays(v, mon, plans, flags&driver.SnapCreateReuseExt != 0); err != nil {
			return err
		}
		snap = driver.Snapshot{Dom: h, Name: in.Name}
		if flags&driver.SnapCreateNoMetadata != 0 {
			return nil
		}
		in.State, in.Memory, in.Parent = "disk-snapshot", "no", set.current
		in.Disks = snapshotDisks(before, plans)
		before.ID = -1
		in.Domain = before
		snapMu.Lock()
		defer snapMu.Unlock()
		if err := c.d.saveSnap(dom, in); err != nil {
			return errQEMU(virerr.ErrOperationFailed, "cannot save snapshot metadata: %v", err)
		}
		return c.d.setCurrentSnap(dom, in.Name)
	})
	return snap, err
}

// planOverlays decides which disks get an overlay and where, with
// libvirt's defaults: every writable disk with an image, next to it,
// named after the snapshot. Call with v.mu held.
func planOverlays(v *vm, in *conf.DomainSnapshot, reuse bool) ([]*overlayPlan, error) {
	spec := map[string]*conf.SnapshotDisk{}
	for i := range in.Disks {
		sd := &in.Disks[i]
		disk, _, err := findDisk(v.live, sd.Name, func(a string) error {
			return errQEMU(virerr.ErrConfigUnsupported, "no disk named '%s'", a)
		})
		if err != nil {
			return nil, err
		}
		spec[disk.TargetDev] = sd
	}
	var plans []*overlayPlan
	for _, disk := range v.live.Devices.Disks {
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
		if err := checkNoJob(v, disk); err != nil {
			return nil, err
		}
		if disk.Source.Type != "file" && disk.Source.Type != "block" {
			return nil, errQEMU(virerr.ErrConfigUnsupported, "external snapshot of disk '%s' of type '%s' is not supported", disk.TargetDev, disk.Source.Type)
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
		if path == "" {
			path = defaultOverlayPath(disk.Source.Path, in.Name)
		}
		if !filepath.IsAbs(path) {
			return nil, errQEMU(virerr.ErrConfigUnsupported, "external snapshot file for disk %s must use absolute path", disk.TargetDev)
		}
		if fi, err := os.Stat(path); err == nil && !reuse && fi.Mode()&os.ModeDevice == 0 {
			return nil, errQEMU(virerr.ErrConfigUnsupported, "external snapshot file for disk %s already exists and is not a block device: %s", disk.TargetDev, path)
		}
		for _, p := range plans {
			if p.overlay.Path == path {
				return nil, errQEMU(virerr.ErrConfigUnsupported, "cannot snapshot two disks to the same file '%s'", path)
			}
		}
		plans = append(plans, &overlayPlan{target: disk.TargetDev, oldTop: disk.Source,
			overlay: newImageSource(v, typ, path, format)})
	}
	if len(plans) == 0 {
		return nil, errQEMU(virerr.ErrConfigUnsupported, "nothing selected for snapshot")
	}
	return plans, nil
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
func (d *Driver) takeOverlays(v *vm, mon monitor, plans []*overlayPlan, reuse bool) error {
	ctx := context.Background()
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
	var actions []map[string]any
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
		if err := addImageNodes(ctx, mon, &p.overlay, ""); err != nil {
			undo()
			return err
		}
		added = append(added, p)
		actions = append(actions, map[string]any{"type": "blockdev-snapshot",
			"data": map[string]any{"node": p.oldTop.NodeNameFormat, "overlay": p.overlay.NodeNameFormat}})
	}
	if err := mon.Execute(ctx, "transaction", map[string]any{"actions": actions}, nil); err != nil {
		undo()
		return qmpCommandError("transaction", err)
	}
	for _, p := range plans {
		v.mu.Lock()
		live := editDisk(v, p.target, func(disk *conf.Disk) {
			if disk != nil {
				old := disk.Source
				top := p.overlay
				top.Backing = &old
				disk.Source = top
			}
		})
		v.mu.Unlock()
		if live != nil {
			d.syncConfigChain(v, live, p.oldTop.Path)
		}
	}
	return d.saveStatus(v)
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
