package qemu

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// Domain metadata (title, description, <metadata> elements) as libvirt's
// qemuDomainGetMetadata/qemuDomainSetMetadata: reads take no job, changes
// take a modify job, save the status or the definition, and emit the
// metadata-change event.

func errExclusiveAffect() error {
	return virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg,
		"Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive")
}

func errTransientConfig() error {
	return virerr.New(virerr.FromDomain, virerr.ErrOperationInvalid, "%s", "transient domains do not have any persistent config")
}

func (c *conn) DomainGetMetadata(h driver.Domain, typ int32, uri string, flags uint32) (string, error) {
	if flags&^(affectLive|affectConfig) != 0 {
		return "", errFlagsFn(flags&^(affectLive|affectConfig), "qemuDomainGetMetadata")
	}
	if flags&affectLive != 0 && flags&affectConfig != 0 {
		return "", errExclusiveAffect()
	}
	var def *conf.Domain
	err := c.withVM(h, func(v *vm) error {
		live, config, err := impact(flags, v.active())
		if err != nil {
			return err
		}
		switch {
		case config && v.def == nil:
			return errTransientConfig()
		case config:
			def = v.def
		case live:
			def = v.live
		}
		if def == nil {
			def = v.current()
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return def.GetMetadata(typ, uri)
}

func (c *conn) DomainSetMetadata(h driver.Domain, typ int32, metadata *string, key, uri string, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return errFlagsFn(flags&^(affectLive|affectConfig), "qemuDomainSetMetadata")
	}
	v, err := c.jobVM(h, "set metadata")
	if err != nil {
		return err
	}
	defer v.job.release()
	v.mu.Lock()
	active, def, liveDef := v.active(), v.def, v.live
	v.mu.Unlock()
	live, config, err := impact(flags, active)
	if err != nil {
		return err
	}
	if config && def == nil {
		return errTransientConfig()
	}
	// Both copies are changed before either is installed, so a refused
	// document changes nothing.
	var nl, nd *conf.Domain
	if live && liveDef != nil {
		nl = liveDef.Clone()
		if err := nl.SetMetadata(typ, metadata, key, uri); err != nil {
			return err
		}
	}
	if config {
		nd = def.Clone()
		if err := nd.SetMetadata(typ, metadata, key, uri); err != nil {
			return err
		}
	}
	if nl != nil {
		c.d.modifyLive(v, func(l *conf.Domain) { l.SetMetadata(typ, metadata, key, uri) })
	}
	if nd != nil {
		if err := c.d.publishConfig(v, nd); err != nil {
			return err
		}
	}
	ev := driver.MetadataChange{Type: typ}
	if typ == conf.MetadataElement {
		ev.URI = uri
	}
	v.mu.Lock()
	hd := v.handle()
	v.mu.Unlock()
	c.d.bus.Publish(driver.DomainEvent{ID: driver.EventIDMetadataChange, Dom: hd, Payload: ev})
	return nil
}
