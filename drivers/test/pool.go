package test

import (
	"fmt"
	"sort"
	"strings"

	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// Every pool the test driver knows claims 100 GiB, whatever its XML says.
const defaultPoolCap = uint64(100) << 30

// poolObj is a storage pool. persistent stands for libvirt's config file:
// pools created from XML have none, which also forbids autostart.
type poolObj struct {
	name       string
	uuid       uuid.UUID
	typ        string
	source     *elem // <source>, kept as written plus defaults
	target     *elem // <target>, nil for pools without one
	capacity   uint64
	allocation uint64
	active     bool
	persistent bool
	autostart  bool
	vols       map[string]*volObj
}

func (p *poolObj) handle() driver.Pool { return driver.Pool{Name: p.name, UUID: p.uuid} }

func (p *poolObj) targetPath() string {
	if p.target == nil {
		return ""
	}
	return p.target.childText("path")
}

var poolSourceOrder = []string{"host", "device", "dir", "adapter", "name", "format", "initiator", "auth", "vendor", "product"}

func parsePool(doc string) (*poolObj, error) {
	root, err := parseElem([]byte(doc), virerr.FromStorage)
	if err != nil {
		return nil, err
	}
	if root.name != "pool" {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "unexpected root element <%s>, expecting <pool>", root.name)
	}
	p := &poolObj{typ: root.attr("type"), name: root.childText("name"), vols: map[string]*volObj{},
		capacity: defaultPoolCap}
	if p.typ == "" {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "%s", "storage pool missing type attribute")
	}
	if volumeTypeForPool(p.typ) < 0 {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrInternalError, "unknown storage pool type %s", p.typ)
	}
	if p.name == "" {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "%s", "missing pool source name element")
	}
	if s := root.childText("uuid"); s != "" {
		if p.uuid, err = uuid.Parse(s); err != nil {
			return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "%s", "unable to parse uuid")
		}
	} else {
		p.uuid = uuid.New()
	}
	p.source = root.child("source")
	if p.source == nil {
		p.source = &elem{name: "source"}
	}
	if p.typ == "logical" && p.source.child("format") == nil {
		p.source.kids = append(p.source.kids, &elem{name: "format", attrs: nil})
		p.source.child("format").setAttr("type", "lvm2")
	}
	p.source.sortKids(poolSourceOrder)
	p.target = root.child("target")
	if p.target == nil && volumeTypeForPool(p.typ) != volNetwork {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "%s", "missing storage pool target path")
	}
	return p, nil
}

func (p *poolObj) format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<pool type='%s'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n", p.typ, textEscaper.Replace(p.name), p.uuid)
	fmt.Fprintf(&b, "  <capacity unit='bytes'>%d</capacity>\n  <allocation unit='bytes'>%d</allocation>\n  <available unit='bytes'>%d</available>\n",
		p.capacity, p.allocation, p.capacity-p.allocation)
	keepOpen := map[string]bool{"source": true}
	p.source.write(&b, 1, keepOpen)
	if p.target != nil {
		p.target.write(&b, 1, nil)
	}
	b.WriteString("</pool>\n")
	return b.String()
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
			poolTypeMatches(flags, p.typ) {
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
		p.typ, p.source, p.target = def.typ, def.source, def.target
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
	def, err := parsePool(xml)
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
	def, err := parsePool(xml)
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
	err := in.readPool(h.Name, func(p *poolObj) error { s = p.format(); return nil })
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
