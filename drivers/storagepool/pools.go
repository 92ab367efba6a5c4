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
// aside while it is active), clashes are refused. The caller holds mu and
// the operation lock of the same-named pool if there is one; a new record
// is returned with its operation lock taken.
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
		p.op.Lock()
		m.pools[def.name] = p
	} else if p.active {
		p.newDef = def
	} else {
		p.def = def
	}
	return p, nil
}

// claim takes the operation lock of the pool named def.name (waiting for
// what runs on it) and adds def with addPool. It returns the record,
// locked, and whether it existed before.
func (m *Manager) claim(def *poolDef, live bool) (*pool, bool, error) {
	m.load()
	for {
		m.mu.Lock()
		cur := m.pools[def.name]
		if cur == nil {
			p, err := m.addPool(def, live)
			m.mu.Unlock()
			return p, false, err
		}
		m.mu.Unlock()
		cur.op.Lock()
		m.mu.Lock()
		if m.pools[def.name] == cur {
			p, err := m.addPool(def, live)
			m.mu.Unlock()
			if err != nil {
				cur.op.Unlock()
			}
			return p, true, err
		}
		// Removed while this waited: look again.
		m.mu.Unlock()
		cur.op.Unlock()
	}
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
	p, existed, err := m.claim(def, false)
	if err != nil {
		return driver.Pool{}, err
	}
	defer p.op.Unlock()
	if err := m.saveConfig(def); err != nil {
		if !existed {
			m.forget(p)
		}
		return driver.Pool{}, err
	}
	m.mu.Lock()
	p.persistent = true
	h := p.handle()
	m.mu.Unlock()
	m.publish(h, driver.PoolEventDefined)
	return h, nil
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
	p, existed, err := m.claim(def, true)
	if err != nil {
		return driver.Pool{}, err
	}
	defer p.op.Unlock()
	if err := m.buildForCreate(def, flags); err == nil {
		err = m.start(p)
	}
	if err != nil {
		if !existed {
			m.forget(p)
		}
		return driver.Pool{}, err
	}
	return m.poolHandle(p), nil
}

// buildForCreate runs the build pool-create --build asks for.
func (m *Manager) buildForCreate(d *poolDef, flags uint32) error {
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
	return backendFor(d.typ).build(d, bflags)
}

// start starts the backend and reads the volumes; a pool whose scan
// fails is stopped again. The caller holds p.op; the commands run
// without mu.
func (m *Manager) start(p *pool) error {
	m.mu.Lock()
	d := p.def
	m.mu.Unlock()
	be := backendFor(d.typ)
	if err := be.start(d); err != nil {
		return err
	}
	apply, err := be.scan(m, d)
	if err != nil {
		_ = be.stop(d)
		return err
	}
	m.mu.Lock()
	p.active = true
	apply(p)
	d, h := p.def, p.handle()
	m.mu.Unlock()
	m.saveState(d)
	m.publish(h, driver.PoolEventStarted)
	return nil
}

// inactiveOp runs fn (build, delete) on an inactive pool without jobs,
// with its operation lock held.
func (m *Manager) inactiveOp(h driver.Pool, fn func(d *poolDef) error) error {
	p, err := m.lockPool(h)
	if err != nil {
		return err
	}
	defer p.op.Unlock()
	m.mu.Lock()
	d, active, jobs := p.def, p.active, p.jobs
	m.mu.Unlock()
	if active {
		return errStillActive(d.name)
	}
	if jobs > 0 {
		return errAsyncJobs(d.name)
	}
	return fn(d)
}

func (m *Manager) StoragePoolBuild(h driver.Pool, flags uint32) error {
	const known = buildRepair | buildResize | buildNoOverwrite | buildOverwrite
	if flags&^known != 0 {
		return errFlags(flags&^known, "storagePoolBuild")
	}
	p, err := m.lockPool(h)
	if err != nil {
		return err
	}
	defer p.op.Unlock()
	m.mu.Lock()
	d, active, ph := p.def, p.active, p.handle()
	m.mu.Unlock()
	if active {
		return errAlreadyActive(d.name)
	}
	if err := backendFor(d.typ).build(d, flags); err != nil {
		return err
	}
	m.publish(ph, driver.PoolEventCreated)
	return nil
}

