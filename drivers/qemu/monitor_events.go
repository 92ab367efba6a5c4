package qemu

import (
	"context"
	"encoding/json"
	"time"

	"govirt/driver"
	"govirt/qmp"
)

// handleEvent applies one QMP event to v. It runs on the monitor's event
// goroutine, one event at a time in QEMU's order; it only touches cached
// state and publishes, and hands anything needing the job to v's worker.
//
// The switch below is the one table of every QMP event the driver acts
// on and its handler. Events are decoded into qmp's typed structs; data
// that does not decode is logged and the event still handled with what
// did decode, as its name alone carries most of its meaning.
func (d *Driver) handleEvent(v *vm, name string, data json.RawMessage) {
	typed, err := qmp.DecodeEvent(qmp.Event{Name: name, Data: data})
	if err != nil {
		d.log.Warn("cannot decode QMP event", "domain", v.name, "event", name, "data", string(data), "err", err)
	}
	switch ev := typed.(type) {
	case *qmp.StopEvent:
		d.handleStop(v)
	case *qmp.ResumeEvent:
		d.handleResume(v)
	case *qmp.ShutdownEvent:
		d.handleShutdown(v, ev.Guest)
	case *qmp.ResetEvent:
		d.handleReset(v)
	case *qmp.PowerdownEvent:
		// Only a request to the guest; state follows SHUTDOWN.
	case *qmp.GuestPanickedEvent:
		v.work.submit(func() { d.guestPanicked(v) })
	case *qmp.WatchdogEvent:
		d.handleWatchdog(v, ev)
	case *qmp.BlockIOErrorEvent:
		d.handleBlockIOError(v, ev)
	case *qmp.BalloonChangeEvent:
		if err == nil {
			d.balloonChanged(v, ev.Actual/1024)
		}
	case *qmp.RTCChangeEvent:
		d.publishDomain(v, driver.EventIDRTCChange, driver.RTCChange{Offset: ev.Offset})
	case *qmp.JobStatusChangeEvent:
		d.onJobStatusChange(v, ev) // blockjob_events.go
	case *qmp.BlockJobInfoEvent:
		switch name {
		case "BLOCK_JOB_READY":
			d.blockJobReady(v, ev.Device)
		case "BLOCK_JOB_COMPLETED":
			d.recordBlockJobError(v, ev.Device, ev.Error, "", "")
		}
	case *qmp.BlockJobErrorEvent:
		d.recordBlockJobError(v, ev.Device, "", ev.Operation, ev.Action)
	case *qmp.DeviceDeletedEvent:
		d.onDeviceDeleted(v, ev) // hotplug_detach.go
	case *qmp.DeviceTrayMovedEvent:
		if err == nil {
			d.trayMoved(v, ev.Device, ev.ID, ev.TrayOpen) // tray_media.go
		}
	case *qmp.MigrationEvent:
		d.onMigrationStatus(v, ev) // migrate_postcopy.go
	case *qmp.BlockWriteThresholdEvent:
		d.blockThresholdReached(v, ev) // block_threshold.go
	}
	switch name {
	case "VSERPORT_CHANGE":
		var p struct {
			ID   string `json:"id"`
			Open bool   `json:"open"`
		}
		if json.Unmarshal(data, &p) == nil {
			d.onSerialChange(v, p.ID, p.Open) // agent_state.go
		}
	case "RESET":
		agentReset(v)
	case "MIGRATION_PASS":
		d.onMigrationPass(v, data) // migrate_postcopy.go
	case "SPICE_MIGRATE_COMPLETED":
		d.spiceMigrated(v) // migrate_cookie_graphics.go
	}
}

func (d *Driver) handleWatchdog(v *vm, ev *qmp.WatchdogEvent) {
	d.publishDomain(v, driver.EventIDWatchdog, driver.Watchdog{Action: watchdogAction(ev.Action)})
	if ev.Action == "pause" {
		v.mu.Lock()
		v.pausedReason = driver.PausedWatchdog
		v.mu.Unlock()
		// action='dump' is pause to QEMU; the dump is ours to take.
		if watchdogDumpAction(v) {
			go d.watchdogDump(v)
		}
	}
}

func (d *Driver) handleBlockIOError(v *vm, ev *qmp.BlockIOErrorEvent) {
	action := ioErrorAction(ev.Action)
	if ev.Action == "stop" {
		v.mu.Lock()
		v.pausedReason = driver.PausedIOError
		v.mu.Unlock()
		d.abortMigrationOnIOError(v) // migrate_caps.go
	}
	p := driver.IOError{DevAlias: ev.Device, Action: action, Reason: ev.Reason}
	d.publishDomain(v, driver.EventIDIOError, p)
	d.publishDomain(v, driver.EventIDIOErrorReason, p)
}

