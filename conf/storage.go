package conf

import (
	"slices"
	"strconv"
	"strings"

	"govirt/uuid"
	"govirt/virerr"
)

// StoragePool is a <pool> document. Sizes are bytes.
type StoragePool struct {
	Type          string
	Name          string
	UUID          uuid.UUID
	Capacity      uint64
	Allocation    uint64
	Available     uint64
	SourceName    string
	SourceDevices []string // <source><device path=''>
	SourceHost    string   // first <source><host name=''>
	SourceDir     string
	SourceFormat  string
	TargetPath    string
	x             *node
}

// ParseStoragePool reads a <pool> document.
func ParseStoragePool(data []byte, flags ParseFlags) (*StoragePool, error) {
	root, err := parseRoot(data, "pool", virerr.FromStorage, flags)
	if err != nil {
		return nil, err
	}
	p := &StoragePool{x: root, Type: root.attr("type")}
	p.SourceName = root.str("source/name")
	p.Name = root.str("name")
	if p.Name == "" {
		// Pools named by their source (logical, rbd, ...) may omit <name>.
		p.Name = p.SourceName
	}
	if p.Name == "" {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "missing pool source name element")
	}
	if strings.Contains(p.Name, "/") {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "name %s cannot contain '/'", p.Name)
	}
	if p.UUID, err = parseUUIDElem(root, virerr.FromStorage, virerr.ErrXMLError); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		dst  *uint64
	}{{"capacity", &p.Capacity}, {"allocation", &p.Allocation}, {"available", &p.Available}} {
		if *f.dst, err = storageSize(root, f.name); err != nil {
			return nil, err
		}
	}
	for _, d := range root.child("source").childrenNamed("device") {
		p.SourceDevices = append(p.SourceDevices, d.attr("path"))
	}
	p.SourceHost = root.str("source/host/@name")
	p.SourceDir = root.str("source/dir/@path")
	p.SourceFormat = root.str("source/format/@type")
	if p.SourceFormat == "" {
		p.SourceFormat = poolDefaultFormat[p.Type]
	}
	p.TargetPath = root.str("target/path")
	if p.TargetPath == "" && p.SourceName != "" {
		// libvirt derives these pools' target from the source name.
		switch p.Type {
		case "logical":
			p.TargetPath = "/dev/" + p.SourceName
		case "zfs":
			p.TargetPath = "/dev/zvol/" + p.SourceName
		}
	}
	return p, nil
}

// Format writes the document.
func (p *StoragePool) Format(flags FormatFlags) ([]byte, error) {
	root := cloneOr(p.x, "pool")
	root.put("@type", p.Type)
	if root.child("name") != nil || p.Name != p.SourceName {
		root.put("name", p.Name)
	}
	putUUID(root, p.UUID)
	// libvirt always writes the three sizes and an open <source>.
	putStorageSizeAlways(root, "capacity", p.Capacity)
	putStorageSizeAlways(root, "allocation", p.Allocation)
	putStorageSizeAlways(root, "available", p.Available)
	root.ensureChild("source").open = true
	root.put("source/name", p.SourceName)
	var cur []string
	src := root.child("source")
	for _, d := range src.childrenNamed("device") {
		cur = append(cur, d.attr("path"))
	}
	if !slices.Equal(cur, p.SourceDevices) {
		devs := make([]*node, len(p.SourceDevices))
		old := src.childrenNamed("device")
		for i, path := range p.SourceDevices {
			if i < len(old) {
				devs[i] = old[i]
			} else {
				devs[i] = newElem("device")
			}
			devs[i].setAttr("path", path)
		}
		root.ensureChild("source").fillSlots("device", devs)
	}
	root.put("source/host/@name", p.SourceHost)
	root.put("source/dir/@path", p.SourceDir)
	root.put("source/format/@type", p.SourceFormat)
	root.put("target/path", p.TargetPath)
	return writeTree(root), nil
}

// poolDefaultFormat is the source format libvirt assumes, by pool type,
// for pools whose source has one.
var poolDefaultFormat = map[string]string{"logical": "lvm2", "fs": "auto", "netfs": "auto", "disk": "unknown"}