func (m *Manager) StoragePoolUndefine(h driver.Pool) error {
	p, err := m.lockPool(h)
	if err != nil {
		return err
	}
	defer p.op.Unlock()
	m.mu.Lock()
	d, active, jobs, persistent, ph := p.def, p.active, p.jobs, p.persistent, p.handle()
	m.mu.Unlock()
	if active {
		return errStillActive(d.name)
	}
	if jobs > 0 {
		return errAsyncJobs(d.name)
	}
	if !persistent {
		return errStorage(virerr.ErrInternalError, "no config file for %s", d.name)
	}
	path, err := m.configPath(d.name)
	if err != nil {
		return err
	}
	if err := atomicfile.Remove(path); err != nil {
		return errSys(err, "cannot remove config for %s", d.name)
	}
	_ = m.setAutostartFile(d.name, false)
	m.publish(ph, driver.PoolEventUndefined)
	m.forget(p)
	return nil
}

func (m *Manager) StoragePoolCreate(h driver.Pool, flags uint32) error {
	const known = createWithBuild | createWithBuildOverwrite | createWithBuildNoOverwrite
	if flags&^known != 0 {
		return errFlags(flags&^known, "storagePoolCreate")
	}
	p, err := m.lockPool(h)
	if err != nil {
		return err
	}
	defer p.op.Unlock()
	m.mu.Lock()
	d, active := p.def, p.active
	m.mu.Unlock()
	if active {
		return errAlreadyActive(d.name)
	}
	if err := m.buildForCreate(d, flags); err != nil {
		return err
	}
	return m.start(p)
}

// stop is what destroy and a failed refresh do after the backend stopped:
// the state file goes, the record forgets its volumes, and a transient
// pool goes away. The caller holds p.op.
func (m *Manager) stop(p *pool) {
	m.mu.Lock()
	name, h := p.def.name, p.handle()
	m.mu.Unlock()
	m.removeState(name)
	m.publish(h, driver.PoolEventStopped)
	m.mu.Lock()
	m.stopped(p)
	persistent := p.persistent
	m.mu.Unlock()
	if !persistent {
		m.forget(p)
	}
}

func (m *Manager) StoragePoolDestroy(h driver.Pool) error {
	p, err := m.lockPool(h)
	if err != nil {
		return err
	}
	defer p.op.Unlock()
	m.mu.Lock()
	d, active, jobs := p.def, p.active, p.jobs
	m.mu.Unlock()
	if !active {
		return errNotActive(d.name)
	}
	if jobs > 0 {
		return errAsyncJobs(d.name)
	}
	if err := backendFor(d.typ).stop(d); err != nil {
		return err
	}
	m.stop(p)
	return nil
}

func (m *Manager) StoragePoolDelete(h driver.Pool, flags uint32) error {
	var ph driver.Pool
	err := m.inactiveOp(h, func(d *poolDef) error {
		if err := backendFor(d.typ).delete(d, flags); err != nil {
			return err
		}
		ph = driver.Pool{Name: d.name, UUID: d.uuid}
		return nil
	})
	if err == nil {
		m.publish(ph, driver.PoolEventDeleted)
	}
	return err
}

