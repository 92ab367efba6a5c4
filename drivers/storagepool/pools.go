package storagepool

import (
	"os"
	"sort"
	"strings"
	"syscall"

	"govirt/atomicfile"
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// Pool list filter flags (virConnectListAllStoragePoolsFlags).
const (
	listInactive    = 1 << 0
	listActive      = 1 << 1
	listPersistent  = 1 << 2
	listTransient   = 1 << 3
	listAutostart   = 1 << 4
	listNoAutostart = 1 << 5
	listTypes       = uint32(0xffffffff) &^ 0x3f
)

// Flags of virStoragePoolCreate / CreateXML.
const (
	createWithBuild            = 1 << 0
	createWithBuildOverwrite   = 1 << 1
	createWithBuildNoOverwrite = 1 << 2
)

func pairMatch(flags, on, off uint32, v bool) bool {
	if flags&(on|off) == 0 || flags&(on|off) == on|off {
		return true
	}
	return (flags&on != 0) == v
}

func (m *Manager) ListAllStoragePools(flags uint32) ([]driver.Pool, error) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []driver.Pool{}
	for _, p := range m.pools {
		typeOK := flags&listTypes == 0 || flags&(1<<(6+poolTypeIndex(p.def.typ))) != 0
		if typeOK && pairMatch(flags, listActive, listInactive, p.active) &&
			pairMatch(flags, listPersistent, listTransient, p.persistent) &&
			pairMatch(flags, listAutostart, listNoAutostart, p.autostart) {
			out = append(out, p.handle())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *Manager) LookupStoragePoolByName(name string) (driver.Pool, error) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.pools[name]; p != nil {
		return p.handle(), nil
	}
	return driver.Pool{}, errNoPoolName(name)
}

func (m *Manager) LookupStoragePoolByUUID(u uuid.UUID) (driver.Pool, error) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.poolByUUID(u)
	if err != nil {
		return driver.Pool{}, err
	}
	return p.handle(), nil
}

func (m *Manager) LookupStoragePoolByVolume(v driver.Vol) (driver.Pool, error) {
	return m.LookupStoragePoolByName(v.Pool)
}

// addPool is virStoragePoolObjListAdd plus the source duplicate check:
// a same-named pool with the same UUID takes the new definition (kept
// aside while it is active), clashes are refused.
func (m *Manager) addPool(def *poolDef, live bool) (*pool, error) {
	if p := m.pools[def.name]; p != nil {
		if p.def.uuid != def.uuid {
			return nil, errStorage(virerr.ErrOperationFailed, "pool '%s' is already defined with uuid %s", p.def.name, p.def.uuid)
		}
		if live && p.active {
			return nil, errStorage(virerr.ErrOperationInvalid, "pool is already active as '%s'", p.def.name)
		}
	} else {
		for _, o := range m.pools {
			if o.def.uuid == def.uuid {
				return nil, errStorage(virerr.ErrOperationFailed, "pool '%s' already exists with uuid %s", def.name, o.def.uuid)
			}
		}
	}
	for _, o := range m.pools {
		if o.def.name != def.name && o.def.target == def.target {
			return nil, errStorage(virerr.ErrOperationFailed, "Storage source conflict with pool: '%s'", o.def.name)
		}
	}
	p := m.pools[def.name]
	if p == nil {
		p = &pool{def: def, vols: map[string]*vol{}}
		m.pools[def.name] = p
	} else if p.active {
		p.newDef = def
	} else {
		p.def = def
	}
	return p, nil
}

const defineValidate = 1 << 0

func (m *Manager) StoragePoolDefineXML(xml string, flags uint32) (driver.Pool, error) {
	if flags&^defineValidate != 0 {
		return driver.Pool{}, errFlags(flags&^defineValidate, "storagePoolDefineXML")
	}
	def, err := parsePoolDef(xml, flags&defineValidate != 0)
	if err != nil {
		return driver.Pool{}, err
	}
	// storagePoolDefineXML: virXMLCheckIllegalChars("name", ..., "\n").
	if strings.Contains(def.name, "\n") {
		return driver.Pool{}, virerr.New(virerr.FromXML, virerr.ErrXMLDetail, "invalid char in name: \n")
	}
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	existed := m.pools[def.name] != nil
	p, err := m.addPool(def, false)
	if err != nil {
		return driver.Pool{}, err
	}
	if err := m.saveConfig(def); err != nil {
		if !existed {
			delete(m.pools, def.name)
		}
		return driver.Pool{}, err
	}
	p.persistent = true
	m.publish(p, driver.PoolEventDefined)
	return p.handle(), nil
}

