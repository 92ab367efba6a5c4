package test

import (
	"sort"

	"govirt/conf"
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// Every pool the test driver knows claims 100 GiB, whatever its XML says.
const defaultPoolCap = uint64(100) << 30

// poolObj is a storage pool. persistent stands for libvirt's config file:
// pools created from XML have none, which also forbids autostart. The
// sizes are the driver's: whatever the XML says, they are formatted from
// capacity and allocation here.
type poolObj struct {
	name       string
	uuid       uuid.UUID
	def        *conf.StoragePool
	capacity   uint64
	allocation uint64
	active     bool
	persistent bool
	autostart  bool
	vols       map[string]*volObj
}

func (p *poolObj) handle() driver.Pool { return driver.Pool{Name: p.name, UUID: p.uuid} }

func (p *poolObj) typ() string        { return p.def.Type }
func (p *poolObj) targetPath() string { return p.def.TargetPath }

func parsePool(doc string, validate bool) (*poolObj, error) {
	var pf conf.ParseFlags
	if validate {
		pf |= conf.ParseValidate
	}
	def, err := conf.ParseStoragePool([]byte(doc), pf)
	if err != nil {
		return nil, err
	}
	if def.Type == "" {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "%s", "storage pool missing type attribute")
	}
	if volumeTypeForPool(def.Type) < 0 {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrInternalError, "unknown storage pool type %s", def.Type)
	}
	if def.TargetPath == "" && volumeTypeForPool(def.Type) != volNetwork {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "%s", "missing storage pool target path")
	}
	return &poolObj{name: def.Name, uuid: def.UUID, def: def, vols: map[string]*volObj{}, capacity: defaultPoolCap}, nil
}

func (p *poolObj) format() (string, error) {
	def := p.def.Clone()
	def.Capacity, def.Allocation, def.Available = p.capacity, p.allocation, p.capacity-p.allocation
	out, err := def.Format(0)
	return string(out), err
}

func errNoPool(format string, args ...any) error {
	return errTest(virerr.ErrNoStoragePool, format, args...)
}

func (in *instance) poolByName(name string) (*poolObj, error) {
	if p := in.pools[name]; p != nil {
		return p, nil
	}
	return nil, errNoPool("no storage pool with matching name '%s'", name)
}

func (in *instance) poolByUUID(u uuid.UUID) (*poolObj, error) {
	for _, p := range in.pools {
		if p.uuid == u {
			return p, nil
		}
	}
	return nil, errNoPool("no storage pool with matching uuid '%s'", u)
}

// activePool and inactivePool are the test driver's FindActiveByName /
// FindInactiveByName.
func (in *instance) activePool(name string) (*poolObj, error) {
	p, err := in.poolByName(name)
	if err == nil && !p.active {
		err = errTest(virerr.ErrOperationInvalid, "storage pool '%s' is not active", name)
	}
	return p, err
}

func (in *instance) inactivePool(name string) (*poolObj, error) {
	p, err := in.poolByName(name)
	if err == nil && p.active {
		err = errTest(virerr.ErrOperationInvalid, "storage pool '%s' is active", name)
	}
	return p, err
}

func (in *instance) poolEvent(p *poolObj, ev int32) {
	in.bus.Publish(driver.PoolEvent{Pool: p.handle(), Event: ev})
}

// Pool list flags.
const (
	poolListInactive    = 1 << 0
	poolListActive      = 1 << 1
	poolListPersistent  = 1 << 2
	poolListTransient   = 1 << 3
	poolListAutostart   = 1 << 4
	poolListNoAutostart = 1 << 5
	poolListTypes       = uint32(0xffffffff) &^ 0x3f
)

var poolTypeBits = []string{"dir", "fs", "netfs", "logical", "disk", "iscsi", "scsi", "mpath", "rbd",
	"sheepdog", "gluster", "zfs", "vstorage", "iscsi-direct"}

func poolTypeMatches(flags uint32, typ string) bool {
	if flags&poolListTypes == 0 {
		return true
	}
	for i, t := range poolTypeBits {
		if t == typ && flags&(1<<(6+i)) != 0 {
			return true
		}
	}
	return false
}

