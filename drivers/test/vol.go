package test

import (
	"sort"
	"sync"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// Volume types (virStorageVolType).
const (
	volFile    = 0
	volBlock   = 1
	volNetwork = 3
)

// volumeTypeForPool is what the test driver reports as a volume's type:
// decided by the pool, not by the volume's XML. -1 for unknown pools.
func volumeTypeForPool(typ string) int32 {
	switch typ {
	case "dir", "fs", "netfs", "vstorage":
		return volFile
	case "sheepdog", "iscsi-direct", "gluster", "rbd":
		return volNetwork
	case "logical", "disk", "mpath", "iscsi", "scsi", "zfs":
		return volBlock
	}
	return -1
}

// volObj is a volume. Its content lives in memory so that upload and
// download round-trip; dataMu lets a transfer run without holding the
// instance lock for the duration of a slow stream. def keeps what the
// XML said; the fields beside it are what the driver decided.
type volObj struct {
	name, key, path string
	def             *conf.StorageVolume
	fileFormat      string // <target><format type=''>
	capacity        uint64
	allocation      uint64

	dataMu sync.Mutex
	data   []byte
}

func (v *volObj) handle(pool string) driver.Vol {
	return driver.Vol{Pool: pool, Name: v.name, Key: v.key}
}

func parseVolume(p *poolObj, doc string, validate bool) (*volObj, error) {
	var pf conf.ParseFlags
	if validate {
		pf |= conf.ParseValidate
	}
	def, err := conf.ParseStorageVolume([]byte(doc), pf)
	if err != nil {
		return nil, err
	}
	if !def.CapacitySet {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "%s", "missing capacity element")
	}
	v := &volObj{name: def.Name, key: def.Key, path: def.TargetPath, def: def,
		fileFormat: def.TargetFormat, capacity: def.Capacity, allocation: def.Allocation}
	if v.fileFormat == "" && volumeTypeForPool(p.typ()) == volFile {
		v.fileFormat = "raw"
	}
	return v, nil
}

func (v *volObj) format() (string, error) {
	def := v.def.Clone()
	def.Key, def.TargetPath, def.TargetFormat = v.key, v.path, v.fileFormat
	def.Capacity, def.Allocation = v.capacity, v.allocation
	out, err := def.Format(0)
	return string(out), err
}

// addVol places a parsed volume in the pool; its path and key are the
// pool's target path and its name, as the test driver makes them.
func (p *poolObj) addVol(v *volObj) error {
	if p.vols[v.name] != nil {
		return errTest(virerr.ErrOperationFailed, "storage vol already exists")
	}
	if p.allocation+v.allocation > p.capacity {
		return errInternal("Not enough free space in pool for volume '%s'", v.name)
	}
	v.path = p.targetPath() + "/" + v.name
	v.key = v.path
	p.vols[v.name] = v
	p.allocation += v.allocation
	return nil
}

func (p *poolObj) vol(name string) (*volObj, error) {
	if v := p.vols[name]; v != nil {
		return v, nil
	}
	return nil, errTest(virerr.ErrNoStorageVol, "no storage vol with matching name '%s'", name)
}

// volFor resolves a volume handle through its (active) pool.
func (in *instance) volFor(h driver.Vol) (*poolObj, *volObj, error) {
	p, err := in.activePool(h.Pool)
	if err != nil {
		return nil, nil, err
	}
	v, err := p.vol(h.Name)
	return p, v, err
}

