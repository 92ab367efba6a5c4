package qemu

import (
	"context"
	"govirt/drivers/qemu/command"
	"strings"

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

// ListAllDomains answers from the listing snapshot (list_snap.go); the
// unfiltered result is that snapshot's own slice, which callers only read.
func (c *conn) ListAllDomains(flags uint32) ([]driver.Domain, error) {
	s := c.d.listing()
	if flags == 0 {
		return s.doms, nil
	}
	out := make([]driver.Domain, 0, len(s.doms))
	for i, f := range s.facts {
		if driver.MatchList(flags, f) {
			out = append(out, s.doms[i])
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
	// libvirt's parser and validation refuse bad tunables at define.
	if _, err := command.ParseTunables(def); err != nil {
		return nil, err
	}
	if err := checkCPUElement(def); err != nil {
		return nil, err
	}
	return def, nil
}

func (c *conn) DomainDefineXML(xml string, flags uint32) (driver.Domain, error) {
	def, err := parseDef(xml, flags&defineValidate != 0)
	if err != nil {
		return driver.Domain{}, err
	}
	// qemuDomainDefineXMLFlags refuses newlines (virXMLCheckIllegalChars).
	if strings.Contains(def.Name, "\n") {
		return driver.Domain{}, virerr.New(virerr.FromXML, virerr.ErrXMLDetail, "invalid char in name: \n")
	}
	if err := c.d.validateGraphics(def); err != nil {
		return driver.Domain{}, err
	}
	if err := c.d.applyPostParse(def); err != nil {
		return driver.Domain{}, err
	}
	if err := c.d.validateCPUDef(def); err != nil {
		return driver.Domain{}, err
	}
	if err := c.d.validateDefine(def); err != nil {
		return driver.Domain{}, err
	}
	d := c.d
	var v *vm
	var h driver.Domain
	var detail int32
	d.defMu.Lock()
	defer d.defMu.Unlock()
	for {
		v = d.doms.byNameLookup(def.Name)
		detail = driver.EventDefinedUpdated
		if v == nil {
			v = newVM(def, true)
			if err := d.doms.add(v); err != nil {
				return driver.Domain{}, err
			}
			detail = driver.EventDefinedAdded
		} else if v.uuid != def.UUID {
			return driver.Domain{}, virerr.New(virerr.FromQemu, virerr.ErrOperationFailed,
				"domain '%s' already exists with uuid %s", v.name, v.uuid)
		}
		if err := d.saveDef(def); err != nil {
			if detail == driver.EventDefinedAdded {
				d.doms.remove(v)
			}
			return driver.Domain{}, err
		}
		v.mu.Lock()
		if v.removed.Load() {
			// Undefined (and its file removed) while this saved:
			// define anew, as if the undefine had come first.
			v.mu.Unlock()
			continue
		}
		v.def, v.persistent, v.last = def, true, def
		h = v.handle()
		v.mu.Unlock()
		break
	}
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
	name, pdef, active := v.name, v.def, v.active()
	v.mu.Unlock()
	if !active {
		if err := d.undefineSnapshots(v, name, flags); err != nil {
			return err
		}
	}
	if d.hasManagedSave(name) {
		if flags&undefineManagedSave == 0 {
			return errQEMU(virerr.ErrOperationInvalid, "Refusing to undefine while domain managed save image exists")
		}
		d.removeManagedSave(name)
	}
	platformCleanup, err := d.undefinePlatform(pdef, flags)
	if err != nil {
		return err
	}
	d.defMu.Lock()
	defer d.defMu.Unlock()
	if err := d.removeDef(name); err != nil {
		return err
	}
	v.mu.Lock()
	if v.def != nil {
		v.last = v.def
	}
	v.persistent, v.def, v.autostart = false, nil, false
	// An inactive guest goes now (dropIfTransient): nothing may act on
	// it from here on.
	if !v.active() {
		v.removed.Store(true)
	}
	hd := v.handle()
	v.mu.Unlock()
	platformCleanup()
	d.bus.Publish(driver.DomainEvent{ID: driver.EventIDLifecycle, Dom: hd, Event: driver.EventUndefined, Detail: driver.EventUndefinedRemoved})
	d.dropIfTransient(v)
	return nil
}

func (c *conn) DomainCreateXML(xml string, flags uint32) (driver.Domain, error) {
	def, err := parseDef(xml, flags&createValidateFlag != 0)
	if err != nil {
		return driver.Domain{}, err
	}
	if err := c.d.validateGraphics(def); err != nil {
		return driver.Domain{}, err
	}
	if err := c.d.applyPostParse(def); err != nil {
		return driver.Domain{}, err
	}
	if err := c.d.validateCPUDef(def); err != nil {
		return driver.Domain{}, err
	}
	if err := c.d.validateDefine(def); err != nil {
		return driver.Domain{}, err
	}
	d := c.d
	ctx := context.Background()
	if o := d.doms.byNameLookup(def.Name); o != nil {
		// virDomainObjListAdd with LIVE: an inactive guest of the same
		// name and uuid runs with this definition and keeps its own.
		if err := o.job.beginAsync(c.waitCtx(), asyncStart, c.owner("create"), defaultJobMask); err != nil {
			return driver.Domain{}, err
		}
		defer o.job.endAsync()
		o.mu.Lock()
		active, ou, gone := o.active(), o.uuid, o.removed.Load()
		if !active && ou == def.UUID && !gone {
			o.live = def
		}
		o.mu.Unlock()
		switch {
		case gone:
			return driver.Domain{}, errNoDomainUUID(ou.String(), def.Name)
		case active:
			return driver.Domain{}, virerr.New(virerr.FromQemu, virerr.ErrOperationInvalid, "domain '%s' is already active", def.Name)
		case ou != def.UUID:
			return driver.Domain{}, virerr.New(virerr.FromQemu, virerr.ErrOperationFailed, "domain '%s' already exists with uuid %s", def.Name, ou)
		}
		if err := d.start(ctx, o, flags); err != nil {
			o.mu.Lock()
			if !o.active() {
				o.live = nil
			}
			o.mu.Unlock()
			return driver.Domain{}, err
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.handle(), nil
	}
	// The new guest's start job is taken before anyone can see it: a
	// second create of the same name finds it and must wait for this
	// start, not run it first (and have this one then drop a running
	// guest from the list).
	v := newVM(def, false)
	if err := v.job.beginAsync(ctx, asyncStart, c.owner("create"), defaultJobMask); err != nil {
		return driver.Domain{}, err
	}
	defer v.job.endAsync()
	if err := d.doms.add(v); err != nil {
		return driver.Domain{}, err
	}
	if err := d.start(ctx, v, flags); err != nil {
		d.dropIfTransient(v)
		return driver.Domain{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.handle(), nil
}

func (c *conn) DomainCreate(h driver.Domain, flags uint32) (driver.Domain, error) {
	d := c.d
	v, err := c.asyncVM(context.Background(), h, asyncStart, "start", defaultJobMask)
	if err != nil {
		return driver.Domain{}, err
	}
	defer v.job.endAsync()
	if err := d.start(context.Background(), v, flags); err != nil {
		return driver.Domain{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.handle(), nil
}

// DomainDestroy is libvirt's qemuProcessBeginStopJob then stop: QEMU is
// killed first, so an operation stuck on its monitor fails at once, then
// the destroy job is taken, which every async job allows and which never
// times out: destroy does not give up, nor leave a half-killed guest.
func (c *conn) DomainDestroy(h driver.Domain, flags uint32) error {
	d := c.d
	v, err := d.doms.get(h)
	if err != nil {
		return err
	}
	v.mu.Lock()
	var proc *process
	if v.active() && v.brokenMsg == "" {
		v.beingDestroyed = true
		proc = v.proc
	}
	v.mu.Unlock()
	if proc != nil {
		proc.kill(killGrace)
	}
	if err := v.job.begin(c.waitCtx(), jobDestroy, c.owner("destroy")); err != nil {
		return err
	}
	defer v.job.end()
	v.mu.Lock()
	err = v.goneErr()
	v.mu.Unlock()
	if err != nil {
		return err
	}
	return d.destroy(v, driver.ShutoffDestroyed, driver.EventStoppedDestroyed)
}
