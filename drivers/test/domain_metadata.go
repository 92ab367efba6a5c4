package test

import (
	"govirt/conf"
	"govirt/driver"
)

// Domain metadata, as libvirt's testDomainGetMetadata and
// testDomainSetMetadata (virDomainObjGetMetadata/SetMetadata).

func (in *instance) DomainGetMetadata(d driver.Domain, typ int32, uri string, flags uint32) (string, error) {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainGetMetadata"); err != nil {
		return "", err
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	o, err := in.domFor(d)
	if err != nil {
		return "", err
	}
	def, _, err := o.oneDef(flags)
	if err != nil {
		return "", err
	}
	return def.GetMetadata(typ, uri)
}

func (in *instance) DomainSetMetadata(d driver.Domain, typ int32, metadata *string, key, uri string, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainSetMetadata"); err != nil {
		return err
	}
	var h driver.Domain
	err := in.updateDom(d, func(o *domObj) error {
		live, persistent, err := o.defs(flags)
		if err != nil {
			return err
		}
		for _, def := range []*conf.Domain{live, persistent} {
			if def == nil {
				continue
			}
			if err := def.SetMetadata(typ, metadata, key, uri); err != nil {
				return err
			}
		}
		h = o.handle()
		return nil
	})
	if err != nil {
		return err
	}
	ev := driver.MetadataChange{Type: typ}
	if typ == conf.MetadataElement {
		ev.URI = uri
	}
	in.bus.Publish(driver.DomainEvent{ID: driver.EventIDMetadataChange, Dom: h, Payload: ev})
	return nil
}
