package storagepool

import (
	"sort"

	"govirt/driver"
	"govirt/virerr"
)

// vol is a volume record. File volumes' sizes and format are read from
// the file each time they are asked for, so they are always true even
// after changes behind govirt's back; logical volumes carry what lvs said
// at the last refresh.
type vol struct {
	name, path string
	key        string  // the path for files, the LV UUID for logical volumes
	lv         *lvInfo // logical volumes only; never changed once set (replaced instead)
	building   bool    // being created; not usable yet
	inUse      int     // data operations running (upload, wipe, resize, clone source)
	// enc is the <encryption> the volume was created with, shown until a
	// pool refresh (volencrypt.go).
	enc *volEncryption
}

func (v *vol) handle(pool string) driver.Vol {
	return driver.Vol{Pool: pool, Name: v.name, Key: v.key}
}

// volFor is virStorageVolDefFromVol: the pool by name, active, then the
// volume by name.
func (m *Manager) volFor(h driver.Vol) (*pool, *vol, error) {
	p := m.pools[h.Pool]
	if p == nil {
		return nil, nil, errNoPoolName(h.Pool)
	}
	if !p.active {
		return nil, nil, errNotActive(p.def.name)
	}
	v := p.vols[h.Name]
	if v == nil {
		return nil, nil, errNoVolName(h.Name)
	}
	return p, v, nil
}

// withVol runs fn under mu (memory work only) on a volume that is not
// being created.
func (m *Manager) withVol(h driver.Vol, fn func(p *pool, v *vol) error) error {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	p, v, err := m.volFor(h)
	if err != nil {
		return err
	}
	if v.building {
		return errVolBuilding(v.name)
	}
	return fn(p, v)
}

// busyVol marks a volume in use for a data operation done without any
// lock. It returns the pool, a snapshot of the record (safe to read
// without the lock) and the pool's backend; done ends the operation. The
// mark is made under the pool's operation lock, so it waits for a pool
// operation (start, refresh) to finish, as libvirt's pool lock does.
func (m *Manager) busyVol(h driver.Vol, check func(p *pool, v *vol) error) (*pool, *vol, backend, func(), error) {
	var pp *pool
	var rec *vol
	var snap vol
	var be backend
	lp, err := m.lockPoolName(h.Pool)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer lp.op.Unlock()
	err = m.withVol(h, func(p *pool, v *vol) error {
		if check != nil {
			if err := check(p, v); err != nil {
				return err
			}
		}
		pp, rec, snap, be = p, v, *v, backendFor(p.def.typ)
		v.inUse++
		p.jobs++
		return nil
	})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	done := func() {
		m.mu.Lock()
		rec.inUse--
		pp.jobs--
		m.mu.Unlock()
	}
	return pp, &snap, be, done, nil
}

