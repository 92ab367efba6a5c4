package qemu

import (
	"context"

	"govirt/conf"
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// Define flags (virDomainDefineFlags) and undefine flags.
const (
	defineValidate      = 1 << 0
	undefineManagedSave = 1 << 0
	xmlInactive         = 1 << 1
	createValidateFlag  = 1 << 4
)

func (c *conn) ListAllDomains(flags uint32) ([]driver.Domain, error) {
	all := c.d.doms.all()
	out := make([]driver.Domain, 0, len(all))
	for _, v := range all {
		v.mu.Lock()
		facts := driver.ListFacts{Active: v.active(), Persistent: v.persistent, Autostart: v.autostart,
			State: v.state, ManagedSave: c.d.hasManagedSave(v.name)}
		h := v.handle()
		v.mu.Unlock()
		if driver.MatchList(flags, facts) {
			out = append(out, h)
		}
	}
	return out, nil
}

func (c *conn) LookupDomainByName(name string) (driver.Domain, error) {
	v := c.d.doms.byNameLookup(name)
	if v == nil {
		return driver.Domain{}, errNoDomainName(name)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.handle(), nil
}

func (c *conn) LookupDomainByUUID(u uuid.UUID) (driver.Domain, error) {
	v, err := c.d.doms.get(driver.Domain{UUID: u})
	if err != nil {
		return driver.Domain{}, virerr.New(virerr.FromQemu, virerr.ErrNoDomain, "no domain with matching uuid '%s'", u)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.handle(), nil
}

func (c *conn) LookupDomainByID(id int32) (driver.Domain, error) {
	c.d.doms.mu.RLock()
	v := c.d.doms.byID[id]
	c.d.doms.mu.RUnlock()
	if v == nil {
		return driver.Domain{}, virerr.New(virerr.FromQemu, virerr.ErrNoDomain, "no domain with matching id %d", id)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.handle(), nil
}

// parseDef reads a domain for this driver; validate applies libvirt's
// schema check (the VALIDATE flag of define and create).
func parseDef(xml string, validate bool) (*conf.Domain, error) {
	pf := conf.ParseFlags(0)
	if validate {
		pf |= conf.ParseValidate
	}
	def, err := conf.ParseDomain([]byte(xml), pf)
	if err != nil {
		return nil, err
	}
	if err := checkDomainType(def); err != nil {
		return nil, err
	}
	return def, nil
}

func (c *conn) DomainDefineXML(xml string, flags uint32) (driver.Domain, error) {
	def, err := parseDef(xml, flags&defineValidate != 0)
	if err != nil {
		return driver.Domain{}, err
	}
	d := c.d
	v := d.doms.byNameLookup(def.Name)
	detail := driver.EventDefinedUpdated
	if v == nil {
		v = newVM(def, true)
		if err := d.doms.add(v); err != nil {
			return driver.Domain{}, err
		}
		detail = driver.EventDefinedAdded
	} else if v.uuid != def.UUID {
		return driver.Domain{}, virerr.New(virerr.FromQemu, virerr.ErrOperationFailed,
			"domain '%s' is already defined with uuid %s", v.name, v.uuid)
	}
	if err := d.saveDef(def); err != nil {
		if detail == driver.EventDefinedAdded {
			d.doms.remove(v)
		}
		return driver.Domain{}, err
	}
	v.mu.Lock()
	v.def, v.persistent = def, true
	h := v.handle()
	v.mu.Unlock()
	d.bus.Publish(driver.DomainEvent{ID: driver.EventIDLifecycle, Dom: h, Event: driver.EventDefined, Detail: detail})
	return h, nil
}

// checkDomainType refuses domain types this driver cannot run.
func checkDomainType(def *conf.Domain) error {
	switch def.Type {
	case "qemu", "kvm":
		return nil
	}
	return virerr.New(virerr.FromQemu, virerr.ErrConfigUnsupported,
		"Emulator '%s' does not support virt type '%s'", "/usr/bin/qemu-system-x86_64", def.Type)
}

func (c *conn) DomainUndefine(h driver.Domain, flags uint32) error {
	d := c.d
	v, err := c.jobVM(h, "undefine")
	if err != nil {
		return err
	}
	defer v.job.release()
	v.mu.Lock()
	if !v.persistent {
		v.mu.Unlock()
		return errQEMU(virerr.ErrOperationInvalid, "cannot undefine transient domain")
	}
	name := v.name
	v.mu.Unlock()
	if d.hasManagedSave(name) {
		if flags&undefineManagedSave == 0 {
			return errQEMU(virerr.ErrOperationInvalid, "Refusing to undefine while domain managed save image exists")
		}
		d.removeManagedSave(name)
	}
	if err := d.removeDef(name); err != nil {
		return err
	}
	v.mu.Lock()
	v.persistent, v.def, v.autostart = false, nil, false
	hd := v.handle()
	v.mu.Unlock()
	d.bus.Publish(driver.DomainEvent{ID: driver.EventIDLifecycle, Dom: hd, Event: driver.EventUndefined, Detail: driver.EventUndefinedRemoved})
	d.dropIfTransient(v)
	return nil
}

func (c *conn) DomainCreateXML(xml string, flags uint32) (driver.Domain, error) {
	def, err := parseDef(xml, flags&createValidateFlag != 0)
	if err != nil {
		return driver.Domain{}, err
	}
	d := c.d
	if o := d.doms.byNameLookup(def.Name); o != nil {
		o.mu.Lock()
		active, ou := o.active(), o.uuid
		o.mu.Unlock()
		if active {
			return driver.Domain{}, virerr.New(virerr.FromQemu, virerr.ErrOperationInvalid, "domain '%s' is already active", def.Name)
		}
		if ou != def.UUID {
			return driver.Domain{}, virerr.New(virerr.FromQemu, virerr.ErrOperationFailed, "domain '%s' already exists with uuid %s", def.Name, ou)
		}
	}
	v := newVM(def, false)
	if err := d.doms.add(v); err != nil {
		return driver.Domain{}, err
	}
	if err := v.job.acquire("create"); err != nil {
		return driver.Domain{}, err
	}
	defer v.job.release()
	if err := d.start(context.Background(), v, flags); err != nil {
		d.doms.remove(v)
		return driver.Domain{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.handle(), nil
}

func (c *conn) DomainCreate(h driver.Domain, flags uint32) (driver.Domain, error) {
	d := c.d
	v, err := c.jobVM(h, "start")
	if err != nil {
		return driver.Domain{}, err
	}
	defer v.job.release()
	if err := d.start(context.Background(), v, flags); err != nil {
		return driver.Domain{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.handle(), nil
}

func (c *conn) DomainDestroy(h driver.Domain, flags uint32) error {
	d := c.d
	v, err := d.doms.get(h)
	if err != nil {
		return err
	}
	// Ask QEMU to quit before waiting for the job, so an operation stuck
	// on this guest's monitor fails fast instead of blocking destroy.
	v.mu.Lock()
	if v.active() && v.brokenMsg == "" {
		v.beingDestroyed = true
		if v.proc != nil {
			v.proc.signal(15)
		}
	}
	v.mu.Unlock()
	if err := v.job.acquire("destroy"); err != nil {
		return err
	}
	defer v.job.release()
	return d.destroy(v, driver.ShutoffDestroyed, driver.EventStoppedDestroyed)
}
