package qemu

import (
	"context"
	"fmt"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/uuid"
)

// reconnectAll picks up the guests an earlier daemon left running: for
// each status file, check the process, reconnect the monitor, refresh the
// state from QEMU. A status without QEMU capabilities is reported and the
// guest left alone: re-probing could describe a different binary than the
// one running it.
func (d *Driver) reconnectAll(ctx context.Context) {
	for path, st := range d.readStatuses() {
		if err := d.reconnect(ctx, st); err != nil {
			d.log.Error("cannot reconnect to guest", "domain", st.Name, "status", path, "err", err)
		}
	}
}

func (d *Driver) reconnect(ctx context.Context, st *status) error {
	u, err := uuid.Parse(st.UUID)
	if err != nil {
		return err
	}
	live, err := conf.ParseDomain([]byte(st.LiveXML), conf.ParseLive)
	if err != nil {
		return fmt.Errorf("live XML: %w", err)
	}
	v := d.doms.byNameLookup(st.Name)
	if v == nil {
		v = newVM(live, false)
		if err := d.doms.add(v); err != nil {
			return err
		}
	}
	if v.uuid != u {
		return fmt.Errorf("status uuid %s does not match the definition's %s", u, v.uuid)
	}
	qc, qcJSON, err := d.capsBlobs.fromStatus(st)
	if err != nil {
		return fmt.Errorf("QEMU capabilities in status: %w", err)
	}
	if qc == nil {
		// Keep the guest visible and untouched, with the reason on record.
		msg := fmt.Sprintf("status of domain '%s' has no QEMU capabilities; govirtd will not manage the running QEMU (pid %d)", st.Name, st.PID)
		v.mu.Lock()
		v.live, v.id, v.brokenMsg = live, d.doms.assignID(v, st.ID), msg
		v.setState(st.State, st.Reason)
		v.mu.Unlock()
		return fmt.Errorf("%s", msg)
	}
	if st.State == driver.StatePaused && st.Reason == driver.PausedStartingUp {
		// The daemon died mid-start: finish the job it could not, as
		// libvirt does, by killing the half-started QEMU.
		killed := killMonitorUsers(st.Monitor)
		d.removeStatus(v)
		v.mu.Lock()
		v.setState(driver.StateShutoff, driver.ShutoffFailed)
		v.mu.Unlock()
		d.dropIfTransient(v)
		d.log.Warn("killed a guest left half-started by an earlier daemon", "domain", st.Name, "pids", killed)
		return nil
	}
	proc, err := adopt(st.PID, st.PIDStart)
	if err != nil {
		// QEMU died while we were away (or its pid now names another
		// process, which is left alone).
		d.removeStatus(v)
		d.log.Warn("guest stopped while govirtd was down", "domain", st.Name)
		v.mu.Lock()
		v.setState(driver.StateShutoff, driver.ShutoffCrashed)
		v.mu.Unlock()
		d.dropIfTransient(v)
		return nil
	}
	v.mu.Lock()
	v.live, v.proc, v.caps, v.capsJSON = live, proc, qc, qcJSON
	v.origCPU = []byte(st.OrigCPU)
	setVMAutoPlacement(v, numadFromStatus(st.Numad))
	if st.OrigCPU == "" {
		v.origCPU = nil
	}
	v.id = d.doms.assignID(v, st.ID)
	v.setState(st.State, st.Reason)
	v.fakeReboot, v.pausedShutdown, v.startedAt = st.FakeReboot, st.PausedShutdown, st.StartedAt
	v.newRun()
	id := v.id
	v.mu.Unlock()
	d.findCgroup(v, proc.pid, id, st.Name)
	if err := d.startPerf(v, live, proc.pid); err != nil {
		d.log.Warn("cannot reopen the guest's perf events", "domain", st.Name, "err", err)
	}
	mon, err := d.connectMonitor(ctx, v, st.Monitor, proc)
	if err != nil {
		v.mu.Lock()
		v.brokenMsg = fmt.Sprintf("cannot reconnect to the monitor of '%s': %v", st.Name, err)
		v.mu.Unlock()
		return err
	}
	v.mu.Lock()
	v.mon = mon
	v.mu.Unlock()
	d.refreshState(ctx, v)
	if st.AgentTimeout != nil {
		v.ext.agent.setTimeout(*st.AgentTimeout)
	}
	d.refreshChannelStates(ctx, v, false)
	if err := d.refreshBalloon(ctx, v); err != nil {
		d.log.Warn("cannot read the balloon after reconnect", "domain", st.Name, "err", err)
	}
	d.recoverJob(ctx, v, st)
	d.saveStatusLogged(v)
	return nil
}

// refreshState reads QEMU's run state after a reconnect, so events missed
// while the daemon was down do not leave a stale state.
func (d *Driver) refreshState(ctx context.Context, v *vm) {
	v.mu.Lock()
	mon := v.mon
	v.mu.Unlock()
	qs, err := qmp.QueryStatus(ctx, mon)
	if err != nil {
		d.log.Warn("query-status after reconnect", "domain", v.name, "err", err)
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case qs.Running && v.state != driver.StateRunning:
		v.setState(driver.StateRunning, driver.RunningUnpaused)
	case !qs.Running && v.state == driver.StateRunning:
		reason := driver.PausedUnknown
		switch qs.Status {
		case "io-error":
			reason = driver.PausedIOError
		case "watchdog":
			reason = driver.PausedWatchdog
		case "guest-panicked":
			v.setState(driver.StateCrashed, driver.CrashedPanicked)
			return
		case "shutdown":
			v.setState(driver.StateShutdown, driver.ShutdownUnknown)
			return
		}
		v.setState(driver.StatePaused, reason)
	}
}

// autostartAll starts the persistent guests marked autostart that are not
// already running.
func (d *Driver) autostartAll(ctx context.Context) {
	for _, v := range d.doms.all() {
		v.mu.Lock()
		want := v.autostart && !v.active()
		v.mu.Unlock()
		if !want {
			continue
		}
		if err := v.job.beginAsync(ctx, asyncStart, apiName("autostart"), defaultJobMask); err != nil {
			continue
		}
		if err := d.start(ctx, v, 0); err != nil {
			d.log.Error("autostart failed", "domain", v.name, "err", err)
		}
		v.job.endAsync()
	}
}

// killMonitorUsers kills the processes that use a half-started guest's
// monitor socket. The earlier daemon may have died while spawning QEMU:
// a child caught between fork and exec, or in exec, may not show the
// socket yet, so the scan is repeated for a moment after the last find.
func killMonitorUsers(path string) []int {
	var killed []int
	for quiet := 0; quiet < 5; {
		pids := pidsUsing(path)
		if len(pids) == 0 {
			quiet++
			time.Sleep(100 * time.Millisecond)
			continue
		}
		quiet = 0
		for _, pid := range pids {
			if start, err := procStartTime(pid); err == nil {
				if p, err := adopt(pid, start); err == nil {
					p.kill(killGrace)
					killed = append(killed, pid)
				}
			}
		}
	}
	return killed
}