func (d *Driver) publishDomain(v *vm, id driver.EventID, payload any) {
	v.mu.Lock()
	h := v.handle()
	v.mu.Unlock()
	d.bus.Publish(driver.DomainEvent{ID: id, Dom: h, Payload: payload})
}

// handleStop: a running guest becomes paused with the reason we expected
// (user, I/O error, watchdog...), except while a fake reboot is in flight.
func (d *Driver) handleStop(v *vm) {
	v.mu.Lock()
	reason := v.pausedReason
	v.pausedReason = driver.PausedUnknown
	if v.state != driver.StateRunning || v.pausedShutdown {
		v.mu.Unlock()
		return
	}
	if m := v.mig; m != nil && !m.Incoming && m.Postcopy {
		// QEMU reports post-copy before it stops the guest.
		reason = driver.PausedPostcopy
	}
	noteMigrationStop(v) // migrate_stopped.go
	v.setState(driver.StatePaused, reason)
	v.mu.Unlock()
	d.emit(v, driver.EventSuspended, suspendedDetail(reason))
	d.saveStatusLogged(v)
}

// handleResume: RESUME always makes the guest running — after a user
// resume, a fake reboot or a crash-restart alike — with the reason set by
// whoever sent cont (booted when nobody did).
//
// While a cont sent by startCPUsThen is in flight, the status is not
// written here: its caller writes it once cont returned (start once the
// guest is fully started), so a start writes the running state once
// instead of twice. A daemon killed in between finds the status saying
// paused for a QEMU that runs, as when the event had not come yet, and
// the reconnect reads the real state from QEMU.
func (d *Driver) handleResume(v *vm) {
	v.mu.Lock()
	save := v.contPending == 0
	v.mu.Unlock()
	d.resumed(v, save)
}

// resumed makes the guest running; save false leaves the status write to
// the caller.
func (d *Driver) resumed(v *vm, save bool) {
	v.mu.Lock()
	reason := v.runningReason
	v.runningReason = driver.RunningUnknown
	if reason == driver.RunningUnknown {
		reason = driver.RunningUnpaused
	}
	if v.state == driver.StateRunning || !v.active() {
		v.mu.Unlock()
		return
	}
	v.setState(driver.StateRunning, reason)
	v.mu.Unlock()
	d.emit(v, driver.EventResumed, resumedDetail(reason))
	if save {
		d.saveStatusLogged(v)
	}
}

// handleShutdown: the guest powered off. Unless this is a fake reboot
// (or on_poweroff=restart), it is now shutting down and QEMU is stopped;
// otherwise the reset-and-continue runs on the worker.
func (d *Driver) handleShutdown(v *vm, guest *bool) {
	v.mu.Lock()
	if v.state == driver.StateShutdown || !v.active() {
		v.mu.Unlock()
		return
	}
	def := v.live
	reboot := v.fakeReboot || (def != nil && def.OnPoweroff == "restart")
	proc := v.proc
	if reboot {
		v.pausedShutdown = true
		v.mu.Unlock()
		v.work.submit(func() { d.fakeReboot(v) })
		return
	}
	v.setState(driver.StateShutdown, driver.ShutdownUnknown)
	v.mu.Unlock()
	detail := driver.EventShutdownFinished
	if guest != nil {
		if *guest {
			detail = driver.EventShutdownGuest
		} else {
			detail = driver.EventShutdownHost
		}
	}
	d.emit(v, driver.EventShutdown, detail)
	d.saveStatusLogged(v)
	// QEMU stays alive (-no-shutdown); stop it. The monitor EOF that
	// follows completes the shutdown.
	if proc != nil {
		go proc.kill(killGrace)
	}
}

// handleReset: a guest reset (reboot from inside) ends any fake reboot.
func (d *Driver) handleReset(v *vm) {
	v.mu.Lock()
	if v.state == driver.StatePaused && v.reason == driver.PausedStartingUp {
		v.mu.Unlock()
		return
	}
	v.fakeReboot = false
	h := v.handle()
	v.mu.Unlock()
	d.bus.Publish(driver.DomainEvent{ID: driver.EventIDReboot, Dom: h})
	d.saveStatusLogged(v)
}

