package qemu

import (
	"sort"
	"sync"
	"sync/atomic"

	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// registry indexes guests by uuid, name and id. Its lock covers only the
// maps; each vm has its own lock for its state.
type registry struct {
	mu     sync.RWMutex
	byUUID map[uuid.UUID]*vm
	byName map[string]*vm
	byID   map[int32]*vm
	nextID int32
	// sorted caches all()'s result; add, remove and rename clear it.
	sorted atomic.Pointer[[]*vm]
}

func newRegistry() *registry {
	return &registry{byUUID: map[uuid.UUID]*vm{}, byName: map[string]*vm{}, byID: map[int32]*vm{}, nextID: 1}
}

func (r *registry) get(d driver.Domain) (*vm, error) {
	r.mu.RLock()
	v := r.byUUID[d.UUID]
	r.mu.RUnlock()
	if v == nil {
		return nil, errNoDomainUUID(d.UUID.String(), d.Name)
	}
	v.mu.Lock()
	err := v.goneErr()
	v.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return v, nil
}

// byNameLookup returns the guest called name, or nil; a guest being
// removed counts as absent, so a new definition under its name makes a new
// guest rather than reviving the one on its way out.
func (r *registry) byNameLookup(name string) *vm {
	r.mu.RLock()
	v := r.byName[name]
	r.mu.RUnlock()
	if v == nil {
		return nil
	}
	if v.removed.Load() {
		return nil
	}
	return v
}

// add inserts v, refusing a name or uuid clash with another guest.
func (r *registry) add(v *vm) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A guest on its way out (removed) gives its place up.
	if o := r.byName[v.name]; o != nil && o != v && !o.removed.Load() {
		return virerr.New(virerr.FromQemu, virerr.ErrOperationFailed,
			"domain '%s' already exists with uuid %s", v.name, o.uuid)
	}
	if o := r.byUUID[v.uuid]; o != nil && o != v && !o.removed.Load() {
		return virerr.New(virerr.FromQemu, virerr.ErrOperationFailed,
			"domain '%s' is already defined with uuid %s", o.name, v.uuid)
	}
	r.byUUID[v.uuid] = v
	r.byName[v.name] = v
	r.sorted.Store(nil)
	return nil
}

func (r *registry) remove(v *vm) {
	// Marked first: whoever holds v from an earlier lookup sees it gone.
	v.removed.Store(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sorted.Store(nil)
	if r.byUUID[v.uuid] == v {
		delete(r.byUUID, v.uuid)
	}
	if r.byName[v.name] == v {
		delete(r.byName, v.name)
	}
	for id, o := range r.byID {
		if o == v {
			delete(r.byID, id)
		}
	}
}

// assignID gives a starting guest the next id (or a reconnected one its
// saved id).
func (r *registry) assignID(v *vm, id int32) int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id <= 0 {
		id = r.nextID
	}
	if id >= r.nextID {
		r.nextID = id + 1
	}
	r.byID[id] = v
	return id
}

func (r *registry) releaseID(id int32) {
	r.mu.Lock()
	delete(r.byID, id)
	r.mu.Unlock()
}

// all returns the guests sorted by name, for stable listings. The slice
// is shared until the next add or remove: callers must not modify it.
func (r *registry) all() []*vm { return *r.sortedRef() }

// sortedRef returns the cached sorted slice; the pointer stays the same
// until an add or remove, which is how listings tell it changed.
func (r *registry) sortedRef() *[]*vm {
	if l := r.sorted.Load(); l != nil {
		return l
	}
	// Built under the write lock so that an add or remove cannot clear
	// the cache between building it and storing it.
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.sorted.Load(); l != nil {
		return l
	}
	out := make([]*vm, 0, len(r.byUUID))
	for _, v := range r.byUUID {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	r.sorted.Store(&out)
	return &out
}

// rename gives v a new name, refusing one another guest has; the listing
// cache is rebuilt since it is sorted by name.
func (r *registry) rename(v *vm, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o := r.byName[name]; o != nil && o != v && !o.removed.Load() {
		return errQEMU(virerr.ErrOperationInvalid, "domain with name '%s' already exists", name)
	}
	v.mu.Lock()
	old := v.name
	v.name = name
	v.mu.Unlock()
	if r.byName[old] == v {
		delete(r.byName, old)
	}
	r.byName[name] = v
	r.sorted.Store(nil)
	return nil
}
