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

// listFacts is what the list filter flags look at.
func (o *domObj) listFacts() driver.ListFacts {
	return driver.ListFacts{
		Active: o.active(), Persistent: o.persistent, ManagedSave: o.managed,
		Autostart: o.autostart, HasSnapshot: o.snaps.count() > 0, State: o.state,
	}
}

// matches applies the list filter flags to o.
func (o *domObj) matches(flags uint32) bool { return driver.MatchList(flags, o.listFacts()) }

// ListAllDomains answers from the listing snapshot (list.go); the
// unfiltered result is that snapshot's own slice, which callers only read.
func (in *instance) ListAllDomains(flags uint32) ([]driver.Domain, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	s := in.listing()
	if flags == 0 {
		return s.doms, nil
	}
	out := make([]driver.Domain, 0, len(s.doms))
	for i, f := range s.facts {
		if driver.MatchList(flags, f) {
			out = append(out, s.doms[i])
		}
	}
	return out, nil
}
