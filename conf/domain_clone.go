package conf

import "slices"

// Clone returns a deep copy sharing nothing with d.
func (d *Domain) Clone() *Domain {
	if d == nil {
		return nil
	}
	c := *d
	c.x = d.x.clone()
	c.OS.Boot = slices.Clone(d.OS.Boot)
	c.Features = slices.Clone(d.Features)
	if d.CPU != nil {
		cpu := *d.CPU
		c.CPU = &cpu
	}
	c.Devices = d.Devices.clone()
	return &c
}

// cloneList deep-copies a device list with the element's own copy function.
func cloneList[T any](in []*T, cp func(*T) *T) []*T {
	if in == nil {
		return nil
	}
	out := make([]*T, len(in))
	for i, v := range in {
		out[i] = cp(v)
	}
	return out
}

func (ds Devices) clone() Devices {
	c := ds
	c.Disks = cloneList(ds.Disks, (*Disk).Clone)
	c.Controllers = cloneList(ds.Controllers, func(v *Controller) *Controller { n := *v; n.x = v.x.clone(); return &n })
	c.Interfaces = cloneList(ds.Interfaces, func(v *Interface) *Interface { n := *v; n.x = v.x.clone(); return &n })
	c.Graphics = cloneList(ds.Graphics, func(v *Graphics) *Graphics { n := *v; n.x = v.x.clone(); return &n })
	cd := func(v *Chardev) *Chardev { n := *v; n.x = v.x.clone(); return &n }
	c.Serials = cloneList(ds.Serials, cd)
	c.Consoles = cloneList(ds.Consoles, cd)
	c.Channels = cloneList(ds.Channels, cd)
	c.Inputs = cloneList(ds.Inputs, func(v *Input) *Input { n := *v; n.x = v.x.clone(); return &n })
	c.Sounds = cloneList(ds.Sounds, func(v *Sound) *Sound { n := *v; n.x = v.x.clone(); return &n })
	c.Audios = cloneList(ds.Audios, func(v *Audio) *Audio { n := *v; n.x = v.x.clone(); return &n })
	c.Videos = cloneList(ds.Videos, func(v *Video) *Video { n := *v; n.x = v.x.clone(); return &n })
	if ds.MemBalloon != nil {
		m := *ds.MemBalloon
		m.x = ds.MemBalloon.x.clone()
		c.MemBalloon = &m
	}
	c.Watchdogs = cloneList(ds.Watchdogs, func(v *Watchdog) *Watchdog { n := *v; n.x = v.x.clone(); return &n })
	c.RNGs = cloneList(ds.RNGs, func(v *RNG) *RNG { n := *v; n.x = v.x.clone(); return &n })
	c.Panics = cloneList(ds.Panics, func(v *Panic) *Panic { n := *v; n.x = v.x.clone(); return &n })
	return c
}

// Clone returns a deep copy of the disk, backing chain included.
func (d *Disk) Clone() *Disk {
	n := *d
	n.Source = d.Source.clone()
	if d.Mirror != nil {
		m := *d.Mirror
		m.Source = d.Mirror.Source.clone()
		n.Mirror = &m
	}
	n.x = d.x.clone()
	return &n
}
