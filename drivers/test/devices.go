package test

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// Device changes are not part of libvirt 9.0's test driver (its public API
// answers VIR_ERR_NO_SUPPORT); govirt offers them on the definitions conf
// models, with libvirt's usual flag rules: "current" means live for a
// running domain and config otherwise, and both may be given at once.

// applyDevice parses doc once per definition it changes, so the live and
// the persistent definition never share a device.
func (in *instance) applyDevice(d driver.Domain, doc string, flags uint32, fname string,
	change func(def *conf.Domain, dev any) error) error {
	if err := checkFlags(flags, affectLive|affectConfig, fname); err != nil {
		return err
	}
	if _, err := conf.ParseDevice([]byte(doc)); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		live, pers, err := o.defs(flags)
		if err != nil {
			return err
		}
		// Check on copies first so a failure leaves both untouched.
		var next [2]*conf.Domain
		for i, def := range []*conf.Domain{live, pers} {
			if def == nil {
				continue
			}
			dev, _ := conf.ParseDevice([]byte(doc))
			next[i] = def.Clone()
			if err := change(next[i], dev); err != nil {
				return err
			}
		}
		if next[0] != nil {
			*live = *next[0]
		}
		if next[1] != nil {
			*pers = *next[1]
		}
		return nil
	})
}

func (in *instance) DomainAttachDeviceFlags(d driver.Domain, doc string, flags uint32) error {
	return in.applyDevice(d, doc, flags, "testDomainAttachDeviceFlags",
		func(def *conf.Domain, dev any) error {
			if err := def.AddDevice(dev); err != nil {
				return err
			}
			// A new interface gets its testnetN name like a defined one.
			return generateIfnames(def)
		})
}

func (in *instance) DomainDetachDeviceFlags(d driver.Domain, doc string, flags uint32) error {
	return in.applyDevice(d, doc, flags, "testDomainDetachDeviceFlags",
		func(def *conf.Domain, dev any) error { return def.RemoveDevice(dev) })
}

// DomainUpdateDeviceFlags changes a disk's media (source and tray), the
// update clients use for CD-ROMs.
func (in *instance) DomainUpdateDeviceFlags(d driver.Domain, doc string, flags uint32) error {
	return in.applyDevice(d, doc, flags, "testDomainUpdateDeviceFlags",
		func(def *conf.Domain, dev any) error {
			disk, ok := dev.(*conf.Disk)
			if !ok {
				return virerr.New(virerr.FromDomain, virerr.ErrConfigUnsupported, "device type '%T' cannot be updated", dev)
			}
			cur := def.DiskByTarget(disk.TargetDev)
			if cur == nil {
				return virerr.New(virerr.FromDomain, virerr.ErrDeviceMissing, "disk '%s' not found", disk.TargetDev)
			}
			cur.Source = disk.Source
			cur.Tray = disk.Tray
			return nil
		})
}
