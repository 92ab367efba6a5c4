package conf

import (
	"bytes"
	"slices"

	"govirt/virerr"
)

// RawDevice is a device of a kind without a typed list (hostdev,
// filesystem, sound, ...), as ParseDevice returns it. Its XML is kept
// whole and inserted or removed as is.
type RawDevice struct {
	Kind string // element name
	x    *node
}

// XML returns the device element.
func (r *RawDevice) XML() []byte { return writeTree(r.x) }

// ParseDevice reads a single device element, as attach-device and
// update-device pass it. Typed kinds come back as *Disk, *Interface, ...;
// other known device kinds as *RawDevice.
func ParseDevice(data []byte) (any, error) {
	n, err := parseTree(data, virerr.FromDomain, "(device_definition)")
	if err != nil {
		return nil, err
	}
	if dev := deviceFromNode(n); dev != nil {
		return dev, nil
	}
	if n.name != "emulator" && slices.Contains(childOrder["devices"], n.name) {
		return &RawDevice{Kind: n.name, x: n}, nil
	}
	return nil, virerr.New(virerr.FromDomain, virerr.ErrConfigUnsupported, "unknown device type '%s'", n.name)
}

// DiskByTarget returns the disk whose target dev is dev, or nil.
func (d *Domain) DiskByTarget(dev string) *Disk {
	for _, disk := range d.Devices.Disks {
		if disk.TargetDev == dev {
			return disk
		}
	}
	return nil
}

// AddDevice appends dev (as ParseDevice returns it) to the domain.
func (d *Domain) AddDevice(dev any) error {
	switch v := dev.(type) {
	case *Disk:
		if v.TargetDev != "" && d.DiskByTarget(v.TargetDev) != nil {
			return virerr.New(virerr.FromDomain, virerr.ErrOperationFailed, "target %s already exists", v.TargetDev)
		}
	case *MemBalloon:
		if d.Devices.MemBalloon != nil {
			return virerr.New(virerr.FromDomain, virerr.ErrOperationInvalid, "domain already has a memballoon device")
		}
	case *RawDevice:
		if d.x == nil {
			d.x = newElem("domain")
		}
		d.x.ensureChild("devices").insertRaw(v.x.clone())
		return nil
	}
	before := d.Devices
	d.Devices.add(dev)
	if devicesEqualLen(before, d.Devices) {
		return virerr.New(virerr.FromDomain, virerr.ErrConfigUnsupported, "unsupported device %T", dev)
	}
	return nil
}

// insertRaw places a device after the last one of its kind.
func (devs *node) insertRaw(c *node) {
	for i := len(devs.kids) - 1; i >= 0; i-- {
		if devs.kids[i].kind == elemNode && devs.kids[i].name == c.name {
			devs.kids = slices.Insert(devs.kids, i+1, c)
			return
		}
	}
	devs.insertChild(c)
}

func devicesEqualLen(a, b Devices) bool {
	return len(a.Disks) == len(b.Disks) && len(a.Controllers) == len(b.Controllers) &&
		len(a.Interfaces) == len(b.Interfaces) && len(a.Graphics) == len(b.Graphics) &&
		len(a.Serials) == len(b.Serials) && len(a.Consoles) == len(b.Consoles) &&
		len(a.Channels) == len(b.Channels) && len(a.Inputs) == len(b.Inputs) &&
		len(a.Videos) == len(b.Videos) && len(a.Sounds) == len(b.Sounds) &&
		len(a.Audios) == len(b.Audios) && a.MemBalloon == b.MemBalloon &&
		len(a.Watchdogs) == len(b.Watchdogs) && len(a.RNGs) == len(b.RNGs) &&
		len(a.Panics) == len(b.Panics)
}

// RemoveDevice removes dev from the domain. Devices are matched by
// identity first, then the way libvirt's detach matches them: disks by
// target, interfaces by MAC, controllers by type and index, raw devices
// by identical XML.
func (d *Domain) RemoveDevice(dev any) error {
	ds := &d.Devices
	ok := false
	switch v := dev.(type) {
	case *Disk:
		ds.Disks, ok = removeMatch(ds.Disks, v, func(a *Disk) bool { return v.TargetDev != "" && a.TargetDev == v.TargetDev })
	case *Interface:
		ds.Interfaces, ok = removeMatch(ds.Interfaces, v, func(a *Interface) bool { return v.MAC != "" && a.MAC == v.MAC })
	case *Controller:
		ds.Controllers, ok = removeMatch(ds.Controllers, v, func(a *Controller) bool { return a.Type == v.Type && a.Index == v.Index })
	case *Graphics:
		ds.Graphics, ok = removeMatch(ds.Graphics, v, func(a *Graphics) bool { return a.Type == v.Type })
	case *Chardev:
		for _, l := range []*[]*Chardev{&ds.Serials, &ds.Consoles, &ds.Channels} {
			if !ok {
				*l, ok = removeMatch(*l, v, func(a *Chardev) bool {
					return a.kind() == v.kind() && a.TargetType == v.TargetType && a.TargetPort == v.TargetPort && a.TargetName == v.TargetName
				})
			}
		}
	case *Input:
		ds.Inputs, ok = removeMatch(ds.Inputs, v, func(a *Input) bool { return a.Type == v.Type && a.Bus == v.Bus })
	case *Sound:
		ds.Sounds, ok = removeMatch(ds.Sounds, v, func(a *Sound) bool { return a.Model == v.Model })
	case *Audio:
		ds.Audios, ok = removeMatch(ds.Audios, v, func(a *Audio) bool { return a.ID == v.ID })
	case *Video:
		ds.Videos, ok = removeMatch(ds.Videos, v, func(a *Video) bool { return a.Model == v.Model })
	case *MemBalloon:
		ok = ds.MemBalloon != nil
		ds.MemBalloon = nil
	case *Watchdog:
		ds.Watchdogs, ok = removeMatch(ds.Watchdogs, v, func(a *Watchdog) bool { return a.Model == v.Model })
	case *RNG:
		ds.RNGs, ok = removeMatch(ds.RNGs, v, func(a *RNG) bool { return a.Model == v.Model && a.Backend == v.Backend })
	case *Panic:
		ds.Panics, ok = removeMatch(ds.Panics, v, func(a *Panic) bool { return a.Model == v.Model })
	case *RawDevice:
		devs := d.x.child("devices")
		want := writeTree(v.x)
		for _, k := range devs.childrenNamed(v.Kind) {
			if bytes.Equal(writeTree(k), want) {
				devs.removeChild(k)
				ok = true
				break
			}
		}
	}
	if !ok {
		return virerr.New(virerr.FromDomain, virerr.ErrDeviceMissing, "matching device not found")
	}
	return nil
}

func removeMatch[T any](list []*T, v *T, match func(*T) bool) ([]*T, bool) {
	if i := slices.Index(list, v); i >= 0 {
		return slices.Delete(list, i, i+1), true
	}
	if i := slices.IndexFunc(list, match); i >= 0 {
		return slices.Delete(list, i, i+1), true
	}
	return list, false
}
