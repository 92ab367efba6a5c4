package test

import (
	"sort"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// checkpointList is a domain's checkpoint tree, as libvirt's moment list:
// each checkpoint names its parent, and siblings are listed newest link
// first (libvirt prepends a child to its parent's list).
type checkpointList struct {
	byName  map[string]*chkObj
	current string
	seq     int
}

type chkObj struct {
	def *conf.DomainCheckpoint
	seq int // when it was linked under its parent
}

func newCheckpointList() *checkpointList { return &checkpointList{byName: map[string]*chkObj{}} }

func (l *checkpointList) count() int { return len(l.byName) }

func (l *checkpointList) link(c *chkObj) {
	l.seq++
	c.seq = l.seq
}

// children lists the checkpoints directly under name ("" for the roots).
func (l *checkpointList) children(name string) []*chkObj {
	var out []*chkObj
	for _, c := range l.byName {
		if c.def.Parent == name {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq > out[j].seq })
	return out
}

// descendants walks the subtree below name, each checkpoint before its
// children.
func (l *checkpointList) descendants(name string) []*chkObj {
	var out []*chkObj
	for _, c := range l.children(name) {
		out = append(out, c)
		out = append(out, l.descendants(c.def.Name)...)
	}
	return out
}

func (l *checkpointList) find(name string) (*chkObj, error) {
	if c := l.byName[name]; c != nil {
		return c, nil
	}
	return nil, errTest(virerr.ErrNoDomainCheckpoint, "no domain checkpoint with matching name '%s'", name)
}

// checkCycles is virDomainMomentCheckCycles.
func (l *checkpointList) checkCycles(name, parent string) error {
	return checkMomentCycles(name, parent, func(n string) (string, bool) {
		c := l.byName[n]
		if c == nil {
			return "", false
		}
		return c.def.Parent, true
	})
}

// checkMomentCycles is virDomainMomentCheckCycles for any moment list:
// parentOf reports a moment's parent and whether it exists.
func checkMomentCycles(name, parent string, parentOf func(string) (string, bool)) error {
	if parent == "" {
		return nil
	}
	if name == parent {
		return virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "cannot set moment %s as its own parent", name)
	}
	up, ok := parentOf(parent)
	if !ok {
		return virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "parent %s for moment %s not found", parent, name)
	}
	other := parent
	for up != "" {
		if up == name {
			return virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "parent %s would create cycle to %s", other, name)
		}
		other = up
		if up, ok = parentOf(up); !ok {
			break
		}
	}
	return nil
}

func chkHandle(o *domObj, c *chkObj) driver.Checkpoint {
	return driver.Checkpoint{Dom: o.handle(), Name: c.def.Name}
}

func (in *instance) DomainCheckpointCreateXML(d driver.Domain, doc string, flags uint32) (driver.Checkpoint, error) {
	if err := checkFlags(flags, driver.CheckpointCreateRedefine|driver.CheckpointCreateQuiesce, "testDomainCheckpointCreateXML"); err != nil {
		return driver.Checkpoint{}, err
	}
	redefine := flags&driver.CheckpointCreateRedefine != 0
	var h driver.Checkpoint
	err := in.updateDom(d, func(o *domObj) error {
		if o.snaps.count() > 0 {
			return errTest(virerr.ErrOperationUnsupported, "cannot create checkpoint while snapshot exists")
		}
		if !o.active() {
			return errTest(virerr.ErrOperationUnsupported, "cannot create checkpoint for inactive domain")
		}
		var pf conf.ParseFlags
		if redefine {
			pf |= conf.CheckpointParseRedefine
		}
		def, err := conf.ParseDomainCheckpoint([]byte(doc), pf)
		if err != nil {
			return err
		}
		l := o.chks
		updateCurrent := !redefine
		var c *chkObj
		if redefine {
			if err := l.checkCycles(def.Name, def.Parent); err != nil {
				return err
			}
			if def.Domain != nil {
				if def.Domain.UUID != o.def.UUID {
					return virerr.New(virerr.FromDomainCheckpoint, virerr.ErrInvalidArg,
						"definition for checkpoint %s must use uuid %s", def.Name, o.def.UUID)
				}
				if err := def.AlignDisks(); err != nil {
					return err
				}
			} else {
				def.AssignBitmapNames()
			}
			if def.Parent != "" && l.byName[def.Parent] != nil && def.Parent == l.current {
				updateCurrent = true
			}
			if l.current == "" {
				updateCurrent = true
			}
			if c = l.byName[def.Name]; c != nil {
				c.def = def // children stay linked to it
			} else {
				c = &chkObj{def: def}
				l.byName[def.Name] = c
			}
		} else {
			def.Domain = o.def.Clone()
			def.Domain.ID = -1
			if err := def.AlignDisks(); err != nil {
				return err
			}
			if l.byName[def.Name] != nil {
				return virerr.New(virerr.FromDomain, virerr.ErrOperationFailed, "domain moment %s already exists", def.Name)
			}
			c = &chkObj{def: def}
			l.byName[def.Name] = c
			if l.current != "" {
				def.Parent = l.current
			}
		}
		if updateCurrent {
			l.current = def.Name
		}
		l.link(c)
		h = chkHandle(o, c)
		return nil
	})
	return h, err
}

