package storagepool

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"govirt/driver"
	"govirt/virerr"
)

// vol is a volume record: a file (or directory) in the pool's target.
// Its sizes and format are read from the file each time they are asked
// for, so they are always true even after changes behind govirt's back.
type vol struct {
	name, path string
	building   bool // being created; not usable yet
	inUse      int  // data operations running (upload, wipe, resize, clone source)
}

func (v *vol) handle(pool string) driver.Vol {
	return driver.Vol{Pool: pool, Name: v.name, Key: v.path}
}

// refreshLocked re-reads the target directory, as
// virStorageBackendRefreshLocal: every regular file and directory is a
// volume, names with control characters and other file types are skipped.
func (m *Manager) refreshLocked(p *pool) error {
	ents, err := os.ReadDir(p.def.target)
	if err != nil {
		return errSys(err, "cannot open directory '%s'", p.def.target)
	}
	vols := make(map[string]*vol, len(ents))
	for _, e := range ents {
		name := e.Name()
		if strings.IndexFunc(name, unicode.IsControl) >= 0 {
			m.log.Warn("ignoring file with control characters", "pool", p.def.name, "name", name)
			continue
		}
		path := filepath.Join(p.def.target, name)
		fi, err := os.Stat(path) // follows symlinks; dangling ones are skipped
		if err != nil || !(fi.Mode().IsRegular() || fi.IsDir()) {
			continue
		}
		if old := p.vols[name]; old != nil && old.path == path {
			vols[name] = old
			continue
		}
		vols[name] = &vol{name: name, path: path}
	}
	fi, err := os.Stat(p.def.target)
	if err != nil {
		return errSys(err, "cannot stat path '%s'", p.def.target)
	}
	p.def.perms = statPerms(fi)
	if err := updateSizes(p); err != nil {
		return err
	}
	p.vols = vols
	return nil
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

// withVol runs fn under the lock on a volume that is not being created.
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

// busyVol marks a volume in use for a data operation done without the
// lock; the returned func ends it.
func (m *Manager) busyVol(h driver.Vol, check func(p *pool, v *vol) error) (*pool, *vol, func(), error) {
	var pp *pool
	var vv *vol
	err := m.withVol(h, func(p *pool, v *vol) error {
		if check != nil {
			if err := check(p, v); err != nil {
				return err
			}
		}
		pp, vv = p, v
		v.inUse++
		p.jobs++
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	done := func() {
		m.mu.Lock()
		vv.inUse--
		pp.jobs--
		m.mu.Unlock()
	}
	return pp, vv, done, nil
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
	if h, ok := m.findVol(func(v *vol) bool { return v.path == key }); ok {
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
	var path string
	if err := m.withVol(h, func(_ *pool, v *vol) error { path = v.path; return nil }); err != nil {
		return driver.VolInfo{}, err
	}
	st, err := m.statVol(path)
	if err != nil {
		return driver.VolInfo{}, err
	}
	return driver.VolInfo{Type: st.typ, Capacity: st.capacity, Allocation: st.allocation}, nil
}

func (m *Manager) StorageVolGetXMLDesc(h driver.Vol, flags uint32) (string, error) {
	if flags != 0 {
		return "", errFlags(flags, "storageVolGetXMLDesc")
	}
	var name, path string
	if err := m.withVol(h, func(_ *pool, v *vol) error { name, path = v.name, v.path; return nil }); err != nil {
		return "", err
	}
	st, err := m.statVol(path)
	if err != nil {
		return "", err
	}
	return st.format(name, path), nil
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

// StorageVolDelete unlinks the file. VIR_STORAGE_VOL_DELETE_ZEROED, which
// libvirt's dir backend refuses, zeroes the data first (vol-wipe, then
// delete) so that the flag means what it says.
func (m *Manager) StorageVolDelete(h driver.Vol, flags uint32) error {
	if flags&^(deleteZeroed|deleteWithSnapshots) != 0 {
		return errFlags(flags, "storageVolDelete")
	}
	if flags&deleteZeroed != 0 {
		if err := m.StorageVolWipe(h, 0); err != nil {
			return err
		}
	}
	return m.withVol(h, func(p *pool, v *vol) error {
		if v.inUse > 0 {
			return errVolInUse(v.name)
		}
		fi, err := os.Lstat(v.path)
		switch {
		case err != nil && os.IsNotExist(err):
		case err != nil:
			return errSys(err, "cannot stat file '%s'", v.path)
		case fi.IsDir():
			if err := os.Remove(v.path); err != nil {
				return errSys(err, "cannot remove directory '%s'", v.path)
			}
		default:
			if err := os.Remove(v.path); err != nil {
				return errSys(err, "cannot unlink file '%s'", v.path)
			}
		}
		delete(p.vols, v.name)
		return nil
	})
}
