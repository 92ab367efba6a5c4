package qemu

import (
	"errors"
	"time"

	"govirt/driver"
	"govirt/drivers/qemu/agent"
	"govirt/virerr"
)

// Shutdown and reboot by guest agent (guest-shutdown), and the choice
// between agent and ACPI as qemuDomainShutdownFlags/qemuDomainReboot
// make it: no flags prefers the agent when it is connected and falls
// back to ACPI; --mode agent alone uses only the agent (its errors are
// the call's); --mode agent,acpi tries the agent quietly, then ACPI.

// VIR_DOMAIN_SHUTDOWN_* and VIR_DOMAIN_REBOOT_* share these values.
const (
	powerACPI  = 1
	powerAgent = 2
)

// agentConnected: the guest has a connected agent (libvirt's
// priv->agent).
func agentConnectedNow(v *vm) bool {
	s := &v.ext.agent
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ag != nil
}

// agentPower is qemuDomainShutdownFlagsAgent / qemuDomainRebootAgent:
// guest-shutdown under the agent job.
func (c *conn) agentPower(v *vm, reboot, report bool) error {
	if err := v.beginAgentJob(c.waitCtx(), c.owner("shutdown")); err != nil {
		return err
	}
	defer v.endAgentJob()
	v.mu.Lock()
	running := v.active() && v.state == driver.StateRunning
	v.mu.Unlock()
	if !running {
		return errQEMU(virerr.ErrOperationInvalid, "domain is not running")
	}
	ag, err := v.agentAvailable()
	if err != nil {
		if !report {
			return errAgentQuiet
		}
		return err
	}
	v.mu.Lock()
	v.fakeReboot = false
	v.mu.Unlock()
	mode := "powerdown"
	if reboot {
		mode = "reboot"
	}
	// qemu-ga answers guest-shutdown only when it fails; when it works
	// the guest goes down and the agent's channel closes (libvirt's
	// await_event), which is success here. Wait as libvirt's
	// VIR_DOMAIN_QEMU_AGENT_COMMAND_SHUTDOWN (60 s).
	err = ag.CommandTimeout(c.waitCtx(), "guest-shutdown", map[string]string{"mode": mode}, nil, agentShutdownWait)
	if errors.Is(err, agent.ErrClosed) {
		return nil
	}
	return agentErr(err)
}

const agentShutdownWait = 60 * time.Second

// errAgentQuiet is a failed agent check libvirt does not report (the
// ACPI fallback follows).
var errAgentQuiet = errQEMU(virerr.ErrAgentUnresponsive, "QEMU guest agent is not available")

func (c *conn) DomainShutdown(h driver.Domain, flags uint32) error {
	return c.powerCall(h, flags, false, "qemuDomainShutdownFlags")
}

func (c *conn) DomainReboot(h driver.Domain, flags uint32) error {
	return c.powerCall(h, flags, true, "qemuDomainReboot")
}

// powerCall picks agent and/or ACPI for shutdown (reboot false) or
// reboot, as libvirt; on_poweroff=restart and on_reboot=destroy are
// applied when the guest's event comes, so the agent's mode follows
// the call.
func (c *conn) powerCall(h driver.Domain, flags uint32, reboot bool, fn string) error {
	if flags&^(powerACPI|powerAgent) != 0 {
		return errFlagsFn(flags&^(powerACPI|powerAgent), fn)
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	agentReq, acpiReq := flags&powerAgent != 0, flags&powerACPI != 0
	useAgent := agentReq || (flags == 0 && agentConnectedNow(v))
	forced := agentReq && !acpiReq
	err = nil
	if useAgent {
		err = c.agentPower(v, reboot, forced)
		if err == nil || forced {
			return err
		}
		// The guest may have gone away by itself meanwhile.
		v.mu.Lock()
		active := v.active()
		v.mu.Unlock()
		if !reboot && !active {
			return nil
		}
	}
	if reboot {
		return c.rebootACPI(h)
	}
	return c.shutdownACPI(h)
}