func (in *instance) DomainListAllCheckpoints(d driver.Domain, flags uint32) ([]driver.Checkpoint, error) {
	if err := checkFlags(flags, driver.CheckpointListRoots|driver.CheckpointListTopological|
		driver.CheckpointListLeaves|driver.CheckpointListNoLeaves, "testDomainListAllCheckpoints"); err != nil {
		return nil, err
	}
	var out []driver.Checkpoint
	err := in.withDom(d, func(o *domObj) error {
		var l []*chkObj
		if flags&driver.CheckpointListRoots != 0 {
			l = o.chks.children("")
		} else {
			l = o.chks.descendants("")
		}
		out = o.chks.handles(o, l, flags)
		return nil
	})
	return out, err
}

// handles filters by leaves/no-leaves and makes handles.
func (l *checkpointList) handles(o *domObj, in []*chkObj, flags uint32) []driver.Checkpoint {
	out := []driver.Checkpoint{}
	for _, c := range in {
		leaf := len(l.children(c.def.Name)) == 0
		if flags&driver.CheckpointListLeaves != 0 && !leaf {
			continue
		}
		if flags&driver.CheckpointListNoLeaves != 0 && leaf {
			continue
		}
		out = append(out, chkHandle(o, c))
	}
	return out
}

// chkFor finds a checkpoint under a lock the caller holds.
func (in *instance) chkFor(h driver.Checkpoint) (*domObj, *chkObj, error) {
	o, err := in.domFor(h.Dom)
	if err != nil {
		return nil, nil, err
	}
	c, err := o.chks.find(h.Name)
	return o, c, err
}

func (in *instance) DomainCheckpointListAllChildren(h driver.Checkpoint, flags uint32) ([]driver.Checkpoint, error) {
	if err := checkFlags(flags, driver.CheckpointListRoots|driver.CheckpointListTopological|
		driver.CheckpointListLeaves|driver.CheckpointListNoLeaves, "testDomainCheckpointListAllChildren"); err != nil {
		return nil, err
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	o, c, err := in.chkFor(h)
	if err != nil {
		return nil, err
	}
	l := o.chks.children(c.def.Name)
	if flags&driver.CheckpointListRoots != 0 { // DESCENDANTS
		l = o.chks.descendants(c.def.Name)
	}
	return o.chks.handles(o, l, flags), nil
}

func (in *instance) DomainCheckpointLookupByName(d driver.Domain, name string, flags uint32) (driver.Checkpoint, error) {
	if err := checkFlags(flags, 0, "testDomainCheckpointLookupByName"); err != nil {
		return driver.Checkpoint{}, err
	}
	var h driver.Checkpoint
	err := in.withDom(d, func(o *domObj) error {
		c, err := o.chks.find(name)
		if err == nil {
			h = chkHandle(o, c)
		}
		return err
	})
	return h, err
}

func (in *instance) DomainCheckpointGetParent(h driver.Checkpoint, flags uint32) (driver.Checkpoint, error) {
	if err := checkFlags(flags, 0, "testDomainCheckpointGetParent"); err != nil {
		return driver.Checkpoint{}, err
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	o, c, err := in.chkFor(h)
	if err != nil {
		return driver.Checkpoint{}, err
	}
	if c.def.Parent == "" {
		return driver.Checkpoint{}, errTest(virerr.ErrNoDomainCheckpoint, "checkpoint '%s' does not have a parent", c.def.Name)
	}
	return driver.Checkpoint{Dom: o.handle(), Name: c.def.Parent}, nil
}

func (in *instance) DomainCheckpointGetXMLDesc(h driver.Checkpoint, flags uint32) (string, error) {
	if err := checkFlags(flags, driver.CheckpointXMLSecure|driver.CheckpointXMLNoDomain|driver.CheckpointXMLSize,
		"testDomainCheckpointGetXMLDesc"); err != nil {
		return "", err
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	o, c, err := in.chkFor(h)
	if err != nil {
		return "", err
	}
	// libvirt's test driver checks the domain runs for SIZE, then never
	// marks the sizes it sets as valid, so none is written.
	if flags&driver.CheckpointXMLSize != 0 && !o.active() {
		return "", errNotRunning()
	}
	var ff conf.FormatFlags
	if flags&driver.CheckpointXMLSecure != 0 {
		ff |= conf.FormatSecure
	}
	if flags&driver.CheckpointXMLNoDomain != 0 {
		ff |= conf.CheckpointFormatNoDomain
	}
	out, err := c.def.Format(ff)
	return string(out), err
}

func (in *instance) DomainCheckpointDelete(h driver.Checkpoint, flags uint32) error {
	if err := checkFlags(flags, driver.CheckpointDeleteChildren|driver.CheckpointDeleteMetadataOnly|
		driver.CheckpointDeleteChildrenOnly, "testDomainCheckpointDelete"); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	o, c, err := in.chkFor(h)
	if err != nil {
		return err
	}
	l := o.chks
	name := c.def.Name
	if flags&(driver.CheckpointDeleteChildren|driver.CheckpointDeleteChildrenOnly) != 0 {
		wasCurrent := false
		for _, d := range l.descendants(name) {
			if l.current == d.def.Name {
				wasCurrent = true
				l.current = ""
			}
			delete(l.byName, d.def.Name)
		}
		if wasCurrent {
			l.current = name
		}
	} else {
		// The children move to the parent, ahead of its own children.
		kids := l.children(name)
		for i := len(kids) - 1; i >= 0; i-- {
			kids[i].def.Parent = c.def.Parent
			l.link(kids[i])
		}
	}
	if flags&driver.CheckpointDeleteChildrenOnly == 0 {
		if l.current == name {
			l.current = ""
			if p := l.byName[c.def.Parent]; p != nil {
				l.current = p.def.Name
			}
		}
		delete(l.byName, name)
	}
	return nil
}
