package qemu

import (
	"context"
	"time"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// jobVM looks h up and acquires its job for op; the caller releases it.
func (c *conn) jobVM(h driver.Domain, op string) (*vm, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, err
	}
	if err := v.job.begin(c.waitCtx(), jobKindFor(op), c.owner(op)); err != nil {
		return nil, err
	}
	// The guest may have been undefined while this waited for the job.
	v.mu.Lock()
	err = v.goneErr()
	v.mu.Unlock()
	if err != nil {
		v.job.release()
		return nil, err
	}
	return v, nil
}

// jobKindFor is the libvirt job an operation takes: suspend its own (so a
// migration may allow it), reads query, everything else modify.
func jobKindFor(op string) jobKind {
	switch op {
	case "suspend":
		return jobSuspend
	case "screenshot", "disk errors", "migration query", "iothreadinfo":
		return jobQuery
	case "migration parameters":
		return jobMigrationOp
	}
	return jobModify
}

// withJob runs fn holding v's job, with the guest's monitor, after checking
// it is running and manageable.
func (c *conn) withJob(h driver.Domain, op string, fn func(v *vm, mon monitor) error) error {
	v, err := c.jobVM(h, op)
	if err != nil {
		return err
	}
	defer v.job.release()
	v.mu.Lock()
	active, mon, broken := v.active(), v.mon, v.brokenMsg
	v.mu.Unlock()
	if !active {
		return errNotRunning()
	}
	if broken != "" {
		return errQEMU(virerr.ErrOperationFailed, "%s", broken)
	}
	if mon == nil {
		return errQEMU(virerr.ErrOperationInvalid, "monitor of domain '%s' is not connected", h.Name)
	}
	return fn(v, mon)
}

func qmpFailed(op string, err error) error {
	return errQEMU(virerr.ErrOperationFailed, "%s failed: %v", op, err)
}

func (c *conn) shutdownACPI(h driver.Domain) error {
	return c.withJob(h, "shutdown", func(v *vm, mon monitor) error {
		v.mu.Lock()
		v.fakeReboot = false
		v.mu.Unlock()
		if err := qmp.SystemPowerdown(context.Background(), mon); err != nil {
			return qmpFailed("shutdown", err)
		}
		return nil
	})
}

// DomainReboot asks the guest to power off and turns the power-off into a
// reset (-no-shutdown keeps QEMU alive for it): libvirt's fake reboot.
func (c *conn) rebootACPI(h driver.Domain) error {
	return c.withJob(h, "reboot", func(v *vm, mon monitor) error {
		v.mu.Lock()
		v.fakeReboot = true
		v.mu.Unlock()
		if err := qmp.SystemPowerdown(context.Background(), mon); err != nil {
			v.mu.Lock()
			v.fakeReboot = false
			v.mu.Unlock()
			return qmpFailed("reboot", err)
		}
		c.d.saveStatusLogged(v)
		return nil
	})
}

func (c *conn) DomainReset(h driver.Domain, _ uint32) error {
	return c.withJob(h, "reset", func(v *vm, mon monitor) error {
		if err := qmp.SystemReset(context.Background(), mon); err != nil {
			return qmpFailed("reset", err)
		}
		return nil
	})
}

func (c *conn) DomainSuspend(h driver.Domain) error {
	return c.withJob(h, "suspend", func(v *vm, mon monitor) error {
		v.mu.Lock()
		if v.state == driver.StatePaused {
			v.mu.Unlock()
			return nil
		}
		v.pausedReason = driver.PausedUser
		v.mu.Unlock()
		if err := qmp.Stop(context.Background(), mon); err != nil {
			return qmpFailed("suspend", err)
		}
		c.waitState(v, driver.StatePaused)
		return nil
	})
}

func (c *conn) DomainResume(h driver.Domain) error {
	return c.withJob(h, "resume", func(v *vm, mon monitor) error {
		v.mu.Lock()
		st := v.state
		v.mu.Unlock()
		if st == driver.StateRunning {
			return errQEMU(virerr.ErrOperationInvalid, "domain is already running")
		}
		if st == driver.StatePMSuspended {
			return errQEMU(virerr.ErrOperationInvalid, "domain is pmsuspended")
		}
		return c.d.startCPUs(context.Background(), v, driver.RunningUnpaused)
	})
}

// waitState waits briefly for the event that confirms a transition, so a
// reply to the caller already reflects it; the event stays the authority.
func (c *conn) waitState(v *vm, want driver.State) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		v.mu.Lock()
		st := v.state
		v.mu.Unlock()
		if st == want {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}
