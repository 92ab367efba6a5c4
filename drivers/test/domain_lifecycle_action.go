package test

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// lifecycleActionAllowed is virDomainDefLifecycleActionAllowed: the
// core-dump actions are for crashes only.
func lifecycleActionAllowed(typ, action uint32) error {
	if typ != 2 && action >= 4 {
		return virerr.New(virerr.FromDomain, virerr.ErrConfigUnsupported, "Lifecycle event '%s' doesn't support '%s' action",
			driver.LifecycleTypes[typ], driver.LifecycleActions[action])
	}
	return nil
}

func setLifecycle(def *conf.Domain, typ, action uint32) {
	a := driver.LifecycleActions[action]
	switch typ {
	case 0:
		def.OnPoweroff = a
	case 1:
		def.OnReboot = a
	case 2:
		def.OnCrash = a
	}
}

// DomainSetLifecycleAction is testDomainSetLifecycleAction.
func (in *instance) DomainSetLifecycleAction(d driver.Domain, typ, action uint32, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainSetLifecycleAction"); err != nil {
		return err
	}
	if err := lifecycleActionAllowed(typ, action); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		live, persistent, err := o.defs(flags)
		if err != nil {
			return err
		}
		for _, def := range []*conf.Domain{live, persistent} {
			if def != nil {
				setLifecycle(def, typ, action)
			}
		}
		return nil
	})
}