func (in *instance) StoragePoolListAllVolumes(h driver.Pool, flags uint32) ([]driver.Vol, error) {
	if err := checkFlags(flags, 0, "testStoragePoolListAllVolumes"); err != nil {
		return nil, err
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	p, err := in.poolByUUID(h.UUID)
	if err != nil {
		return nil, err
	}
	if !p.active {
		return nil, errTest(virerr.ErrOperationInvalid, "storage pool is not active")
	}
	out := make([]driver.Vol, 0, len(p.vols))
	for _, v := range p.vols {
		out = append(out, v.handle(p.name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (in *instance) LookupStorageVolByName(h driver.Pool, name string) (driver.Vol, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	p, v, err := in.volFor(driver.Vol{Pool: h.Name, Name: name})
	if err != nil {
		return driver.Vol{}, err
	}
	return v.handle(p.name), nil
}

// findVol searches the active pools, in name order for a stable answer.
func (in *instance) findVol(match func(*volObj) bool) (driver.Vol, bool) {
	names := make([]string, 0, len(in.pools))
	for n := range in.pools {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := in.pools[n]
		if !p.active {
			continue
		}
		for _, v := range p.vols {
			if match(v) {
				return v.handle(p.name), true
			}
		}
	}
	return driver.Vol{}, false
}

func (in *instance) LookupStorageVolByKey(key string) (driver.Vol, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if h, ok := in.findVol(func(v *volObj) bool { return v.key == key }); ok {
		return h, nil
	}
	return driver.Vol{}, errTest(virerr.ErrNoStorageVol, "no storage vol with matching key '%s'", key)
}

func (in *instance) LookupStorageVolByPath(path string) (driver.Vol, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if h, ok := in.findVol(func(v *volObj) bool { return v.path == path }); ok {
		return h, nil
	}
	return driver.Vol{}, errTest(virerr.ErrNoStorageVol, "no storage vol with matching path '%s'", path)
}

const volCreateValidate = 1 << 2 // VIR_STORAGE_VOL_CREATE_VALIDATE

func (in *instance) StorageVolCreateXML(h driver.Pool, xml string, flags uint32) (driver.Vol, error) {
	if err := checkFlags(flags, volCreateValidate, "testStorageVolCreateXML"); err != nil {
		return driver.Vol{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	p, err := in.activePool(h.Name)
	if err != nil {
		return driver.Vol{}, err
	}
	v, err := parseVolume(p, xml, flags&volCreateValidate != 0)
	if err != nil {
		return driver.Vol{}, err
	}
	if err := p.addVol(v); err != nil {
		return driver.Vol{}, err
	}
	return v.handle(p.name), nil
}

// StorageVolCreateXMLFrom creates the volume from XML like the test
// driver (which copies nothing) but also copies the source's content, so
// clones of uploaded volumes read back the same bytes.
func (in *instance) StorageVolCreateXMLFrom(h driver.Pool, xml string, clone driver.Vol, flags uint32) (driver.Vol, error) {
	if err := checkFlags(flags, volCreateValidate, "testStorageVolCreateXMLFrom"); err != nil {
		return driver.Vol{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	p, err := in.activePool(h.Name)
	if err != nil {
		return driver.Vol{}, err
	}
	v, err := parseVolume(p, xml, flags&volCreateValidate != 0)
	if err != nil {
		return driver.Vol{}, err
	}
	if p.vols[v.name] != nil {
		return driver.Vol{}, errTest(virerr.ErrOperationFailed, "storage vol already exists")
	}
	src, err := p.vol(clone.Name)
	if err != nil {
		return driver.Vol{}, err
	}
	if err := p.addVol(v); err != nil {
		return driver.Vol{}, err
	}
	src.dataMu.Lock()
	v.data = append([]byte(nil), src.data...)
	src.dataMu.Unlock()
	return v.handle(p.name), nil
}

func (in *instance) StorageVolDelete(h driver.Vol, flags uint32) error {
	if err := checkFlags(flags, 0, "testStorageVolDelete"); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	p, v, err := in.volFor(h)
	if err != nil {
		return err
	}
	p.allocation -= v.allocation
	delete(p.vols, v.name)
	return nil
}

func (in *instance) StorageVolGetInfo(h driver.Vol) (driver.VolInfo, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	p, v, err := in.volFor(h)
	if err != nil {
		return driver.VolInfo{}, err
	}
	return driver.VolInfo{Type: volumeTypeForPool(p.typ()), Capacity: v.capacity, Allocation: v.allocation}, nil
}

func (in *instance) StorageVolGetXMLDesc(h driver.Vol, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "testStorageVolGetXMLDesc"); err != nil {
		return "", err
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	_, v, err := in.volFor(h)
	if err != nil {
		return "", err
	}
	return v.format()
}

func (in *instance) StorageVolGetPath(h driver.Vol) (string, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	_, v, err := in.volFor(h)
	if err != nil {
		return "", err
	}
	return v.path, nil
}