// snapVol returns a copy of a volume record and its pool's backend, for
// reading the volume without the lock.
func (m *Manager) snapVol(h driver.Vol) (*vol, backend, error) {
	var snap vol
	var be backend
	err := m.withVol(h, func(p *pool, v *vol) error {
		snap, be = *v, backendFor(p.def.typ)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return &snap, be, nil
}

func (m *Manager) StoragePoolListAllVolumes(h driver.Pool, flags uint32) ([]driver.Vol, error) {
	if flags != 0 {
		return nil, errFlags(flags, "storagePoolListAllVolumes")
	}
	var out []driver.Vol
	err := m.withPool(h, func(p *pool) error {
		if !p.active {
			return errNotActive(p.def.name)
		}
		out = make([]driver.Vol, 0, len(p.vols))
		for _, v := range p.vols {
			out = append(out, v.handle(p.def.name))
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

func (m *Manager) LookupStorageVolByName(h driver.Pool, name string) (driver.Vol, error) {
	var out driver.Vol
	err := m.withPool(h, func(p *pool) error {
		if !p.active {
			return errNotActive(p.def.name)
		}
		v := p.vols[name]
		if v == nil {
			return errNoVolName(name)
		}
		out = v.handle(p.def.name)
		return nil
	})
	return out, err
}

// findVol searches the active pools in name order for a stable answer.
func (m *Manager) findVol(match func(*vol) bool) (driver.Vol, bool) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.pools))
	for n := range m.pools {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := m.pools[n]
		if !p.active {
			continue
		}
		for _, v := range p.vols {
			if match(v) {
				return v.handle(n), true
			}
		}
	}
	return driver.Vol{}, false
}

func (m *Manager) LookupStorageVolByKey(key string) (driver.Vol, error) {
	if h, ok := m.findVol(func(v *vol) bool { return v.key == key }); ok {
		return h, nil
	}
	return driver.Vol{}, errStorage(virerr.ErrNoStorageVol, "no storage vol with matching key %s", key)
}

func (m *Manager) LookupStorageVolByPath(path string) (driver.Vol, error) {
	clean := sanitizePath(path)
	if h, ok := m.findVol(func(v *vol) bool { return v.path == clean }); ok {
		return h, nil
	}
	if clean == path {
		return driver.Vol{}, errStorage(virerr.ErrNoStorageVol, "no storage vol with matching path '%s'", path)
	}
	return driver.Vol{}, errStorage(virerr.ErrNoStorageVol, "no storage vol with matching path '%s' (%s)", path, clean)
}

func (m *Manager) StorageVolGetInfo(h driver.Vol) (driver.VolInfo, error) {
	v, be, err := m.snapVol(h)
	if err != nil {
		return driver.VolInfo{}, err
	}
	st, err := be.statVol(m, v)
	if err != nil {
		return driver.VolInfo{}, err
	}
	return driver.VolInfo{Type: st.typ, Capacity: st.capacity, Allocation: st.allocation}, nil
}

func (m *Manager) StorageVolGetXMLDesc(h driver.Vol, flags uint32) (string, error) {
	if flags != 0 {
		return "", errFlags(flags, "storageVolGetXMLDesc")
	}
	v, be, err := m.snapVol(h)
	if err != nil {
		return "", err
	}
	st, err := be.statVol(m, v)
	if err != nil {
		return "", err
	}
	st.enc = m.volumeEncryption(v, st)
	return st.format(v.name, v.key), nil
}

func (m *Manager) StorageVolGetPath(h driver.Vol) (string, error) {
	var path string
	err := m.withVol(h, func(_ *pool, v *vol) error { path = v.path; return nil })
	return path, err
}

// Volume delete flags (virStorageVolDeleteFlags).
const (
	deleteZeroed        = 1 << 0
	deleteWithSnapshots = 1 << 1
)

// StorageVolDelete removes the volume (unlinks the file, lvremove).
// VIR_STORAGE_VOL_DELETE_ZEROED, which libvirt's dir and logical backends
// refuse, zeroes the data first (vol-wipe, then delete) so that the flag
// means what it says.
func (m *Manager) StorageVolDelete(h driver.Vol, flags uint32) error {
	if flags&^(deleteZeroed|deleteWithSnapshots) != 0 {
		return errFlags(flags, "storageVolDelete")
	}
	if flags&deleteZeroed != 0 {
		if err := m.StorageVolWipe(h, 0); err != nil {
			return err
		}
	}
	p, v, be, done, err := m.busyVol(h, func(_ *pool, v *vol) error {
		if v.inUse > 0 {
			return errVolInUse(v.name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer done()
	if err := be.removeVol(m, v); err != nil {
		return err
	}
	m.mu.Lock()
	if p.vols[v.name] != nil && p.vols[v.name].key == v.key {
		delete(p.vols, v.name)
	}
	d := p.def.clone()
	m.mu.Unlock()
	m.applyReread(p, be, d)
	return nil
}

// applyReread updates the pool after a volume operation where the backend
// keeps volume records (logical pools); failures are only logged, as the
// operation itself is done.
func (m *Manager) applyReread(p *pool, be backend, d *poolDef) {
	apply, err := be.reread(m, d)
	if err != nil {
		m.log.Warn("cannot re-read pool after volume change", "pool", d.name, "err", err)
		return
	}
	if apply == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.active {
		apply(p)
	}
}