func (m *Manager) StoragePoolRefresh(h driver.Pool, flags uint32) error {
	if flags != 0 {
		return errFlags(flags, "storagePoolRefresh")
	}
	p, err := m.lockPool(h)
	if err != nil {
		return err
	}
	defer p.op.Unlock()
	m.mu.Lock()
	d, active, jobs := p.def, p.active, p.jobs
	m.mu.Unlock()
	if !active {
		return errNotActive(d.name)
	}
	if jobs > 0 {
		return errAsyncJobs(d.name)
	}
	be := backendFor(d.typ)
	apply, err := be.scan(m, d)
	if err != nil {
		// libvirt stops a pool it can no longer read.
		_ = be.stop(d)
		m.stop(p)
		return err
	}
	m.mu.Lock()
	apply(p)
	ph := p.handle()
	m.mu.Unlock()
	m.publishRefresh(ph)
	return nil
}

// statfsSizes reads a pool's sizes from its file system, as
// virStorageBackendRefreshLocal: available counts the root-reserved
// blocks (f_bfree), allocation is the rest.
func statfsSizes(target string) (poolSizes, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(target, &st); err != nil {
		return poolSizes{}, errSys(err, "cannot statvfs path '%s'", target)
	}
	var sz poolSizes
	sz.capacity = uint64(st.Frsize) * st.Blocks
	sz.available = uint64(st.Frsize) * st.Bfree
	sz.allocation = sz.capacity - sz.available
	return sz, nil
}

// poolView is what the pool reads need, copied under mu; sizes are read
// again (statfs) without it where the backend does so.
type poolView struct {
	def, newDef *poolDef
	active      bool
	sizes       poolSizes
}

func (m *Manager) view(h driver.Pool) (poolView, error) {
	var v poolView
	var p *pool
	err := m.withPool(h, func(pp *pool) error {
		p = pp
		v = poolView{def: pp.def, newDef: pp.newDef, active: pp.active, sizes: pp.sizes}
		return nil
	})
	if err != nil || !v.active {
		return v, err
	}
	if sz, ok, err := backendFor(v.def.typ).sizes(v.def); ok && err == nil {
		v.sizes = sz
		m.mu.Lock()
		if p.active && p.def == v.def {
			p.sizes = sz
		}
		m.mu.Unlock()
	}
	return v, nil
}

func (m *Manager) StoragePoolGetInfo(h driver.Pool) (driver.PoolInfo, error) {
	v, err := m.view(h)
	if err != nil {
		return driver.PoolInfo{}, err
	}
	info := driver.PoolInfo{State: driver.PoolInactive}
	if v.active {
		info.State = driver.PoolRunning
	}
	info.Capacity, info.Allocation, info.Available = v.sizes.capacity, v.sizes.allocation, v.sizes.available
	return info, nil
}

const xmlInactive = 1 << 0 // VIR_STORAGE_XML_INACTIVE

func (m *Manager) StoragePoolGetXMLDesc(h driver.Pool, flags uint32) (string, error) {
	if flags&^xmlInactive != 0 {
		return "", errFlags(flags&^xmlInactive, "storagePoolGetXMLDesc")
	}
	v, err := m.view(h)
	if err != nil {
		return "", err
	}
	def := v.def
	if flags&xmlInactive != 0 && v.newDef != nil {
		def = v.newDef
	}
	return def.format(v.sizes.capacity, v.sizes.allocation, v.sizes.available), nil
}

func (m *Manager) StoragePoolGetAutostart(h driver.Pool) (bool, error) {
	var on bool
	err := m.withPool(h, func(p *pool) error { on = p.autostart; return nil })
	return on, err
}

func (m *Manager) StoragePoolSetAutostart(h driver.Pool, on bool) error {
	p, err := m.lockPool(h)
	if err != nil {
		return err
	}
	defer p.op.Unlock()
	m.mu.Lock()
	name, persistent, cur := p.def.name, p.persistent, p.autostart
	m.mu.Unlock()
	if !persistent {
		return errStorage(virerr.ErrInternalError, "%s", "pool has no config file")
	}
	if on == cur {
		return nil
	}
	if err := m.setAutostartFile(name, on); err != nil {
		return errSys(err, "Failed to change autostart of pool '%s'", name)
	}
	m.mu.Lock()
	p.autostart = on
	m.mu.Unlock()
	return nil
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
