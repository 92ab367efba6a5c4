package qemu

import (
	"context"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
)

// setupBalloon does what libvirt's qemuProcessSetupBalloon does once QEMU
// is up: the stats polling period of <memballoon><stats period>, which is
// no command-line option, and the balloon target of <currentMemory>.
// A failed period is only logged, as in libvirt.
func (d *Driver) setupBalloon(ctx context.Context, v *vm) error {
	v.mu.Lock()
	mon, live := v.mon, v.live
	v.mu.Unlock()
	if mon == nil || live == nil {
		return nil
	}
	m := live.Devices.MemBalloon
	if m == nil || m.Model == "none" || m.Alias == "" {
		return nil
	}
	if m.Period > 0 {
		if err := qmp.QOMSet(ctx, mon, "/machine/peripheral/"+m.Alias, "guest-stats-polling-interval", m.Period); err != nil {
			d.log.Warn("cannot set the balloon stats period", "domain", live.Name, "err", err)
		}
	}
	// A target of all the guest's memory is where QEMU's balloon starts
	// (no page ballooned out; QEMU caps the target at the RAM it has), so
	// that command would change nothing: it is left out, one monitor
	// round trip less on every plain guest's start, while QEMU still
	// competes for the CPU with the guests already running.
	if live.CurrentMemory == 0 || live.CurrentMemory >= live.Memory {
		return nil
	}
	if err := qmp.Balloon(ctx, mon, live.CurrentMemory*1024); err != nil {
		return qmpFailed("setting the balloon target", err)
	}
	return nil
}

// balloonChanged is qemuProcessHandleBalloonChange: the live
// <currentMemory> is what the guest's balloon driver reached (KiB), and
// clients get the balloon-change event.
func (d *Driver) balloonChanged(v *vm, kib uint64) {
	d.modifyLive(v, func(l *conf.Domain) { l.CurrentMemory = kib })
	d.publishDomain(v, driver.EventIDBalloonChange, driver.BalloonChange{Actual: kib})
}

// refreshBalloon is qemuProcessRefreshBalloonState: the live
// <currentMemory> is the balloon's actual size from query-balloon (right
// after a start the guest has not run yet, so that is all its memory
// even when the target set above is lower; BALLOON_CHANGE brings it down
// as the guest gives pages back), or the whole <memory> without a
// balloon. Called once QEMU is set up, and after a daemon restart (a
// BALLOON_CHANGE may have come while no daemon listened).
func (d *Driver) refreshBalloon(ctx context.Context, v *vm) error {
	v.mu.Lock()
	mon, live := v.mon, v.live
	v.mu.Unlock()
	if mon == nil || live == nil {
		return nil
	}
	if m := live.Devices.MemBalloon; m == nil || m.Model == "none" {
		if live.CurrentMemory != live.Memory {
			d.modifyLive(v, func(l *conf.Domain) { l.CurrentMemory = l.Memory })
		}
		return nil
	}
	b, err := qmp.QueryBalloon(ctx, mon)
	if err != nil {
		return qmpFailed("query-balloon", err)
	}
	if kib := b.Actual / 1024; kib != live.CurrentMemory {
		d.modifyLive(v, func(l *conf.Domain) { l.CurrentMemory = kib })
	}
	return nil
}