// Clone returns a deep copy.
func (p *StoragePool) Clone() *StoragePool {
	if p == nil {
		return nil
	}
	c := *p
	c.SourceDevices = slices.Clone(p.SourceDevices)
	c.x = p.x.clone()
	return &c
}

// StorageVolume is a <volume> document. Sizes are bytes.
type StorageVolume struct {
	Type       string
	Name       string
	Key        string
	Capacity   uint64
	Allocation uint64
	Physical   uint64
	// CapacitySet tells whether <capacity> was written: creating a
	// volume requires it, describing a backing chain does not.
	CapacitySet   bool
	TargetPath    string
	TargetFormat  string
	BackingPath   string
	BackingFormat string
	x             *node
}

// ParseStorageVolume reads a <volume> document.
func ParseStorageVolume(data []byte, flags ParseFlags) (*StorageVolume, error) {
	root, err := parseRoot(data, "volume", virerr.FromStorage, flags)
	if err != nil {
		return nil, err
	}
	v := &StorageVolume{x: root, Type: root.attr("type")}
	if v.Type == "" {
		v.Type = "file"
	}
	if v.Name = root.str("name"); v.Name == "" {
		return nil, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "missing volume name element")
	}
	v.Key = root.str("key")
	for _, f := range []struct {
		name string
		dst  *uint64
	}{{"capacity", &v.Capacity}, {"allocation", &v.Allocation}, {"physical", &v.Physical}} {
		if *f.dst, err = storageSize(root, f.name); err != nil {
			return nil, err
		}
	}
	v.CapacitySet = root.child("capacity") != nil
	if root.child("allocation") == nil {
		// libvirt assumes a fully allocated volume.
		v.Allocation = v.Capacity
	}
	v.TargetPath = root.str("target/path")
	v.TargetFormat = root.str("target/format/@type")
	v.BackingPath = root.str("backingStore/path")
	v.BackingFormat = root.str("backingStore/format/@type")
	return v, nil
}

// Format writes the document.
func (v *StorageVolume) Format(flags FormatFlags) ([]byte, error) {
	root := cloneOr(v.x, "volume")
	root.put("@type", v.Type)
	root.put("name", v.Name)
	root.put("key", v.Key)
	// Capacity and allocation are always written, physical only when known.
	putStorageSizeAlways(root, "capacity", v.Capacity)
	putStorageSizeAlways(root, "allocation", v.Allocation)
	putStorageSize(root, "physical", v.Physical)
	root.put("target/path", v.TargetPath)
	root.put("target/format/@type", v.TargetFormat)
	root.put("backingStore/path", v.BackingPath)
	root.put("backingStore/format/@type", v.BackingFormat)
	return writeTree(root), nil
}

// Clone returns a deep copy.
func (v *StorageVolume) Clone() *StorageVolume {
	if v == nil {
		return nil
	}
	c := *v
	c.x = v.x.clone()
	return &c
}

// storageSize reads a scaled size element (default unit bytes).
func storageSize(root *node, name string) (uint64, error) {
	el := root.child(name)
	if el == nil {
		return 0, nil
	}
	b, err := scaledBytes(el.textContent(), el.attr("unit"), "bytes")
	if err != nil {
		return 0, virerr.New(virerr.FromStorage, virerr.ErrXMLError, "malformed %s element", name)
	}
	return b, nil
}

// putStorageSizeAlways writes a size even when it is 0.
func putStorageSizeAlways(root *node, name string, b uint64) {
	root.ensureChild(name)
	putStorageSize(root, name, b)
}

// putStorageSize writes a size as libvirt does, unit='bytes'.
func putStorageSize(root *node, name string, b uint64) {
	el := root.child(name)
	if el == nil {
		if b == 0 {
			return
		}
		el = root.ensureChild(name)
	}
	if el.attr("unit") != "bytes" {
		el.setAttr("unit", "bytes")
	}
	if v := strconv.FormatUint(b, 10); el.textContent() != v {
		el.setText(v)
	}
}
