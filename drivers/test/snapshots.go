package test

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

func (in *instance) DomainSnapshotCreateXML(d driver.Domain, doc string, flags uint32) (driver.Snapshot, error) {
	const allowed = driver.SnapCreateRedefine | driver.SnapCreateCurrent | driver.SnapCreateHalt | driver.SnapCreateQuiesce |
		driver.SnapCreateAtomic | driver.SnapCreateLive | driver.SnapCreateValidate
	if err := checkFlags(flags, allowed, "testDomainSnapshotCreateXML"); err != nil {
		return driver.Snapshot{}, err
	}
	var pf conf.ParseFlags
	if flags&driver.SnapCreateValidate != 0 {
		pf |= conf.ParseValidate
	}
	input, err := conf.ParseDomainSnapshot([]byte(doc), pf)
	if err != nil {
		return driver.Snapshot{}, err
	}
	if flags&driver.SnapCreateRedefine != 0 {
		return in.redefineSnapshot(d, input, flags&driver.SnapCreateCurrent != 0)
	}
	var h driver.Snapshot
	err = in.updateDom(d, func(o *domObj) error {
		if o.chks.count() > 0 {
			return errTest(virerr.ErrOperationUnsupported, "cannot create snapshot while checkpoint exists")
		}
		if !o.persistent && flags&driver.SnapCreateHalt != 0 {
			return errTest(virerr.ErrOperationInvalid, "cannot halt after transient domain snapshot")
		}
		// conf names an unnamed snapshot after its creation time.
		s := &snapshot{name: input.Name, desc: input.Description, created: input.CreationTime, state: o.state, dom: o.def.Clone()}
		s.dom.ID = -1
		if _, dup := o.snaps.byName[s.name]; dup {
			return virerr.New(virerr.FromDomain, virerr.ErrOperationFailed, "domain moment %s already exists", s.name)
		}
		s.parent = o.snaps.current
		o.snaps.add(s)
		o.snaps.current = s.name
		if flags&driver.SnapCreateHalt != 0 && o.active() {
			in.stop(o, driver.ShutoffFromSnapshot, driver.EventStoppedFromSnapshot, false)
		}
		h = driver.Snapshot{Dom: o.handle(), Name: s.name}
		return nil
	})
	return h, err
}

// redefineSnapshot restores snapshot metadata a client saved earlier:
// the document's own state, parent, time and domain are taken as they are.
func (in *instance) redefineSnapshot(d driver.Domain, input *conf.DomainSnapshot, current bool) (driver.Snapshot, error) {
	var h driver.Snapshot
	err := in.updateDom(d, func(o *domObj) error {
		if o.chks.count() > 0 {
			return errTest(virerr.ErrOperationUnsupported, "cannot create snapshot while checkpoint exists")
		}
		err := checkMomentCycles(input.Name, input.Parent, func(n string) (string, bool) {
			s := o.snaps.byName[n]
			if s == nil {
				return "", false
			}
			return s.parent, true
		})
		if err != nil {
			return err
		}
		s := &snapshot{name: input.Name, desc: input.Description, parent: input.Parent,
			created: input.CreationTime, state: stateFromName(input.State), dom: input.Domain}
		if s.dom == nil {
			s.dom = o.def.Clone()
		}
		s.dom.ID = -1
		if old := o.snaps.byName[s.name]; old != nil {
			o.snaps.remove(old)
		}
		o.snaps.add(s)
		if current {
			o.snaps.current = s.name
		}
		h = driver.Snapshot{Dom: o.handle(), Name: s.name}
		return nil
	})
	return h, err
}

// snapFor looks a snapshot up under a lock the caller holds.
func (in *instance) snapFor(s driver.Snapshot) (*domObj, *snapshot, error) {
	o, err := in.domFor(s.Dom)
	if err != nil {
		return nil, nil, err
	}
	snap, err := o.snaps.find(s.Name)
	return o, snap, err
}

func (in *instance) snapHandles(o *domObj, l []*snapshot) []driver.Snapshot {
	out := make([]driver.Snapshot, len(l))
	for i, s := range l {
		out[i] = driver.Snapshot{Dom: o.handle(), Name: s.name}
	}
	return out
}

func (in *instance) DomainListAllSnapshots(d driver.Domain, flags uint32) ([]driver.Snapshot, error) {
	var out []driver.Snapshot
	err := in.withDom(d, func(o *domObj) error {
		l := o.snaps.order
		if flags&snapListRoots != 0 {
			l = o.snaps.children("")
		}
		out = in.snapHandles(o, o.snaps.filter(l, flags))
		return nil
	})
	return out, err
}

func (in *instance) DomainSnapshotNum(d driver.Domain, flags uint32) (int32, error) {
	l, err := in.DomainListAllSnapshots(d, flags)
	return int32(len(l)), err
}

func (in *instance) DomainSnapshotLookupByName(d driver.Domain, name string, flags uint32) (driver.Snapshot, error) {
	var h driver.Snapshot
	err := in.withDom(d, func(o *domObj) error {
		s, err := o.snaps.find(name)
		if err == nil {
			h = driver.Snapshot{Dom: o.handle(), Name: s.name}
		}
		return err
	})
	return h, err
}

func (in *instance) DomainSnapshotGetXMLDesc(s driver.Snapshot, flags uint32) (string, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	_, snap, err := in.snapFor(s)
	if err != nil {
		return "", err
	}
	return snap.format(conf.FormatFlags(flags) & conf.FormatSecure)
}

