package qemu

import (
	"govirt/atomicfile"
	"govirt/conf"
)

// discardMeta is libvirt's qemuSnapshotDiscardMetadata with update_parent,
// run after a snapshot's data went (or alone for --metadata): its
// children move to its parent, its descendants' domain definitions stop
// naming its overlays, and if it was current its parent becomes current.
// Call with the guest's ext.snapMu held; set is updated too.
func (d *Driver) discardMeta(dom string, set *snapSet, snap *conf.DomainSnapshot) error {
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if kids := set.children(snap.Name); len(kids) > 0 {
		desc := set.descendants(snap.Name)
		for _, k := range kids {
			k.Parent = snap.Parent
			keep(d.saveSnap(dom, k))
		}
		for _, o := range desc {
			keep(forgetOverlays(o, snap))
			keep(d.saveSnap(dom, o))
		}
	}
	if set.current == snap.Name {
		set.current = ""
		if set.byName[snap.Parent] != nil {
			set.current = snap.Parent
		}
		keep(d.setCurrentSnap(dom, set.current))
	}
	if path, err := d.snapFile(dom, snap.Name); err == nil {
		keep(atomicfile.Remove(path))
	}
	delete(set.byName, snap.Name)
	return firstErr
}

// forgetOverlays is qemuSnapshotUpdateDisksSingle for every disk snap
// covered: in o's domain, a disk still on snap's overlay goes back to the
// image snap was taken of (external snapshots only), and the overlay
// leaves every backing chain.
func forgetOverlays(o, snap *conf.DomainSnapshot) error {
	if o.Domain == nil {
		return nil
	}
	for i := range snap.Disks {
		sd := &snap.Disks[i]
		if sd.Snapshot == "no" {
			continue
		}
		disk, _, err := findDisk(o.Domain, sd.Name, errDiskNotFound)
		if err != nil {
			return err
		}
		src := snapDiskSource(sd)
		if src.Path == "" {
			continue
		}
		if isExternalSnap(o) {
			var then *conf.Disk
			if snap.Domain != nil {
				then, _, err = findDisk(snap.Domain, sd.Name, errDiskNotFound)
			}
			if then == nil {
				return err
			}
			if sameLocation(&src, &disk.Source) {
				disk.Source = then.Source
				disk.Source.Backing = nil
			}
		}
		for cur := &disk.Source; cur.Backing != nil; cur = cur.Backing {
			if next := cur.Backing; next.Type != "" && sameLocation(&src, next) {
				cur.Backing = next.Backing
				break
			}
		}
	}
	return nil
}
