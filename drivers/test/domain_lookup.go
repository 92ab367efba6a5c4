package test

import (
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// domFor resolves a handle from the wire; call with the lock held. Like
// libvirt, the UUID decides and the name only decorates the error.
func (in *instance) domFor(d driver.Domain) (*domObj, error) {
	if o := in.doms[d.UUID]; o != nil {
		return o, nil
	}
	return nil, errTest(virerr.ErrNoDomain, "no domain with matching uuid '%s' (%s)", d.UUID, d.Name)
}

// withDom runs fn on the domain under the read lock.
func (in *instance) withDom(d driver.Domain, fn func(o *domObj) error) error {
	in.mu.RLock()
	defer in.mu.RUnlock()
	o, err := in.domFor(d)
	if err != nil {
		return err
	}
	return fn(o)
}

// updateDom runs fn on the domain under the write lock.
func (in *instance) updateDom(d driver.Domain, fn func(o *domObj) error) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	o, err := in.domFor(d)
	if err != nil {
		return err
	}
	return fn(o)
}

func (in *instance) LookupDomainByName(name string) (driver.Domain, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if o := in.domsByName[name]; o != nil {
		return o.handle(), nil
	}
	return driver.Domain{}, errNoDomain()
}

func (in *instance) LookupDomainByUUID(u uuid.UUID) (driver.Domain, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if o := in.doms[u]; o != nil {
		return o.handle(), nil
	}
	return driver.Domain{}, errNoDomain()
}

func (in *instance) LookupDomainByID(id int32) (driver.Domain, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if o := in.domsByID[id]; o != nil {
		return o.handle(), nil
	}
	return driver.Domain{}, errNoDomain()
}

// ListAllDomains flags (virConnectListAllDomainsFlags).
const (
	listActive        = 1 << 0
	listInactive      = 1 << 1
	listPersistent    = 1 << 2
	listTransient     = 1 << 3
	listRunning       = 1 << 4
	listPaused        = 1 << 5
	listShutoff       = 1 << 6
	listOther         = 1 << 7
	listManagedSave   = 1 << 8
	listNoManagedSave = 1 << 9
	listAutostart     = 1 << 10
	listNoAutostart   = 1 << 11
	listHasSnapshot   = 1 << 12
	listNoSnapshot    = 1 << 13
	listHasCheckpoint = 1 << 14
	listNoCheckpoint  = 1 << 15
)

// matches applies virDomainObjListFilter's groups: within a group any
// flag may match, every group given must match.
func (o *domObj) matches(flags uint32) bool {
	pair := func(yes, no uint32, v bool) bool {
		if flags&(yes|no) == 0 || flags&(yes|no) == yes|no {
			return true
		}
		return (flags&yes != 0) == v
	}
	if !pair(listActive, listInactive, o.active()) ||
		!pair(listPersistent, listTransient, o.persistent) ||
		!pair(listManagedSave, listNoManagedSave, o.managed) ||
		!pair(listAutostart, listNoAutostart, o.autostart) ||
		!pair(listHasSnapshot, listNoSnapshot, o.snaps.count() > 0) ||
		!pair(listHasCheckpoint, listNoCheckpoint, false) {
		return false
	}
	if st := flags & (listRunning | listPaused | listShutoff | listOther); st != 0 {
		var bit uint32
		switch o.state {
		case driver.StateRunning:
			bit = listRunning
		case driver.StatePaused:
			bit = listPaused
		case driver.StateShutoff:
			bit = listShutoff
		default:
			bit = listOther
		}
		if st&bit == 0 {
			return false
		}
	}
	return true
}

func (in *instance) ListAllDomains(flags uint32) ([]driver.Domain, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	all := in.sortedDoms()
	out := make([]driver.Domain, 0, len(all))
	for _, o := range all {
		if flags == 0 || o.matches(flags) {
			out = append(out, o.handle())
		}
	}
	return out, nil
}
