package qemu

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// DomainDetachDeviceAlias is qemuDomainDetachDeviceAliasLiveAndConfig:
// the device whose <alias name> matches is removed from the persistent
// definition (where only user aliases, "ua-...", are kept) and/or
// unplugged from the running guest. The live unplug does not wait for
// the guest: QEMU's DEVICE_DELETED finishes it and sends the
// device-removed event, as in libvirt.
func (c *conn) DomainDetachDeviceAlias(h driver.Domain, alias string, flags uint32) error {
	if err := checkFlagsMask(flags, modifyLive|modifyConfig, "qemuDomainDetachDeviceAliasLiveAndConfig"); err != nil {
		return err
	}
	return c.deviceJob(h, "detach device", func(v *vm) error {
		flags, mon, err := modificationImpact(v, flags)
		if err != nil {
			return err
		}
		var newDef *conf.Domain
		if flags&modifyConfig != 0 {
			v.mu.Lock()
			newDef = v.def.Clone()
			v.mu.Unlock()
			dev, err := deviceByAlias(newDef, alias)
			if err != nil {
				return err
			}
			if err := detachConfig(newDef, dev); err != nil {
				return err
			}
		}
		if flags&modifyLive != 0 {
			v.mu.Lock()
			live := v.live
			v.mu.Unlock()
			if live == nil {
				return errNotRunning()
			}
			dev, err := deviceByAlias(live, alias)
			if err != nil {
				return err
			}
			if err := c.d.unplug(v, mon, dev, false); err != nil {
				return err
			}
		}
		if newDef != nil {
			return c.d.publishConfig(v, newDef)
		}
		return nil
	})
}

// deviceByAlias is virDomainDefFindDevice: the device of def whose
// <alias name> is alias, parsed on its own.
func deviceByAlias(def *conf.Domain, alias string) (any, error) {
	if devs := def.Tree().Child("devices"); devs != nil {
		for _, e := range devs.Children("") {
			a := e.Child("alias")
			if a == nil {
				continue
			}
			if n, _ := a.Attr("name"); n == alias {
				return conf.ParseDevice(e.XML())
			}
		}
	}
	return nil, errQEMU(virerr.ErrInternalError, "no device found with alias %s", alias)
}
