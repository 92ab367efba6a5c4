package test

import (
	"fmt"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// Flags the test driver accepts.
const (
	defineValidate  = 1 << 0   // VIR_DOMAIN_DEFINE_VALIDATE
	startValidate   = 1 << 4   // VIR_DOMAIN_START_VALIDATE
	destroyGraceful = 1 << 0   // VIR_DOMAIN_DESTROY_GRACEFUL
	rebootAllModes  = 1<<5 - 1 // ACPI, agent, initctl, signal, paravirt
)

// lifecycle publishes a lifecycle event; call with the write lock held so
// that events leave in the order the changes happened.
func (in *instance) lifecycle(h driver.Domain, event, detail int32) {
	in.bus.Publish(driver.DomainEvent{ID: driver.EventIDLifecycle, Dom: h, Event: event, Detail: detail})
}

// parseDomain reads a domain document and applies what the test driver
// adds on top of the generic defaults.
func parseDomain(xml string, validate bool) (*conf.Domain, error) {
	var pf conf.ParseFlags
	if validate {
		pf |= conf.ParseValidate
	}
	def, err := conf.ParseDomain([]byte(xml), pf)
	if err != nil {
		return nil, err
	}
	if err := prepareDef(def); err != nil {
		return nil, err
	}
	return def, nil
}

// prepareDef applies the test driver's own defaults: its default
// architecture is i686 and every interface gets a "testnetN" name.
func prepareDef(def *conf.Domain) error {
	applyDefaults(def)
	return generateIfnames(def)
}

// applyDefaults is what every parse of the test driver gets.
func applyDefaults(def *conf.Domain) {
	if def.OS.Arch == "" {
		def.OS.Arch = "i686"
	}
	if def.Type == "" {
		def.Type = "test"
	}
	def.ID = -1
}

// generateIfnames names every interface without a target "testnetN",
// with the lowest N not in use.
func generateIfnames(def *conf.Domain) error {
	used := map[string]bool{}
	for _, n := range def.Devices.Interfaces {
		if n.TargetDev != "" {
			used[n.TargetDev] = true
		}
	}
	next := 0
	for _, n := range def.Devices.Interfaces {
		if n.TargetDev != "" {
			continue
		}
		for ; next < 1024 && used[fmt.Sprintf("testnet%d", next)]; next++ {
		}
		if next >= 1024 {
			return errInternal("Exceeded max iface limit %d", 1024)
		}
		n.TargetDev = fmt.Sprintf("testnet%d", next)
		used[n.TargetDev] = true
	}
	return nil
}

// addDef is virDomainObjListAdd: it finds the domain the definition is
// for (by UUID, refusing a name clash) and installs def as its config
// (live=false) or as what it is about to run with (live=true). replaced
// tells whether an earlier config gave way, which decides between the
// DEFINED_UPDATED and DEFINED_ADDED events.
func (in *instance) addDef(def *conf.Domain, live bool) (o *domObj, replaced bool, err error) {
	if o = in.doms[def.UUID]; o != nil {
		if o.def.Name != def.Name {
			return nil, false, virerr.New(virerr.FromDomain, virerr.ErrOperationFailed,
				"domain '%s' is already defined with uuid %s", o.def.Name, o.def.UUID)
		}
		if live {
			if o.active() {
				return nil, false, virerr.New(virerr.FromDomain, virerr.ErrOperationInvalid,
					"domain '%s' is already active", o.def.Name)
			}
			if !o.persistent {
				return nil, false, virerr.New(virerr.FromDomain, virerr.ErrOperationInvalid,
					"domain '%s' is already being started", o.def.Name)
			}
		}
		switch {
		case o.active():
			replaced = o.newDef != nil
			o.newDef = def
		case live:
			if o.newDef == nil {
				o.newDef = o.def
			}
			o.def = def
		default:
			replaced = true
			o.def = def
		}
		return o, replaced, nil
	}
	if other := in.domsByName[def.Name]; other != nil {
		return nil, false, virerr.New(virerr.FromDomain, virerr.ErrOperationFailed,
			"domain '%s' already exists with uuid %s", def.Name, other.def.UUID)
	}
	o = newDomObj(def)
	in.addDom(o)
	return o, false, nil
}

// start is testDomainStartState: the domain gets the next id and, when
// persistent, a copy of its config to return to.
func (in *instance) start(o *domObj, reason int32) {
	o.state, o.reason = driver.StateRunning, reason
	o.id = in.nextID
	in.nextID++
	in.domsByID[o.id] = o
	if o.persistent && o.newDef == nil {
		o.newDef = o.def.Clone()
	}
	o.def.ID = int(o.id)
	o.managed = false
}

// stop is testDomainShutdownState plus the STOPPED event; drop also
// forgets a transient domain, which every caller but a snapshot revert
// wants. Like libvirt's, the event carries the definition the domain is
// left with: the config (id -1) when it had one, else its last live id.
func (in *instance) stop(o *domObj, reason, detail int32, drop bool) {
	delete(in.domsByID, o.id)
	h := o.handle()
	if o.newDef != nil {
		o.def = o.newDef
		o.newDef = nil
		h.ID = -1
	}
	o.def.ID = -1
	o.id = -1
	o.state, o.reason = driver.StateShutoff, reason
	in.lifecycle(h, driver.EventStopped, detail)
	if drop && !o.persistent {
		in.removeDom(o)
	}
}

func (in *instance) DomainDefineXML(xml string, flags uint32) (driver.Domain, error) {
	if err := checkFlags(flags, defineValidate, "testDomainDefineXMLFlags"); err != nil {
		return driver.Domain{}, err
	}
	def, err := parseDomain(xml, flags&defineValidate != 0)
	if err != nil {
		return driver.Domain{}, err
	}
	if strings.Contains(def.Name, "\n") {
		return driver.Domain{}, virerr.New(virerr.FromXML, virerr.ErrXMLDetail, "invalid char in name: \n")
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	o, replaced, err := in.addDef(def, false)
	if err != nil {
		return driver.Domain{}, err
	}
	o.persistent = true
	detail := driver.EventDefinedAdded
	if replaced {
		detail = driver.EventDefinedUpdated
	}
	in.lifecycle(o.handle(), driver.EventDefined, detail)
	return o.handle(), nil
}

// Undefine flags.
const (
	undefineManagedSave = 1 << 0
	undefineSnapshots   = 1 << 1
)

func (in *instance) DomainUndefine(d driver.Domain, flags uint32) error {
	if err := checkFlags(flags, undefineManagedSave|undefineSnapshots, "testDomainUndefineFlags"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		if o.managed && flags&undefineManagedSave == 0 {
			return errTest(virerr.ErrOperationInvalid, "Refusing to undefine while domain managed save image exists")
		}
		if n := o.snaps.count(); !o.active() && n > 0 && flags&undefineSnapshots == 0 {
			return errTest(virerr.ErrOperationInvalid, "cannot delete inactive domain with %d snapshots", n)
		}
		in.lifecycle(o.handle(), driver.EventUndefined, driver.EventUndefinedRemoved)
		o.managed = false
		if o.active() {
			o.persistent = false
		} else {
			in.removeDom(o)
		}
		return nil
	})
}

func (in *instance) DomainCreateXML(xml string, flags uint32) (driver.Domain, error) {
	if err := checkFlags(flags, startValidate, "testDomainCreateXML"); err != nil {
		return driver.Domain{}, err
	}
	def, err := parseDomain(xml, flags&startValidate != 0)
	if err != nil {
		return driver.Domain{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	o, _, err := in.addDef(def, true)
	if err != nil {
		return driver.Domain{}, err
	}
	in.start(o, driver.RunningBooted)
	in.lifecycle(o.handle(), driver.EventStarted, driver.EventStartedBooted)
	return o.handle(), nil
}

func (in *instance) DomainCreate(d driver.Domain, flags uint32) (driver.Domain, error) {
	if err := checkFlags(flags, 0, "testDomainCreateWithFlags"); err != nil {
		return driver.Domain{}, err
	}
	var h driver.Domain
	err := in.updateDom(d, func(o *domObj) error {
		if o.state != driver.StateShutoff {
			return errInternal("Domain '%s' is already running", d.Name)
		}
		in.start(o, driver.RunningBooted)
		h = o.handle()
		in.lifecycle(h, driver.EventStarted, driver.EventStartedBooted)
		return nil
	})
	return h, err
}

func (in *instance) DomainDestroy(d driver.Domain, flags uint32) error {
	if err := checkFlags(flags, destroyGraceful, "testDomainDestroyFlags"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		in.stop(o, driver.ShutoffDestroyed, driver.EventStoppedDestroyed, true)
		return nil
	})
}

// lifecycleAction is testDomainActionSetState: restart actions keep the
// guest running, every other action shuts it off.
func lifecycleActionStops(action string) bool {
	return action != "restart" && action != "rename-restart"
}

func (in *instance) DomainShutdown(d driver.Domain, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainShutdownFlags"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		if o.state == driver.StateShutoff {
			return errInternal("domain '%s' not running", d.Name)
		}
		in.applyAction(o, o.def.OnPoweroff)
		return nil
	})
}

