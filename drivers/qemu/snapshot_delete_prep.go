package qemu

import (
	"govirt/conf"
	"govirt/virerr"
)

// diskMerge is one disk of an external snapshot being deleted: its
// overlay (top) merges into the image below it (base).
type diskMerge struct {
	disk       string           // the snapshot's disk name, a target
	target     string           // the domain disk's target
	top        *conf.DiskSource // the overlay, within the chain checked
	prev       *conf.DiskSource // the image above it; nil when top is the disk's top
	base       *conf.DiskSource // the image below it; nil on the first, inactive pass
	parentSnap string           // nearest ancestor snapshot covering the disk
}

// prepareExternalDelete is qemuSnapshotDeleteExternalPrepare: for each
// disk the snapshot covers, find its overlay in def's chain and, for a
// running chain, check that the image below it is the one the snapshot
// was taken of. def is the live definition of a running guest, the
// persistent one (whose chain lists only what its XML spells out) of a
// shut-off guest.
func prepareExternalDelete(def *conf.Domain, set *snapSet, snap *conf.DomainSnapshot, active bool) ([]*diskMerge, error) {
	var out []*diskMerge
	for i := range snap.Disks {
		sd := &snap.Disks[i]
		if sd.Snapshot == "no" {
			continue
		}
		if sd.DeleteInProgress {
			return nil, errQEMU(virerr.ErrOperationInvalid, "snapshot disk '%s' was target of not completed snapshot delete", sd.Name)
		}
		disk, _, err := findDisk(def, sd.Name, errDiskNotFound)
		if err != nil {
			return nil, err
		}
		src := snapDiskSource(sd)
		top, prev := chainLookupBySource(&disk.Source, &src)
		if top == nil {
			return nil, errQEMU(virerr.ErrInvalidArg, "could not find base disk source in disk source chain")
		}
		var then *conf.Disk
		if snap.Domain != nil {
			then = diskByTarget(snap.Domain, sd.Name)
		}
		if then == nil {
			return nil, errQEMU(virerr.ErrOperationFailed, "failed to find disk '%s' in snapshot VM XML", sd.Name)
		}
		m := &diskMerge{disk: sd.Name, target: disk.TargetDev, top: top, prev: prev}
		if active {
			if !hasBacking(top) {
				return nil, errQEMU(virerr.ErrOperationFailed, "failed to find parent disk source in backing chain")
			}
			if !sameLocation(top.Backing, &then.Source) {
				return nil, errQEMU(virerr.ErrOperationFailed, "snapshot VM disk source and parent disk source are not the same")
			}
			m.base = top.Backing
		}
		if ps := parentSnapForDisk(set, snap, sd.Name); ps != nil {
			if !isExternalSnap(ps) {
				return nil, errQEMU(virerr.ErrOperationUnsupported, "deleting external snapshot that has internal snapshot as parent not supported")
			}
			m.parentSnap = ps.Name
		}
		out = append(out, m)
	}
	return out, nil
}

// snapDiskSource is the image a snapshot disk names.
func snapDiskSource(sd *conf.SnapshotDisk) conf.DiskSource {
	typ := sd.Type
	if typ == "" {
		typ = "file"
	}
	return conf.DiskSource{Type: typ, Path: sd.SourceFile, Format: sd.DriverType}
}

// chainLookupBySource is virStorageSourceChainLookupBySource: the image
// of chain at src's location and the image above it.
func chainLookupBySource(chain, src *conf.DiskSource) (found, prev *conf.DiskSource) {
	if src.Path == "" {
		return nil, nil
	}
	for l := chain; l != nil && l.Type != ""; l = l.Backing {
		if sameLocation(l, src) {
			return l, prev
		}
		prev = l
	}
	return nil, nil
}

// parentSnapForDisk is qemuSnapshotFindParentSnapForDisk: the nearest
// ancestor that snapshotted the disk (a disk may be skipped by some).
func parentSnapForDisk(set *snapSet, snap *conf.DomainSnapshot, disk string) *conf.DomainSnapshot {
	seen := map[string]bool{}
	for p := snap.Parent; p != "" && !seen[p]; {
		seen[p] = true
		ps := set.byName[p]
		if ps == nil {
			return nil
		}
		for _, sd := range ps.Disks {
			if sd.Snapshot != "no" && sd.Name == disk {
				return ps
			}
		}
		p = ps.Parent
	}
	return nil
}

// detectedDef is a shut-off guest's definition with every disk's chain
// completed from the images, as a start would see it.
func detectedDef(def *conf.Domain) (*conf.Domain, error) {
	out := def.Clone()
	for _, disk := range out.Devices.Disks {
		if disk.Source.Path == "" {
			continue
		}
		if err := detectChain(disk); err != nil {
			return nil, err
		}
	}
	return out, nil
}
