package qemu

import (
	"govirt/drivers/internal/safepath"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"govirt/atomicfile"
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// Snapshot metadata lives in StateDir/qemu/snapshot/DOM/NAME.xml, one
// <domainsnapshot> per file as libvirt keeps it; the current snapshot's
// name is in the directory's "current" file. Files are the only copy, so
// nothing is lost or stale across daemon restarts.

// Snapshot list and delete flags (virDomainSnapshotListFlags,
// virDomainSnapshotDeleteFlags).
const (
	snapListRoots       = 1 << 0 // also DESCENDANTS for children lists
	snapListMetadata    = 1 << 1
	snapListLeaves      = 1 << 2
	snapListNoLeaves    = 1 << 3
	snapListNoMetadata  = 1 << 4
	snapListInactive    = 1 << 5
	snapListActive      = 1 << 6
	snapListDiskOnly    = 1 << 7
	snapListInternal    = 1 << 8
	snapListExternal    = 1 << 9
	snapDeleteChildren  = 1 << 0
	snapDeleteMetadata  = 1 << 1
	snapDeleteChildOnly = 1 << 2
)

// snapDir is libvirt's snapshot/DOMAIN directory. A domain named "." or
// ".." (which libvirt accepts) cannot have one: its snapshots cannot keep
// metadata, rather than writing it into the parent directory.
func (d *Driver) snapDir(dom string) (string, error) {
	return safepath.Join(filepath.Join(d.dirs.defs, "snapshot"), dom, "")
}

// snapFile is the metadata file of snapshot name of domain dom.
func (d *Driver) snapFile(dom, name string) (string, error) {
	dir, err := d.snapDir(dom)
	if err != nil {
		return "", err
	}
	return safepath.Join(dir, name, ".xml")
}

// snapSet is one domain's snapshots.
type snapSet struct {
	byName  map[string]*conf.DomainSnapshot
	current string
}

// loadSnaps reads a domain's snapshots; call with the guest's ext.snapMu held. A file
// that does not parse is logged and skipped, never deleted.
func (d *Driver) loadSnaps(dom string) *snapSet {
	set := &snapSet{byName: map[string]*conf.DomainSnapshot{}}
	dir, err := d.snapDir(dom)
	if err != nil {
		return set
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".xml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		s, err := conf.ParseDomainSnapshot(data, 0)
		if err != nil {
			d.log.Error("cannot parse snapshot", "domain", dom, "file", e.Name(), "err", err)
			continue
		}
		set.byName[s.Name] = s
	}
	if cur, err := os.ReadFile(filepath.Join(dir, "current")); err == nil {
		if name := strings.TrimSpace(string(cur)); set.byName[name] != nil {
			set.current = name
		}
	}
	return set
}

func (d *Driver) saveSnap(dom string, s *conf.DomainSnapshot) error {
	path, err := d.snapFile(dom, s.Name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := s.Format(conf.FormatSecure)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

func (d *Driver) setCurrentSnap(dom, name string) error {
	dir, err := d.snapDir(dom)
	if err != nil {
		if name == "" {
			return nil
		}
		return err
	}
	path := filepath.Join(dir, "current")
	if name == "" {
		return atomicfile.Remove(path)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, []byte(name+"\n"), 0o600)
}

// undefineSnapshotsMetadata is VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.
const undefineSnapshotsMetadata = 1 << 1

// undefineSnapshots is qemuDomainUndefineFlags' snapshot step for a
// shut-off guest: its snapshots' metadata goes with it when the flag
// says so, otherwise the undefine is refused.
func (d *Driver) undefineSnapshots(v *vm, dom string, flags uint32) error {
	v.ext.snapMu.Lock()
	n := len(d.loadSnaps(dom).byName)
	v.ext.snapMu.Unlock()
	if n == 0 {
		return nil
	}
	if flags&undefineSnapshotsMetadata == 0 {
		return errQEMU(virerr.ErrOperationInvalid, "cannot delete inactive domain with %d snapshots", n)
	}
	d.discardSnapMeta(v, dom)
	return nil
}

// discardSnapMeta removes every snapshot's metadata of dom, whose guest
// v is going away (qemuSnapshotDiscardAllMetadata); the images stay.
func (d *Driver) discardSnapMeta(v *vm, dom string) {
	dir, err := d.snapDir(dom)
	if err != nil {
		return
	}
	v.ext.snapMu.Lock()
	defer v.ext.snapMu.Unlock()
	if err := os.RemoveAll(dir); err != nil {
		d.log.Warn("cannot remove snapshot metadata", "domain", dom, "err", err)
	}
}

func errNoSnapshot(name string) error {
	return errQEMU(virerr.ErrNoDomainSnapshot, "no domain snapshot with matching name '%s'", name)
}

// withSnaps runs fn on h's snapshots under its ext.snapMu.
func (c *conn) withSnaps(h driver.Domain, fn func(name string, set *snapSet) error) error {
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	v.mu.Lock()
	name := v.name
	v.mu.Unlock()
	v.ext.snapMu.Lock()
	defer v.ext.snapMu.Unlock()
	return fn(name, c.d.loadSnaps(name))
}

func (set *snapSet) children(name string) []*conf.DomainSnapshot {
	var out []*conf.DomainSnapshot
	for _, s := range set.byName {
		if s.Parent == name {
			out = append(out, s)
		}
	}
	return out
}

func (set *snapSet) descendants(name string) []*conf.DomainSnapshot {
	var out []*conf.DomainSnapshot
	for _, s := range set.children(name) {
		out = append(out, s)
		out = append(out, set.descendants(s.Name)...)
	}
	return out
}

// filter applies the list flags libvirt's virDomainMomentObjListFilter
// knows; every snapshot here has metadata.
func (set *snapSet) filter(in []*conf.DomainSnapshot, flags uint32) []driver.Snapshot {
	var out []*conf.DomainSnapshot
	for _, s := range in {
		leaf := len(set.children(s.Name)) == 0
		if flags&(snapListLeaves|snapListNoLeaves) != 0 &&
			!(leaf && flags&snapListLeaves != 0 || !leaf && flags&snapListNoLeaves != 0) {
			continue
		}
		if flags&(snapListMetadata|snapListNoMetadata) != 0 && flags&snapListMetadata == 0 {
			continue
		}
		if st := flags & (snapListInactive | snapListActive | snapListDiskOnly); st != 0 {
			ok := s.State == "disk-snapshot" && st&snapListDiskOnly != 0 ||
				s.State == "shutoff" && st&snapListInactive != 0 ||
				s.State != "disk-snapshot" && s.State != "shutoff" && st&snapListActive != 0
			if !ok {
				continue
			}
		}
		if loc := flags & (snapListInternal | snapListExternal); loc != 0 {
			ext := isExternalSnap(s)
			if !(ext && loc&snapListExternal != 0 || !ext && loc&snapListInternal != 0) {
				continue
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	res := make([]driver.Snapshot, len(out))
	for i, s := range out {
		res[i] = driver.Snapshot{Name: s.Name}
	}
	return res
}

func withDom(h driver.Domain, in []driver.Snapshot) []driver.Snapshot {
	for i := range in {
		in[i].Dom = h
	}
	return in
}

func (c *conn) DomainListAllSnapshots(h driver.Domain, flags uint32) ([]driver.Snapshot, error) {
	var out []driver.Snapshot
	err := c.withSnaps(h, func(_ string, set *snapSet) error {
		var all []*conf.DomainSnapshot
		for _, s := range set.byName {
			if flags&snapListRoots != 0 && s.Parent != "" {
				continue
			}
			all = append(all, s)
		}
		out = withDom(h, set.filter(all, flags&^snapListRoots))
		return nil
	})
	return out, err
}

func (c *conn) DomainSnapshotNum(h driver.Domain, flags uint32) (int32, error) {
	l, err := c.DomainListAllSnapshots(h, flags)
	return int32(len(l)), err
}

func (c *conn) DomainSnapshotLookupByName(h driver.Domain, name string, _ uint32) (driver.Snapshot, error) {
	err := c.withSnaps(h, func(_ string, set *snapSet) error {
		if set.byName[name] == nil {
			return errNoSnapshot(name)
		}
		return nil
	})
	return driver.Snapshot{Dom: h, Name: name}, err
}

func (c *conn) DomainSnapshotGetXMLDesc(s driver.Snapshot, flags uint32) (string, error) {
	var out string
	err := c.withSnaps(s.Dom, func(_ string, set *snapSet) error {
		snap := set.byName[s.Name]
		if snap == nil {
			return errNoSnapshot(s.Name)
		}
		data, err := snap.Format(conf.FormatFlags(flags & 1)) // VIR_DOMAIN_SNAPSHOT_XML_SECURE
		out = string(data)
		return err
	})
	return out, err
}

func (c *conn) DomainSnapshotCurrent(h driver.Domain, _ uint32) (driver.Snapshot, error) {
	var out driver.Snapshot
	err := c.withSnaps(h, func(_ string, set *snapSet) error {
		if set.current == "" {
			return errQEMU(virerr.ErrNoDomainSnapshot, "the domain does not have a current snapshot")
		}
		out = driver.Snapshot{Dom: h, Name: set.current}
		return nil
	})
	return out, err
}

func (c *conn) DomainHasCurrentSnapshot(h driver.Domain, _ uint32) (bool, error) {
	var has bool
	err := c.withSnaps(h, func(_ string, set *snapSet) error {
		has = set.current != ""
		return nil
	})
	return has, err
}

func (c *conn) DomainSnapshotGetParent(s driver.Snapshot, _ uint32) (driver.Snapshot, error) {
	var out driver.Snapshot
	err := c.withSnaps(s.Dom, func(_ string, set *snapSet) error {
		snap := set.byName[s.Name]
		if snap == nil {
			return errNoSnapshot(s.Name)
		}
		if snap.Parent == "" {
			return errQEMU(virerr.ErrNoDomainSnapshot, "snapshot '%s' does not have a parent", s.Name)
		}
		out = driver.Snapshot{Dom: s.Dom, Name: snap.Parent}
		return nil
	})
	return out, err
}

func (c *conn) DomainSnapshotIsCurrent(s driver.Snapshot, _ uint32) (bool, error) {
	var cur bool
	err := c.withSnaps(s.Dom, func(_ string, set *snapSet) error {
		if set.byName[s.Name] == nil {
			return errNoSnapshot(s.Name)
		}
		cur = set.current == s.Name
		return nil
	})
	return cur, err
}

func (c *conn) DomainSnapshotHasMetadata(s driver.Snapshot, _ uint32) (bool, error) {
	err := c.withSnaps(s.Dom, func(_ string, set *snapSet) error {
		if set.byName[s.Name] == nil {
			return errNoSnapshot(s.Name)
		}
		return nil
	})
	return err == nil, err
}

func (c *conn) DomainSnapshotListAllChildren(s driver.Snapshot, flags uint32) ([]driver.Snapshot, error) {
	var out []driver.Snapshot
	err := c.withSnaps(s.Dom, func(_ string, set *snapSet) error {
		if set.byName[s.Name] == nil {
			return errNoSnapshot(s.Name)
		}
		kids := set.children(s.Name)
		if flags&snapListRoots != 0 { // DESCENDANTS
			kids = set.descendants(s.Name)
		}
		out = withDom(s.Dom, set.filter(kids, flags&^snapListRoots))
		return nil
	})
	return out, err
}
