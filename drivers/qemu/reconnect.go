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

// reconnectAll picks up the guests an earlier daemon left running, as
// libvirt's qemuProcessReconnectAll: what the status file says is put in
// place at once, with the guest's job held for the reconnection, and the
// rest (monitor, QEMU's run state, the recovery of an interrupted job,
// which may wait on a migration peer) goes on in the background, one
// goroutine per guest. The daemon opens its sockets right after: reads
// answer from the status while a guest is recovered, and operations that
// need its job wait for the reconnection as they would for any job. A
// QEMU that is slow to answer (frozen, or one of many on a busy host)
// never keeps the daemon from serving. A status without QEMU
// capabilities is reported and the guest left alone: re-probing could
// describe a different binary than the one running it.
func (d *Driver) reconnectAll(ctx context.Context) {
	for path, st := range d.readStatuses() {
		v, err := d.reconnectPrepare(st)
		if err != nil {
			d.log.Error("cannot reconnect to guest", "domain", st.Name, "status", path, "err", err)
		}
		if v == nil {
			continue
		}
		d.recovering.Add(1)
		d.recoveringWG.Add(1)
		go func() {
			defer d.recoveringWG.Done()
			defer d.recovering.Add(-1)
			if err := d.reconnectFinish(ctx, v, st); err != nil {
				d.log.Error("cannot reconnect to guest", "domain", st.Name, "status", path, "err", err)
			}
		}()
	}
}

// Recovering is the number of guests whose reconnection after a daemon
// restart is still in progress (the fault-injection suite waits for 0
// before it checks what the guests look like).
func (d *Driver) Recovering() int { return int(d.recovering.Load()) }

// WaitRecovered waits until every reconnection started by Start ended.
func (d *Driver) WaitRecovered() { d.recoveringWG.Wait() }

// reconnectOwner names the reconnection as the holder of a guest's job,
// after libvirt's thread function.
const reconnectOwner = "qemuProcessReconnect"

// migrationRecoveryOwner holds the job of a guest whose interrupted
// migration is being recovered.
const migrationRecoveryOwner = "migration recovery"

// endReconnectJob ends the job reconnectPrepare took for st's guest.
func endReconnectJob(v *vm, st *status) {
	if st.Migration != nil {
		v.endMigrationJob()
		return
	}
	v.job.end()
}

// reconnectPrepare registers what st says of its guest without talking
// to QEMU. It returns the guest, its job held, when reconnectFinish has
// work to do, or nil when the guest needs nothing more.
func (d *Driver) reconnectPrepare(st *status) (*vm, error) {
	u, err := uuid.Parse(st.UUID)
	if err != nil {
		return nil, err
	}
	live, err := conf.ParseDomain([]byte(st.LiveXML), conf.ParseLive)
	if err != nil {
		return nil, fmt.Errorf("live XML: %w", err)
	}
	v := d.doms.byNameLookup(st.Name)
	if v == nil {
		v = newVM(live, false)
		if err := d.doms.add(v); err != nil {
			return nil, err
		}
	}
	if v.uuid != u {
		return nil, fmt.Errorf("status uuid %s does not match the definition's %s", u, v.uuid)
	}
	qc, qcJSON, err := d.capsBlobs.fromStatus(st)
	if err != nil {
		return nil, fmt.Errorf("QEMU capabilities in status: %w", err)
	}
	if qc == nil {
		// Keep the guest visible and untouched, with the reason on record.
		msg := fmt.Sprintf("status of domain '%s' has no QEMU capabilities; govirtd will not manage the running QEMU (pid %d)", st.Name, st.PID)
		v.mu.Lock()
		v.live, v.id, v.brokenMsg = live, d.doms.assignID(v, st.ID), msg
		v.setState(st.State, st.Reason)
		v.mu.Unlock()
		return nil, fmt.Errorf("%s", msg)
	}
	// No client is connected yet: the job is free. The job of a guest
	// whose migration was interrupted is that migration's, as libvirt
	// restores the async job before it reconnects: a peer daemon that
	// asks about the guest meanwhile must hear that it is migrating,
	// not that this side owns it.
	if st.Migration != nil {
		kind := asyncMigrationOut
		if st.Migration.Incoming {
			kind = asyncMigrationIn
		}
		if err := v.beginMigrationJob(context.Background(), kind, migrationRecoveryOwner); err != nil {
			return nil, err
		}
	} else if err := v.job.begin(context.Background(), jobModify, reconnectOwner); err != nil {
		return nil, err
	}
	if st.State == driver.StatePaused && st.Reason == driver.PausedStartingUp {
		// The daemon died mid-start: reconnectFinish kills the
		// half-started QEMU. Until then the guest shows as defined.
		return v, nil
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
		endReconnectJob(v, st)
		d.dropIfTransient(v)
		return nil, nil
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
	v.mu.Unlock()
	return v, nil
}

// reconnectFinish is the part of a guest's reconnection that talks to its
// QEMU (and maybe to a migration peer), run with the guest's job held by
// reconnectPrepare; it ends the job, or leaves it to the recovery of an
// interrupted migration that goes on asking the peer.
func (d *Driver) reconnectFinish(ctx context.Context, v *vm, st *status) error {
	handedOff := false
	defer func() {
		if !handedOff {
			endReconnectJob(v, st)
		}
	}()
	if st.State == driver.StatePaused && st.Reason == driver.PausedStartingUp {
		// Finish the job the earlier daemon could not, as libvirt does,
		// by killing the half-started QEMU.
		killed := killMonitorUsers(st.Monitor)
		d.removeStatus(v)
		v.mu.Lock()
		v.setState(driver.StateShutoff, driver.ShutoffFailed)
		v.mu.Unlock()
		d.dropIfTransient(v)
		d.log.Warn("killed a guest left half-started by an earlier daemon", "domain", st.Name, "pids", killed)
		return nil
	}
	v.mu.Lock()
	proc, id, live := v.proc, v.id, v.live
	v.mu.Unlock()
	d.findCgroup(v, proc.pid, id, st.Name)
	d.reclaimPorts(live)
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
	// As qemuProcessReconnect: bindings kept from before stay, missing
	// ones are made again, failures only logged.
	_ = d.bindGuestFilters(st.Name, v.uuid, live, true)
	if err := d.refreshBalloon(ctx, v); err != nil {
		d.log.Warn("cannot read the balloon after reconnect", "domain", st.Name, "err", err)
	}
	handedOff = d.recoverJob(ctx, v, st)
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