// DomainReboot follows the domain's on_reboot action, as the test driver
// does: "restart" (the default) leaves it running with reason booted and
// emits nothing; a destroying action shuts it off.
func (in *instance) DomainReboot(d driver.Domain, flags uint32) error {
	if err := checkFlags(flags, rebootAllModes, "testDomainReboot"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		action := o.def.OnReboot
		if action == "" {
			action = "restart"
		}
		in.applyAction(o, action)
		return nil
	})
}

func (in *instance) applyAction(o *domObj, action string) {
	if lifecycleActionStops(action) {
		in.stop(o, driver.ShutoffShutdown, driver.EventStoppedShutdown, true)
		return
	}
	o.state, o.reason = driver.StateRunning, driver.RunningBooted
}

func (in *instance) DomainReset(d driver.Domain, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainReset"); err != nil {
		return err
	}
	return in.withDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		return nil
	})
}

func (in *instance) DomainSuspend(d driver.Domain) error {
	return in.updateDom(d, func(o *domObj) error {
		if o.state == driver.StateShutoff || o.state == driver.StatePaused {
			return errInternal("domain '%s' not running", d.Name)
		}
		o.state, o.reason = driver.StatePaused, driver.PausedUser
		in.lifecycle(o.handle(), driver.EventSuspended, driver.EventSuspendedPaused)
		return nil
	})
}

func (in *instance) DomainResume(d driver.Domain) error {
	return in.updateDom(d, func(o *domObj) error {
		if o.state != driver.StatePaused {
			return errInternal("domain '%s' not paused", d.Name)
		}
		o.state, o.reason = driver.StateRunning, driver.RunningUnpaused
		in.lifecycle(o.handle(), driver.EventResumed, driver.EventResumedUnpaused)
		return nil
	})
}