// fakeReboot resets the virtual hardware and restarts the vCPUs of a guest
// that shut down while a reboot was asked for (or that crashed with
// on_crash=restart).
func (d *Driver) fakeReboot(v *vm) {
	// Event work waits as long as it takes: giving up would leave the
	// guest paused in "shutdown" forever. It ends with the run.
	ctx, run := v.runContext()
	if err := v.job.beginWait(ctx, jobModify, apiName("fake reboot")); err != nil {
		return
	}
	defer v.job.end()
	v.mu.Lock()
	if v.run != run || !v.active() {
		v.mu.Unlock()
		return
	}
	mon, proc := v.mon, v.proc
	reason := driver.RunningBooted
	if v.state == driver.StateCrashed {
		reason = driver.RunningCrashed
	}
	v.mu.Unlock()
	ok := mon != nil
	if ok {
		ok = qmp.SystemReset(ctx, mon) == nil
	}
	if ok {
		// The STOP that followed the guest's SHUTDOWN came before this
		// reply but may not be handled yet; handled after cont it would
		// pause the guest that just rebooted.
		syncEvents(ctx, mon)
		ok = d.startCPUs(ctx, v, reason) == nil
	}
	v.mu.Lock()
	v.pausedShutdown, v.fakeReboot = false, false
	v.mu.Unlock()
	if !ok && proc != nil {
		proc.kill(0)
		return
	}
	d.saveStatusLogged(v)
}

// guestPanicked applies on_crash after GUEST_PANICKED.
// It takes the destroy job, which every async job allows, and waits for
// it as long as the run lasts.
func (d *Driver) guestPanicked(v *vm) {
	ctx, run := v.runContext()
	if err := v.job.beginWait(ctx, jobDestroy, apiName("crash handling")); err != nil {
		return
	}
	v.mu.Lock()
	if v.run != run || !v.active() {
		v.mu.Unlock()
		v.job.end()
		return
	}
	v.setState(driver.StateCrashed, driver.CrashedPanicked)
	action := ""
	if v.live != nil {
		action = v.live.OnCrash
	}
	v.mu.Unlock()
	d.emit(v, driver.EventCrashed, driver.EventCrashedPanicked)
	d.saveStatusLogged(v)
	switch action {
	case "restart", "coredump-restart", "rename-restart":
		v.mu.Lock()
		v.fakeReboot = true
		v.pausedShutdown = true
		v.mu.Unlock()
		v.job.release()
		d.fakeReboot(v)
		return
	case "preserve":
		v.job.release()
		return
	default: // destroy, coredump-destroy
		v.mu.Lock()
		v.beingDestroyed = true
		proc := v.proc
		v.mu.Unlock()
		if proc != nil {
			proc.kill(killGrace)
		}
		if d.cleanupStopped(v, driver.ShutoffCrashed) {
			d.emit(v, driver.EventStopped, driver.EventStoppedCrashed)
			d.dropIfTransient(v)
		}
		v.job.end()
	}
}

// monitorEOF: QEMU went away. If we were not destroying it, it either
// finished a shutdown or crashed.
// The cleanup takes the destroy job, which every async job allows, and
// waits for it as long as the run lasts: a dead QEMU is never left shown
// as running.
func (d *Driver) monitorEOF(v *vm) {
	v.mu.Lock()
	if v.beingDestroyed || !v.active() {
		v.mu.Unlock()
		return
	}
	ctx, run := v.runContextLocked()
	v.mu.Unlock()
	v.work.submit(func() {
		if err := v.job.beginWait(ctx, jobDestroy, apiName("stop after EOF")); err != nil {
			return // the run was cleaned up meanwhile
		}
		defer v.job.end()
		v.mu.Lock()
		if v.beingDestroyed || !v.active() || v.run != run {
			v.mu.Unlock()
			return
		}
		shutdown := v.state == driver.StateShutdown
		proc := v.proc
		v.mu.Unlock()
		if proc != nil {
			proc.kill(killGrace) // reap whatever is left
		}
		reason, detail := driver.ShutoffCrashed, driver.EventStoppedFailed
		if shutdown {
			reason, detail = driver.ShutoffShutdown, driver.EventStoppedShutdown
		}
		if d.cleanupStopped(v, reason) {
			d.emit(v, driver.EventStopped, detail)
			d.dropIfTransient(v)
		}
	})
}

func watchdogAction(a string) int32 {
	switch a {
	case "none":
		return 0
	case "pause":
		return 1
	case "reset":
		return 2
	case "poweroff":
		return 3
	case "shutdown":
		return 4
	case "debug":
		return 5
	case "inject-nmi":
		return 6
	}
	return 0
}

func ioErrorAction(a string) int32 {
	switch a {
	case "stop":
		return 1
	case "report":
		return 2
	}
	return 0 // ignore
}

// eventSyncer is the monitor's SyncEvents (qmp.Monitor has it).
type eventSyncer interface {
	SyncEvents(ctx context.Context) error
}

// syncEvents waits (at most 5 s: a handler stuck behind this caller must
// not wedge it) until the events QEMU sent before the last reply are
// handled.
func syncEvents(ctx context.Context, mon monitor) {
	s, ok := mon.(eventSyncer)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = s.SyncEvents(ctx)
}