func (in *instance) DomainSnapshotCurrent(d driver.Domain, flags uint32) (driver.Snapshot, error) {
	var h driver.Snapshot
	err := in.withDom(d, func(o *domObj) error {
		if o.snaps.current == "" {
			return errTest(virerr.ErrNoDomainSnapshot, "the domain does not have a current snapshot")
		}
		h = driver.Snapshot{Dom: o.handle(), Name: o.snaps.current}
		return nil
	})
	return h, err
}

func (in *instance) DomainHasCurrentSnapshot(d driver.Domain, flags uint32) (bool, error) {
	var has bool
	err := in.withDom(d, func(o *domObj) error { has = o.snaps.current != ""; return nil })
	return has, err
}

func (in *instance) DomainSnapshotGetParent(s driver.Snapshot, flags uint32) (driver.Snapshot, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	o, snap, err := in.snapFor(s)
	if err != nil {
		return driver.Snapshot{}, err
	}
	if snap.parent == "" {
		return driver.Snapshot{}, errTest(virerr.ErrNoDomainSnapshot, "snapshot '%s' does not have a parent", snap.name)
	}
	return driver.Snapshot{Dom: o.handle(), Name: snap.parent}, nil
}

func (in *instance) DomainSnapshotIsCurrent(s driver.Snapshot, flags uint32) (bool, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	o, snap, err := in.snapFor(s)
	if err != nil {
		return false, err
	}
	return o.snaps.current == snap.name, nil
}

func (in *instance) DomainSnapshotHasMetadata(s driver.Snapshot, flags uint32) (bool, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	_, _, err := in.snapFor(s)
	return err == nil, err
}

func (in *instance) DomainSnapshotListAllChildren(s driver.Snapshot, flags uint32) ([]driver.Snapshot, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	o, snap, err := in.snapFor(s)
	if err != nil {
		return nil, err
	}
	l := o.snaps.children(snap.name)
	if flags&snapListRoots != 0 { // DESCENDANTS
		l = o.snaps.descendants(snap.name)
	}
	return in.snapHandles(o, o.snaps.filter(l, flags)), nil
}

// Snapshot delete flags.
const (
	snapDeleteChildren     = 1 << 0
	snapDeleteMetadataOnly = 1 << 1
	snapDeleteChildrenOnly = 1 << 2
)

func (in *instance) DomainSnapshotDelete(s driver.Snapshot, flags uint32) error {
	if err := checkFlags(flags, snapDeleteChildren|snapDeleteChildrenOnly, "testDomainSnapshotDelete"); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	o, snap, err := in.snapFor(s)
	if err != nil {
		return err
	}
	l := o.snaps
	if flags&(snapDeleteChildren|snapDeleteChildrenOnly) != 0 {
		for _, c := range l.descendants(snap.name) {
			if l.current == c.name {
				l.current = snap.name
			}
			l.remove(c)
		}
	} else {
		for _, c := range l.children(snap.name) {
			c.parent = snap.parent
		}
	}
	if flags&snapDeleteChildrenOnly == 0 {
		if l.current == snap.name {
			l.current = snap.parent
		}
		l.remove(snap)
	}
	return nil
}

// Revert flags.
const (
	revertRunning = 1 << 0
	revertPaused  = 1 << 1
	revertForce   = 1 << 2
)

// DomainRevertToSnapshot follows the test driver's transition table,
// including its quirk of announcing a start when asked to run an inactive
// snapshot without starting the domain.
func (in *instance) DomainRevertToSnapshot(s driver.Snapshot, flags uint32) error {
	if err := checkFlags(flags, revertRunning|revertPaused|revertForce, "testDomainRevertToSnapshot"); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	o, snap, err := in.snapFor(s)
	if err != nil {
		return err
	}
	wasLive := snap.state == driver.StateRunning || snap.state == driver.StatePaused
	if !o.persistent && !wasLive && flags&(revertRunning|revertPaused) == 0 {
		return errTest(virerr.ErrOperationInvalid, "transient domain needs to request run or pause to revert to inactive snapshot")
	}
	config := snap.dom.Clone()
	if wasLive {
		if o.active() {
			in.stop(o, driver.ShutoffFromSnapshot, driver.EventStoppedFromSnapshot, false)
		}
		o.def = config
		in.start(o, driver.RunningFromSnapshot)
		in.lifecycle(o.handle(), driver.EventStarted, driver.EventStartedFromSnapshot)
		if flags&revertRunning == 0 && (snap.state == driver.StatePaused || flags&revertPaused != 0) {
			o.state, o.reason = driver.StatePaused, driver.PausedFromSnapshot
			in.lifecycle(o.handle(), driver.EventSuspended, driver.EventSuspendedFromSnapshot)
		}
	} else {
		if o.active() {
			o.newDef = config
			in.stop(o, driver.ShutoffFromSnapshot, driver.EventStoppedFromSnapshot, false)
		} else {
			o.def = config
		}
		if flags&(revertRunning|revertPaused) != 0 {
			in.lifecycle(o.handle(), driver.EventStarted, driver.EventStartedFromSnapshot)
			if flags&revertPaused != 0 {
				in.lifecycle(o.handle(), driver.EventSuspended, driver.EventSuspendedFromSnapshot)
			}
		}
	}
	o.snaps.current = snap.name
	return nil
}