func (m *Manager) StoragePoolCreateXML(xml string, flags uint32) (driver.Pool, error) {
	const known = createWithBuild | createWithBuildOverwrite | createWithBuildNoOverwrite
	if flags&^known != 0 {
		return driver.Pool{}, errFlags(flags&^known, "storagePoolCreateXML")
	}
	def, err := parsePoolDef(xml, false)
	if err != nil {
		return driver.Pool{}, err
	}
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	existed := m.pools[def.name] != nil
	p, err := m.addPool(def, true)
	if err != nil {
		return driver.Pool{}, err
	}
	if err := m.buildForCreate(p, flags); err == nil {
		err = m.startLocked(p)
	}
	if err != nil {
		if !existed {
			delete(m.pools, def.name)
		}
		return driver.Pool{}, err
	}
	return p.handle(), nil
}

// buildForCreate runs the build pool-create --build asks for.
func (m *Manager) buildForCreate(p *pool, flags uint32) error {
	if flags&(createWithBuildOverwrite|createWithBuildNoOverwrite) == createWithBuildOverwrite|createWithBuildNoOverwrite {
		return errStorage(virerr.ErrInvalidArg, "%s", "Flags 'overwrite' and 'no-overwrite' are mutually exclusive")
	}
	var bflags uint32
	if flags&createWithBuildOverwrite != 0 {
		bflags = buildOverwrite
	} else if flags&createWithBuildNoOverwrite != 0 {
		bflags = buildNoOverwrite
	}
	if flags&(createWithBuild|createWithBuildOverwrite|createWithBuildNoOverwrite) == 0 {
		return nil
	}
	return backendFor(p.def.typ).build(p.def, bflags)
}

// startLocked starts the backend and reads the volumes; a pool whose
// refresh fails is stopped again.
func (m *Manager) startLocked(p *pool) error {
	be := backendFor(p.def.typ)
	if err := be.start(p.def); err != nil {
		return err
	}
	p.active = true
	if err := m.refreshLocked(p); err != nil {
		_ = be.stop(p.def)
		p.active = false
		p.vols = map[string]*vol{}
		return err
	}
	m.saveState(p)
	m.publish(p, driver.PoolEventStarted)
	return nil
}

func (m *Manager) StoragePoolBuild(h driver.Pool, flags uint32) error {
	const known = buildRepair | buildResize | buildNoOverwrite | buildOverwrite
	if flags&^known != 0 {
		return errFlags(flags&^known, "storagePoolBuild")
	}
	return m.withPool(h, func(p *pool) error {
		if p.active {
			return errAlreadyActive(p.def.name)
		}
		if err := backendFor(p.def.typ).build(p.def, flags); err != nil {
			return err
		}
		m.publish(p, driver.PoolEventCreated)
		return nil
	})
}

func (m *Manager) StoragePoolUndefine(h driver.Pool) error {
	return m.withPool(h, func(p *pool) error {
		if p.active {
			return errStillActive(p.def.name)
		}
		if p.jobs > 0 {
			return errAsyncJobs(p.def.name)
		}
		if !p.persistent {
			return errStorage(virerr.ErrInternalError, "no config file for %s", p.def.name)
		}
		path, err := m.configPath(p.def.name)
		if err != nil {
			return err
		}
		if err := atomicfile.Remove(path); err != nil {
			return errSys(err, "cannot remove config for %s", p.def.name)
		}
		_ = m.setAutostartFile(p.def.name, false)
		m.publish(p, driver.PoolEventUndefined)
		delete(m.pools, p.def.name)
		return nil
	})
}

func (m *Manager) StoragePoolCreate(h driver.Pool, flags uint32) error {
	const known = createWithBuild | createWithBuildOverwrite | createWithBuildNoOverwrite
	if flags&^known != 0 {
		return errFlags(flags&^known, "storagePoolCreate")
	}
	return m.withPool(h, func(p *pool) error {
		if p.active {
			return errAlreadyActive(p.def.name)
		}
		if err := m.buildForCreate(p, flags); err != nil {
			return err
		}
		return m.startLocked(p)
	})
}

func (m *Manager) StoragePoolDestroy(h driver.Pool) error {
	return m.withPool(h, func(p *pool) error {
		if !p.active {
			return errNotActive(p.def.name)
		}
		if p.jobs > 0 {
			return errAsyncJobs(p.def.name)
		}
		if err := backendFor(p.def.typ).stop(p.def); err != nil {
			return err
		}
		m.publish(p, driver.PoolEventStopped)
		m.stopped(p)
		if !p.persistent {
			delete(m.pools, p.def.name)
		}
		return nil
	})
}