func (in *instance) ListAllStoragePools(flags uint32) ([]driver.Pool, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	out := []driver.Pool{}
	for _, p := range in.pools {
		if pairMatch(flags, poolListActive, poolListInactive, p.active) &&
			pairMatch(flags, poolListPersistent, poolListTransient, p.persistent) &&
			pairMatch(flags, poolListAutostart, poolListNoAutostart, p.autostart) &&
			poolTypeMatches(flags, p.typ()) {
			out = append(out, p.handle())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (in *instance) LookupStoragePoolByName(name string) (driver.Pool, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	p, err := in.poolByName(name)
	if err != nil {
		return driver.Pool{}, err
	}
	return p.handle(), nil
}

func (in *instance) LookupStoragePoolByUUID(u uuid.UUID) (driver.Pool, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	p, err := in.poolByUUID(u)
	if err != nil {
		return driver.Pool{}, err
	}
	return p.handle(), nil
}

func (in *instance) LookupStoragePoolByVolume(v driver.Vol) (driver.Pool, error) {
	return in.LookupStoragePoolByName(v.Pool)
}

// addPool is virStoragePoolObjListAdd: a same-named pool with the same
// UUID gets the new definition, clashes are refused.
func (in *instance) addPool(def *poolObj, checkLive bool) (*poolObj, error) {
	if p := in.pools[def.name]; p != nil {
		if p.uuid != def.uuid {
			return nil, virerr.New(virerr.FromStorage, virerr.ErrOperationFailed,
				"pool '%s' is already defined with uuid %s", p.name, p.uuid)
		}
		if checkLive && p.active {
			return nil, virerr.New(virerr.FromStorage, virerr.ErrOperationInvalid, "pool is already active as '%s'", p.name)
		}
		p.def = def.def
		return p, nil
	}
	for _, p := range in.pools {
		if p.uuid == def.uuid {
			return nil, virerr.New(virerr.FromStorage, virerr.ErrOperationFailed,
				"pool '%s' already exists with uuid %s", def.name, p.uuid)
		}
	}
	in.pools[def.name] = def
	return def, nil
}

const poolDefineValidate = 1 << 0

func (in *instance) StoragePoolDefineXML(xml string, flags uint32) (driver.Pool, error) {
	if err := checkFlags(flags, poolDefineValidate, "testStoragePoolDefineXML"); err != nil {
		return driver.Pool{}, err
	}
	def, err := parsePool(xml, flags&poolDefineValidate != 0)
	if err != nil {
		return driver.Pool{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	p, err := in.addPool(def, false)
	if err != nil {
		return driver.Pool{}, err
	}
	p.capacity, p.allocation = defaultPoolCap, 0
	in.poolEvent(p, driver.PoolEventDefined)
	p.persistent = true
	return p.handle(), nil
}

func (in *instance) StoragePoolCreateXML(xml string, flags uint32) (driver.Pool, error) {
	if err := checkFlags(flags, 0, "testStoragePoolCreateXML"); err != nil {
		return driver.Pool{}, err
	}
	def, err := parsePool(xml, false)
	if err != nil {
		return driver.Pool{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	p, err := in.addPool(def, true)
	if err != nil {
		return driver.Pool{}, err
	}
	p.capacity, p.allocation = defaultPoolCap, 0
	p.persistent = false
	p.active = true
	in.poolEvent(p, driver.PoolEventStarted)
	return p.handle(), nil
}

func (in *instance) updatePool(name string, find func(string) (*poolObj, error), fn func(p *poolObj) error) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	p, err := find(name)
	if err != nil {
		return err
	}
	return fn(p)
}

func (in *instance) StoragePoolBuild(h driver.Pool, flags uint32) error {
	if err := checkFlags(flags, 0, "testStoragePoolBuild"); err != nil {
		return err
	}
	return in.updatePool(h.Name, in.inactivePool, func(p *poolObj) error {
		in.poolEvent(p, driver.PoolEventCreated)
		return nil
	})
}

func (in *instance) StoragePoolUndefine(h driver.Pool) error {
	return in.updatePool(h.Name, in.inactivePool, func(p *poolObj) error {
		in.poolEvent(p, driver.PoolEventUndefined)
		delete(in.pools, p.name)
		return nil
	})
}

func (in *instance) StoragePoolCreate(h driver.Pool, flags uint32) error {
	if err := checkFlags(flags, 0, "testStoragePoolCreate"); err != nil {
		return err
	}
	return in.updatePool(h.Name, in.inactivePool, func(p *poolObj) error {
		p.active = true
		in.poolEvent(p, driver.PoolEventStarted)
		return nil
	})
}

func (in *instance) StoragePoolDestroy(h driver.Pool) error {
	return in.updatePool(h.Name, in.activePool, func(p *poolObj) error {
		p.active = false
		in.poolEvent(p, driver.PoolEventStopped)
		if !p.persistent {
			delete(in.pools, p.name)
		}
		return nil
	})
}

// StoragePoolDelete only announces the deletion: volumes stay, as in the
// test driver.
func (in *instance) StoragePoolDelete(h driver.Pool, flags uint32) error {
	if err := checkFlags(flags, 0, "testStoragePoolDelete"); err != nil {
		return err
	}
	return in.updatePool(h.Name, in.inactivePool, func(p *poolObj) error {
		in.poolEvent(p, driver.PoolEventDeleted)
		return nil
	})
}

func (in *instance) StoragePoolRefresh(h driver.Pool, flags uint32) error {
	if err := checkFlags(flags, 0, "testStoragePoolRefresh"); err != nil {
		return err
	}
	return in.updatePool(h.Name, in.activePool, func(p *poolObj) error {
		in.bus.Publish(driver.PoolEvent{Pool: p.handle(), Refresh: true})
		return nil
	})
}

func (in *instance) readPool(name string, fn func(p *poolObj) error) error {
	in.mu.RLock()
	defer in.mu.RUnlock()
	p, err := in.poolByName(name)
	if err != nil {
		return err
	}
	return fn(p)
}

func (in *instance) StoragePoolGetInfo(h driver.Pool) (driver.PoolInfo, error) {
	var info driver.PoolInfo
	err := in.readPool(h.Name, func(p *poolObj) error {
		info = driver.PoolInfo{State: driver.PoolInactive, Capacity: p.capacity, Allocation: p.allocation,
			Available: p.capacity - p.allocation}
		if p.active {
			info.State = driver.PoolRunning
		}
		return nil
	})
	return info, err
}

func (in *instance) StoragePoolGetXMLDesc(h driver.Pool, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "testStoragePoolGetXMLDesc"); err != nil {
		return "", err
	}
	var s string
	err := in.readPool(h.Name, func(p *poolObj) error {
		var err error
		s, err = p.format()
		return err
	})
	return s, err
}

func (in *instance) StoragePoolGetAutostart(h driver.Pool) (bool, error) {
	var on bool
	err := in.readPool(h.Name, func(p *poolObj) error { on = p.persistent && p.autostart; return nil })
	return on, err
}

func (in *instance) StoragePoolSetAutostart(h driver.Pool, on bool) error {
	return in.updatePool(h.Name, in.poolByName, func(p *poolObj) error {
		if !p.persistent {
			return errTest(virerr.ErrInvalidArg, "pool has no config file")
		}
		p.autostart = on
		return nil
	})
}

func (in *instance) StoragePoolIsActive(h driver.Pool) (bool, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	p, err := in.poolByUUID(h.UUID)
	if err != nil {
		return false, err
	}
	return p.active, nil
}

func (in *instance) StoragePoolIsPersistent(h driver.Pool) (bool, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	p, err := in.poolByUUID(h.UUID)
	if err != nil {
		return false, err
	}
	return p.persistent, nil
}

func (in *instance) StoragePoolNumOfVolumes(h driver.Pool) (int32, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	p, err := in.activePool(h.Name)
	if err != nil {
		return 0, err
	}
	return int32(len(p.vols)), nil
}
