package test

import (
	"strings"

	"govirt/driver"
	"govirt/virerr"
)

// DomainSetMemoryStatsPeriod sets the balloon's <stats period>.
func (in *instance) DomainSetMemoryStatsPeriod(d driver.Domain, period int32, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainSetMemoryStatsPeriod"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		mb := def.Devices.MemBalloon
		if mb == nil || mb.Model == "none" {
			return errInternal("No memory balloon device configured, can not set the collection period")
		}
		mb.Period = int(period)
		return nil
	})
}

// DomainRename renames a shut-off persistent domain, announcing the old
// name undefined and the new one defined (both "renamed").
func (in *instance) DomainRename(d driver.Domain, name string, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainRename"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		if o.active() {
			return errTest(virerr.ErrOperationInvalid, "cannot rename active domain")
		}
		if !o.persistent {
			return errTest(virerr.ErrOperationInvalid, "cannot rename a transient domain")
		}
		if o.state != driver.StateShutoff {
			return errTest(virerr.ErrOperationInvalid, "domain has to be shutoff before renaming")
		}
		if name == o.def.Name {
			return virerr.New(virerr.FromDomain, virerr.ErrOperationInvalid, "Can't rename domain to itself")
		}
		if in.domsByName[name] != nil {
			return virerr.New(virerr.FromDomain, virerr.ErrOperationInvalid, "domain with name '%s' already exists", name)
		}
		if strings.Contains(name, "/") {
			return errTest(virerr.ErrXMLError, "name %s cannot contain '/'", name)
		}
		in.lifecycle(o.handle(), driver.EventUndefined, driver.EventUndefinedRenamed)
		in.removeDom(o)
		o.def.Name = name
		if o.newDef != nil {
			o.newDef.Name = name
		}
		in.addDom(o)
		in.lifecycle(o.handle(), driver.EventDefined, driver.EventDefinedRenamed)
		return nil
	})
}
