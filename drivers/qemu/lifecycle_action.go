package qemu

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// virsh set-lifecycle-action as libvirt's qemuDomainSetLifecycleAction:
// the action is checked against every definition it changes (the QEMU
// driver's limits of qemuValidateLifecycleAction), a running guest's
// reboot action is handed to QEMU with set-action, and the live and
// persistent definitions record it. Poweroff and crash stay the driver's
// business: QEMU runs with -no-shutdown and the driver acts on the event.

// lifecycleOf returns def's action for a type with libvirt's defaults.
func lifecycleOf(def *conf.Domain, typ uint32) string {
	var a, dflt string
	switch typ {
	case 0:
		a, dflt = def.OnPoweroff, "destroy"
	case 1:
		a, dflt = def.OnReboot, "restart"
	default:
		a, dflt = def.OnCrash, "destroy"
	}
	if a == "" {
		return dflt
	}
	return a
}

func setLifecycleOf(def *conf.Domain, typ uint32, action string) {
	switch typ {
	case 0:
		def.OnPoweroff = action
	case 1:
		def.OnReboot = action
	default:
		def.OnCrash = action
	}
}

// validateLifecycle is qemuDomainSetLifecycleActionValidate.
func validateLifecycle(def *conf.Domain, typ uint32, action string) error {
	acts := [3]string{}
	for t := uint32(0); t < 3; t++ {
		acts[t] = lifecycleOf(def, t)
	}
	acts[typ] = action
	poweroff, reboot, crash := acts[0], acts[1], acts[2]
	switch {
	case poweroff == "rename-restart" || reboot == "rename-restart" || crash == "rename-restart":
		return errQEMU(virerr.ErrConfigUnsupported, "%s", "qemu driver doesn't support the 'rename-restart' action for 'on_reboot'/'on_poweroff'/'on_crash'")
	case poweroff == "preserve" || reboot == "preserve":
		return errQEMU(virerr.ErrConfigUnsupported, "%s", "qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'")
	case poweroff == "restart" && reboot == "destroy":
		return errQEMU(virerr.ErrConfigUnsupported, "%s", "qemu driver doesn't support 'onReboot' set to 'destroy and 'onPoweroff' set to 'reboot'")
	}
	return nil
}

func (c *conn) DomainSetLifecycleAction(h driver.Domain, typ, action uint32, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return errFlagsFn(flags&^(affectLive|affectConfig), "qemuDomainSetLifecycleAction")
	}
	act := driver.LifecycleActions[action]
	// virDomainDefLifecycleActionAllowed: core dumps are for crashes.
	if typ != 2 && (act == "coredump-destroy" || act == "coredump-restart") {
		return virerr.New(virerr.FromDomain, virerr.ErrConfigUnsupported, "Lifecycle event '%s' doesn't support '%s' action",
			driver.LifecycleTypes[typ], act)
	}
	v, err := c.jobVM(h, "set lifecycle action")
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
	if live && liveDef != nil {
		if err := validateLifecycle(liveDef, typ, act); err != nil {
			return err
		}
	}
	if config {
		if err := validateLifecycle(def, typ, act); err != nil {
			return err
		}
	}
	if live && liveDef != nil {
		if typ == 1 && lifecycleOf(liveDef, 1) != act && (act == "destroy" || act == "restart") {
			mon := c.monitorOf(v)
			if mon == nil {
				return errNotRunning()
			}
			reboot := map[string]string{"destroy": "shutdown", "restart": "reset"}[act]
			if err := mon.Execute(hotplugCtx(), "set-action", map[string]any{"reboot": reboot}, nil); err != nil {
				return qmpError(err)
			}
		}
		c.d.modifyLive(v, func(l *conf.Domain) { setLifecycleOf(l, typ, act) })
	}
	if config {
		nd := def.Clone()
		setLifecycleOf(nd, typ, act)
		if err := c.d.publishConfig(v, nd); err != nil {
			return err
		}
	}
	return nil
}