func (m *Manager) StoragePoolDelete(h driver.Pool, flags uint32) error {
	return m.withPool(h, func(p *pool) error {
		if p.active {
			return errStillActive(p.def.name)
		}
		if p.jobs > 0 {
			return errAsyncJobs(p.def.name)
		}
		if err := backendFor(p.def.typ).delete(p.def, flags); err != nil {
			return err
		}
		m.publish(p, driver.PoolEventDeleted)
		return nil
	})
}

func (m *Manager) StoragePoolRefresh(h driver.Pool, flags uint32) error {
	if flags != 0 {
		return errFlags(flags, "storagePoolRefresh")
	}
	return m.withPool(h, func(p *pool) error {
		if !p.active {
			return errNotActive(p.def.name)
		}
		if p.jobs > 0 {
			return errAsyncJobs(p.def.name)
		}
		if err := m.refreshLocked(p); err != nil {
			// libvirt stops a pool it can no longer read.
			_ = backendFor(p.def.typ).stop(p.def)
			m.publish(p, driver.PoolEventStopped)
			m.stopped(p)
			if !p.persistent {
				delete(m.pools, p.def.name)
			}
			return err
		}
		m.publishRefresh(p.handle())
		return nil
	})
}

// updateSizes reads the pool's sizes from its file system, as
// virStorageBackendRefreshLocal: available counts the root-reserved
// blocks (f_bfree), allocation is the rest.
func updateSizes(p *pool) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(p.def.target, &st); err != nil {
		return errSys(err, "cannot statvfs path '%s'", p.def.target)
	}
	p.capacity = uint64(st.Frsize) * st.Blocks
	p.available = uint64(st.Frsize) * st.Bfree
	p.allocation = p.capacity - p.available
	return nil
}

func (m *Manager) StoragePoolGetInfo(h driver.Pool) (driver.PoolInfo, error) {
	var info driver.PoolInfo
	err := m.withPool(h, func(p *pool) error {
		info.State = driver.PoolInactive
		if p.active {
			info.State = driver.PoolRunning
			_ = backendFor(p.def.typ).sizes(p)
		}
		info.Capacity, info.Allocation, info.Available = p.capacity, p.allocation, p.available
		return nil
	})
	return info, err
}

const xmlInactive = 1 << 0 // VIR_STORAGE_XML_INACTIVE

func (m *Manager) StoragePoolGetXMLDesc(h driver.Pool, flags uint32) (string, error) {
	if flags&^xmlInactive != 0 {
		return "", errFlags(flags&^xmlInactive, "storagePoolGetXMLDesc")
	}
	var s string
	err := m.withPool(h, func(p *pool) error {
		def := p.def
		if flags&xmlInactive != 0 && p.newDef != nil {
			def = p.newDef
		}
		if p.active {
			_ = backendFor(p.def.typ).sizes(p)
		}
		s = def.format(p.capacity, p.allocation, p.available)
		return nil
	})
	return s, err
}

func (m *Manager) StoragePoolGetAutostart(h driver.Pool) (bool, error) {
	var on bool
	err := m.withPool(h, func(p *pool) error { on = p.autostart; return nil })
	return on, err
}

func (m *Manager) StoragePoolSetAutostart(h driver.Pool, on bool) error {
	return m.withPool(h, func(p *pool) error {
		if !p.persistent {
			return errStorage(virerr.ErrInternalError, "%s", "pool has no config file")
		}
		if on == p.autostart {
			return nil
		}
		if err := m.setAutostartFile(p.def.name, on); err != nil {
			return errSys(err, "Failed to change autostart of pool '%s'", p.def.name)
		}
		p.autostart = on
		return nil
	})
}

func (m *Manager) StoragePoolIsActive(h driver.Pool) (bool, error) {
	var on bool
	err := m.withPool(h, func(p *pool) error { on = p.active; return nil })
	return on, err
}

func (m *Manager) StoragePoolIsPersistent(h driver.Pool) (bool, error) {
	var on bool
	err := m.withPool(h, func(p *pool) error { on = p.persistent; return nil })
	return on, err
}

func (m *Manager) StoragePoolNumOfVolumes(h driver.Pool) (int32, error) {
	var n int32
	err := m.withPool(h, func(p *pool) error {
		if !p.active {
			return errNotActive(p.def.name)
		}
		n = int32(len(p.vols))
		return nil
	})
	return n, err
}

// errFlags is virCheckFlags' error.
func errFlags(bad uint32, fn string) error {
	return errStorage(virerr.ErrInvalidArg, "unsupported flags (0x%x) in function %s", bad, fn)
}

// statPerms reads a path's permissions as libvirt reports them.
func statPerms(fi os.FileInfo) perms {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return noPerms
	}
	return perms{mode: int(st.Mode & 0o777), uid: int64(st.Uid), gid: int64(st.Gid)}
}
