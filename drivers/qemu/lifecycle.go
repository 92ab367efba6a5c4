package qemu

import (
	"context"
	"govirt/drivers/internal/safepath"
	"os"
	"path/filepath"
	"strings"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/drivers/qemu/guestcpu"
	"govirt/internal/gcburst"
	"govirt/qmp"
	"govirt/virerr"
)

// Start flags (virDomainCreateFlags).
const (
	startPaused     = 1 << 0
	startForceBoot  = 1 << 3
	startResetNVRAM = 1 << 5
)

// How long QEMU gets to exit on SIGTERM before SIGKILL, as libvirt.
var killGrace = 10 * time.Second

// monitorTimeout bounds waiting for a new QEMU's monitor socket.
var monitorTimeout = 30 * time.Second

// domainDir holds a running guest's sockets; the ".d" suffix makes every
// name libvirt accepts ("..", ".") a plain directory entry.
func (d *Driver) domainDir(name string) (string, error) {
	return safepath.Join(d.dirs.domains, name, ".d")
}
func (d *Driver) logPath(name string) (string, error) {
	return safepath.Join(d.dirs.logs, name, ".log")
}

// start boots v, or resumes it from its managed save image when it has
// one (unless forced to boot). The caller holds v's job.
func (d *Driver) start(ctx context.Context, v *vm, flags uint32) error {
	// A start allocates a few MiB; many at once are a burst (gcburst).
	defer gcburst.Begin()()
	v.mu.Lock()
	name, persistent := v.name, v.persistent
	v.mu.Unlock()
	if persistent && d.hasManagedSave(name) {
		if flags&startForceBoot != 0 {
			d.removeManagedSave(name)
		} else {
			err := d.startFromManagedSave(ctx, v, flags)
			if !unusableManagedSave(err) {
				return err
			}
			// A save cut short by a crash: boot instead, as libvirt.
			d.log.Warn("ignoring incomplete managed save image", "domain", name)
			d.removeManagedSave(name)
		}
	}
	t0 := time.Now()
	v.mu.Lock()
	v.resetNVRAM = flags&startResetNVRAM != 0
	v.lateEmulator = true // emulator_late.go
	v.mu.Unlock()
	err := d.launch(ctx, v, false)
	v.mu.Lock()
	v.resetNVRAM, v.lateEmulator = false, false
	v.mu.Unlock()
	if err != nil {
		return err
	}
	if flags&startPaused != 0 {
		if err := d.finishEmulatorPlacement(v); err != nil {
			d.abortLaunch(v)
			return err
		}
		v.mu.Lock()
		// A destroy may have ended the run (it may run during the start).
		if !v.active() {
			v.mu.Unlock()
			return errNoLongerRunning()
		}
		v.setState(driver.StatePaused, driver.PausedUser)
		v.mu.Unlock()
		d.runPostStartHooks(v)
		d.emit(v, driver.EventStarted, driver.EventStartedBooted)
		d.emit(v, driver.EventSuspended, driver.EventSuspendedPaused)
		return d.saveStatus(v)
	}
	// What the hooks read back and set up (pty paths, taps, VNC
	// password) is ready before the vCPUs run, as in libvirt, and costs
	// less while QEMU is idle. libvirt's order: the RESUME of the first
	// cont, then STARTED.
	d.runPostStartHooks(v)
	if err := d.startCPUsThen(ctx, v, driver.RunningBooted, false); err != nil {
		d.abortLaunch(v)
		return err
	}
	if err := d.finishEmulatorPlacement(v); err != nil {
		d.abortLaunch(v)
		return err
	}
	d.emit(v, driver.EventStarted, driver.EventStartedBooted)
	err = d.saveStatus(v)
	d.log.Debug("started", "domain", name, "took", time.Since(t0))
	return err
}

func (d *Driver) startFromManagedSave(ctx context.Context, v *vm, flags uint32) error {
	path, err := d.managedSavePath(v.name)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return errQEMU(virerr.ErrSystemError, "cannot open managed save image: %v", err)
	}
	defer f.Close()
	hdr, err := readSaveImage(f)
	if err != nil {
		return err
	}
	def, err := conf.ParseDomain(hdr.xml, 0)
	if err != nil {
		return err
	}
	if def.UUID != v.uuid {
		return errQEMU(virerr.ErrOperationFailed, "managed save image of '%s' belongs to a domain with uuid %s", v.name, def.UUID)
	}
	def.Name = v.name
	// As qemuSaveImageStartVM: a guest saved while paused comes back
	// paused.
	if err := d.restoreAs(ctx, v, def, f, restoreModeOf(hdr.wasRunning, flags&startPaused != 0)); err != nil {
		return err
	}
	d.removeManagedSave(v.name)
	return nil
}

// startIncoming launches QEMU waiting for a migration stream and feeds it
// f; the guest is left paused.
func (d *Driver) startIncoming(ctx context.Context, v *vm, f *os.File) error {
	if err := d.launch(ctx, v, true); err != nil {
		return err
	}
	v.mu.Lock()
	mon := v.mon
	v.pausedReason = driver.PausedUnknown
	v.mu.Unlock()
	fm, ok := mon.(fdMonitor)
	if !ok {
		d.abortLaunch(v)
		return errQEMU(virerr.ErrOperationUnsupported, "monitor cannot pass descriptors")
	}
	if err := qmp.Getfd(ctx, fm, "govirt-restore", f); err != nil {
		d.abortLaunch(v)
		return qmpFailed("passing the save file", err)
	}
	if err := qmp.MigrateIncoming(ctx, mon, "fd:govirt-restore"); err != nil {
		d.abortLaunch(v)
		return qmpFailed("restore", err)
	}
	if err := waitMigration(ctx, mon); err != nil {
		d.abortLaunch(v)
		return err
	}
	return nil
}

// launch builds the command line and starts a paused QEMU with its
// monitor connected; the caller holds v's job. On failure nothing is left.
func (d *Driver) launch(ctx context.Context, v *vm, incoming bool) error {
	defer gcburst.Begin()() // restores and incoming migrations too
	v.mu.Lock()
	if v.active() {
		v.mu.Unlock()
		return errAlreadyRunning()
	}
	if v.brokenMsg != "" {
		msg := v.brokenMsg
		v.mu.Unlock()
		return errQEMU(virerr.ErrOperationFailed, "%s", msg)
	}
	live := v.current().Clone()
	name := v.name
	resetNVRAM := v.resetNVRAM
	v.resetNVRAM = false
	v.mu.Unlock()
	t0 := time.Now()

	emulator := live.Devices.Emulator
	if emulator == "" {
		emulator = d.cfg.Emulator
		live.Devices.Emulator = emulator
	}
	qcaps, err := d.caps.get(ctx, emulator)
	if err != nil {
		return err
	}
	tCaps := time.Since(t0)
	dir, err := d.domainDir(name)
	if err != nil {
		return err
	}
	logPath, err := d.logPath(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	monPath := filepath.Join(dir, "monitor.sock")
	os.Remove(monPath)
	if err := guestcpu.Validate(live); err != nil {
		return err
	}
	autoPlace, err := prepareNUMAPlacement(live)
	if err != nil {
		return err
	}
	setVMAutoPlacement(v, autoPlace)
	// Missing optional images are dropped first (startupPolicy).
	command.ApplyStartupPolicies(live, nil)
	// Backing chains and image indexes first: the builder adds a
	// -blockdev pair for every image of every chain.
	if err := d.prepareDiskChains(v, live); err != nil {
		return err
	}
	if err := d.resolveNetworks(live); err != nil {
		return err
	}
	// The ports are this start's until the live XML holding them is the
	// guest's: from then on cleanupStopped releases them.
	portsHeld := true
	defer func() {
		if portsHeld {
			d.releasePorts(live)
		}
	}()
	tun, err := d.prepareCgroupDef(live)
	if err != nil {
		return err
	}
	// libvirt's qemuProcessUpdateGuestCPU, last of its domain
	// preparation: host-model becomes the CPU QEMU is asked for.
	if err := prepareGuestCPU(live, qcaps, incoming); err != nil {
		return err
	}
	var files passedFiles
	defer files.close() // QEMU has its copies once spawned
	// The id comes first: the channel directory is named after it.
	id := d.doms.assignID(v, 0)
	chanDir, err := d.prepareChannelDir(id, name)
	if err != nil {
		d.doms.releaseID(id)
		return err
	}
	cl, err := d.buildCommand(live, qcaps, dir, chanDir, monPath, &files, resetNVRAM, autoPlace)
	if err != nil {
		d.doms.releaseID(id)
		os.RemoveAll(chanDir)
		return err
	}
	cl.Pinning = applyAutoPinning(live, autoPlace, cl.Pinning)
	argv := cl.Argv
	if incoming {
		argv = append(argv, "-incoming", "defer")
	}
	cj, err := d.capsBlobs.json(qcaps)
	if err != nil {
		d.doms.releaseID(id)
		os.RemoveAll(chanDir)
		return err
	}
	if err := d.liveSeclabelFor(live); err != nil {
		d.doms.releaseID(id)
		os.RemoveAll(chanDir)
		return err
	}
	tBuild := time.Since(t0)
	v.mu.Lock()
	v.live, v.caps, v.capsJSON, v.id = live, qcaps, cj, id
	portsHeld = false
	v.origCPU = nil
	v.setState(driver.StatePaused, driver.PausedStartingUp)
	v.fakeReboot, v.pausedShutdown, v.beingDestroyed = false, false, false
	v.startedAt = time.Now()
	run := v.newRun()
	v.mu.Unlock()
	// The status exists before QEMU does: a daemon killed right after the
	// spawn finds it on restart and kills the half-started QEMU by its
	// monitor path instead of orphaning it.
	if err := d.saveStatus(v); err != nil {
		d.cleanupStopped(v, driver.ShutoffFailed)
		return err
	}
	if err := prepareHostPCI(dir, cl.HostPCI); err != nil {
		d.cleanupStopped(v, driver.ShutoffFailed)
		return err
	}
	if err := d.startVirtioFS(name, dir, cl.VirtioFS); err != nil {
		d.cleanupStopped(v, driver.ShutoffFailed)
		return err
	}
	if err := d.startPasst(name, dir, cl.Passt, d.qemuCred(live)); err != nil {
		d.cleanupStopped(v, driver.ShutoffFailed)
		return err
	}
	monFile, err := qmp.Listen(monPath)
	if err != nil {
		d.cleanupStopped(v, driver.ShutoffFailed)
		return errQEMU(virerr.ErrOperationFailed, "cannot create the monitor socket of '%s': %v", name, err)
	}
	if err := files.openHost(cl.Files); err != nil {
		monFile.Close()
		d.cleanupStopped(v, driver.ShutoffFailed)
		return errQEMU(virerr.ErrOperationFailed, "cannot open the chardev files of '%s': %v", name, err)
	}
	tPrep := time.Since(t0)
	var proc *process
	var initial []int
	if cl.Pinning != nil {
		initial = cl.Pinning.Initial()
	}
	// With a private /dev the nodes' labels go on QEMU's copies only
	// (security_nsdev.go); the mark comes first, so that a failed start's
	// restore leaves the host's nodes alone too.
	var nsl *nsLabels
	if d.mountNS {
		nsl = &nsLabels{owners: map[string]devOwner{}}
		if err := markPrivateDev(dir); err != nil {
			monFile.Close()
			d.cleanupStopped(v, driver.ShutoffFailed)
			return err
		}
	} else {
		os.Remove(filepath.Join(dir, privateDevMark))
	}
	cred, err := d.labelForStart(live, nsl, dir, chanDir)
	if err != nil {
		monFile.Close()
		d.cleanupStopped(v, driver.ShutoffFailed)
		return err
	}
	spawnIt := func() error {
		var err error
		proc, err = spawnAs(cred, argv, cl.UserEnv, logPath, append([]*os.File{monFile}, files.files...)...)
		return err
	}
	var dev *privateDev
	if d.mountNS {
		if dev, err = prepareNamespace(nsPaths(live), filepath.Join(dir, "dev.tmp"), nsl.owners); err != nil {
			monFile.Close()
			d.cleanupStopped(v, driver.ShutoffFailed)
			return errQEMU(virerr.ErrSystemError, "cannot prepare the namespace of '%s': %v", name, err)
		}
	}
	if cred.confined() || dev != nil {
		err = onSpawnThread(initial, cred.confined(), dev, spawnIt)
	} else {
		err = onCPUs(initial, spawnIt)
	}
	monFile.Close()
	if err != nil {
		d.cleanupStopped(v, driver.ShutoffFailed)
		return errQEMU(virerr.ErrOperationFailed, "cannot start QEMU for '%s': %v", name, err)
	}
	// A destroy (allowed during the start job) may have ended this run
	// while QEMU was being spawned: then nobody else knows this process
	// and it must go now. Checked under mu, as cleanup takes the process
	// under mu: exactly one of the two kills it.
	v.mu.Lock()
	if v.run != run || !v.active() {
		v.mu.Unlock()
		proc.kill(0)
		return errNoLongerRunning()
	}
	v.proc = proc
	v.mu.Unlock()
	d.faultAt("launch_spawned")
	if err := d.setupCgroup(v, tun, cl.Pinning, proc.pid, id, name); err != nil {
		d.abortLaunch(v)
		return err
	}
	if err := d.startPerf(v, live, proc.pid); err != nil {
		d.abortLaunch(v)
		return err
	}
	for _, t := range cl.Taints {
		d.taint(v, t)
	}
	tSpawn := time.Since(t0)

	mon, err := d.connectMonitor(ctx, v, monPath, proc)
	if err != nil {
		d.abortLaunch(v)
		return errQEMU(virerr.ErrOperationFailed, "QEMU for '%s' did not come up: %v%s", name, err, logTail(logPath))
	}
	v.mu.Lock()
	if v.run != run || !v.active() {
		v.mu.Unlock()
		mon.Close()
		return errNoLongerRunning()
	}
	v.mon = mon
	v.mu.Unlock()
	d.faultAt("launch_monitor")
	tMon := time.Since(t0)
	// The CPU QEMU really created goes into the live definition, or
	// fails the start (qemuProcessUpdateAndVerifyCPU).
	if err := d.updateLiveGuestCPU(ctx, v, mon, guestCPUKey(qcaps, argv)); err != nil {
		d.abortLaunch(v)
		return err
	}
	tCPU := time.Since(t0)
	// Online hotpluggable vCPUs of <vcpus> become devices now
	// (vcpus_live.go), before threads are placed.
	if err := d.plugBootVcpus(ctx, v, mon, live); err != nil {
		d.abortLaunch(v)
		return err
	}
	// Disk throttling is not on the command line with -blockdev: set it
	// while the CPUs are still paused, as libvirt does.
	if err := applyDiskThrottles(ctx, mon, live); err != nil {
		d.abortLaunch(v)
		return err
	}
	// Every monitor round trip of the set-up goes before QEMU enters the
	// guest's CPU groups (placeEmulator says why): the threads to place
	// and pin, and the balloon.
	threads, err := queryStartThreads(ctx, v, mon, cl.Pinning)
	if err != nil {
		d.abortLaunch(v)
		return err
	}
	if err := d.setupBalloon(ctx, v); err != nil {
		d.abortLaunch(v)
		return err
	}
	// The CPUs have not run, so the guest has given no memory back yet:
	// libvirt reads the balloon now (not for an incoming migration or
	// restore, whose stream brings the guest's own balloon state).
	if !incoming {
		if err := d.refreshBalloon(ctx, v); err != nil {
			d.abortLaunch(v)
			return err
		}
	}
	tQueried := time.Since(t0)
	// The process enters the guest's CPU groups now, before any vCPU
	// runs (placeEmulator says why not at the spawn).
	if err := d.placeEmulator(v, tun, cl.Pinning, proc.pid, threads); err != nil {
		d.abortLaunch(v)
		return err
	}
	// The helpers join the emulator group (it exists now, even when
	// QEMU's own threads move there only after cont).
	if err := d.placeHelpers(v, dir, cl.Swtpm != nil); err != nil {
		d.abortLaunch(v)
		return err
	}
	// The taps exist: their <filterref> rules go on before the CPUs run
	// (libvirt instantiates them as it connects each tap).
	if err := d.bindGuestFilters(name, v.uuid, live, false); err != nil {
		d.abortLaunch(v)
		return err
	}
	// Threads go to their cgroups first: a cpuset there must allow the
	// affinity set next (libvirt's qemuProcessSetupPid order).
	if err := d.setupThreadCgroups(v, threads, tun, cl.Pinning); err != nil {
		d.abortLaunch(v)
		return err
	}
	if err := pinThreads(proc.pid, threads, cl.Pinning); err != nil {
		d.abortLaunch(v)
		return err
	}
	// No status write here: the one written before the spawn finds this
	// QEMU by its monitor socket, and the caller writes the next.
	// Times since the launch began: caps known, command built, ready
	// to spawn (status written, helpers up), spawned, monitor
	// connected, guest CPU read, queries done, set up.
	d.log.Debug("launched", "domain", name, "caps", tCaps, "build", tBuild, "prepared", tPrep,
		"spawned", tSpawn, "monitor", tMon, "cpu", tCPU, "queried", tQueried, "done", time.Since(t0))
	return nil
}

// errNoLongerRunning is libvirt's error for a guest destroyed while an
// operation on it was in progress.
func errNoLongerRunning() error {
	return errQEMU(virerr.ErrOperationFailed, "domain is no longer running")
}

// abortLaunch kills a QEMU that failed to start properly.
func (d *Driver) abortLaunch(v *vm) {
	v.mu.Lock()
	v.beingDestroyed = true
	proc := v.proc
	v.mu.Unlock()
	if proc != nil {
		proc.kill(killGrace)
	}
	d.cleanupStopped(v, driver.ShutoffFailed)
}

// logTail returns the end of QEMU's log for error messages, where QEMU
// says why it refused to start.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return ""
	}
	if len(data) > 1024 {
		data = data[len(data)-1024:]
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return ": " + lines[len(lines)-1]
}

// startCPUs resumes vCPUs; the RESUME event moves the state to running
// with reason.
func (d *Driver) startCPUs(ctx context.Context, v *vm, reason int32) error {
	return d.startCPUsThen(ctx, v, reason, true)
}

// startCPUsThen is startCPUs for a caller that says whether the new
// state is saved here: start saves once at its end instead, one status
// write fewer on the path every guest start takes.
func (d *Driver) startCPUsThen(ctx context.Context, v *vm, reason int32, save bool) error {
	v.mu.Lock()
	mon := v.mon
	v.runningReason = reason
	if mon != nil {
		v.contPending++
	}
	v.mu.Unlock()
	if mon == nil {
		return errNotRunning()
	}
	err := qmp.Cont(ctx, mon)
	v.mu.Lock()
	v.contPending--
	if err != nil {
		v.mu.Unlock()
		// A RESUME that came anyway left its write to us.
		if save {
			d.saveStatusLogged(v)
		}
		return errQEMU(virerr.ErrOperationFailed, "resume operation failed: %v", err)
	}
	// The reply can overtake the RESUME event; do here what its handler
	// would, so callers see the new state at once. The event then finds
	// the guest running and stays quiet. A guest that stayed "running"
	// through a fake reboot takes the new reason, as in libvirt. When
	// the event came first it changed the state but, cont being in
	// flight, left the status write to this caller.
	if v.state == driver.StateRunning {
		v.reason = reason
		v.runningReason = driver.RunningUnknown
		v.mu.Unlock()
		if save {
			d.saveStatusLogged(v)
		}
		return nil
	}
	v.mu.Unlock()
	d.resumed(v, save)
	return nil
}

// destroy kills QEMU; the caller holds v's destroy job.
func (d *Driver) destroy(v *vm, reason int32, detail int32) error {
	v.mu.Lock()
	if !v.active() {
		v.mu.Unlock()
		return errNotRunning()
	}
	if v.brokenMsg != "" {
		msg := v.brokenMsg
		v.mu.Unlock()
		return errQEMU(virerr.ErrOperationFailed, "%s", msg)
	}
	v.beingDestroyed = true
	proc := v.proc
	v.mu.Unlock()
	if proc != nil {
		proc.kill(killGrace)
	}
	if !d.cleanupStopped(v, reason) {
		return errNotRunning()
	}
	d.emit(v, driver.EventStopped, detail)
	d.dropIfTransient(v)
	return nil
}

// cleanupStopped releases what a running guest held and records the
// shut-off state. It acts once per run: false when the guest was not
// running (someone else cleaned it up).
func (d *Driver) cleanupStopped(v *vm, reason int32) bool {
	v.mu.Lock()
	if !v.active() {
		v.mu.Unlock()
		return false
	}
	mon, id, name, proc, live := v.mon, v.id, v.name, v.proc, v.live
	if v.live != nil {
		v.last = v.live
	}
	v.endRun()
	v.mon, v.proc, v.live, v.caps, v.capsJSON = nil, nil, nil, nil, nil
	v.id = -1
	v.setState(driver.StateShutoff, reason)
	v.fakeReboot, v.pausedShutdown, v.beingDestroyed = false, false, false
	v.jobSnap = nil
	v.mu.Unlock()
	if mon != nil {
		mon.Close()
	}
	releaseGuestState(v)
	// Whoever called this killed QEMU already; a process that appeared
	// after it looked (a start racing a destroy) goes now.
	if proc != nil {
		proc.kill(killGrace)
	}
	d.restoreLabels(name, live) // QEMU is gone: its files go back
	d.unbindGuestFilters(live)  // the taps went with QEMU; their chains go now
	d.releasePorts(live)        // QEMU's taps are gone
	dir, dirErr := d.domainDir(name)
	if dirErr == nil {
		// The helpers are in the guest's cgroup (placeHelpers): they go
		// before it, and after QEMU, their only client.
		stopPlatform(dir)
		stopVirtioFS(dir)
		stopPasst(dir)
	}
	d.removeCgroup(v)        // named after id: before another guest may take it
	d.dropParkedMigration(v) // migrate_resume_state.go
	d.doms.releaseID(id)
	d.removeStatus(v)
	os.RemoveAll(d.channelDir(id, name))
	if dirErr == nil {
		reattachHostPCI(dir) // QEMU no longer holds them
		deleteMacvtaps(dir)
		os.RemoveAll(dir)
	}
	// A transient guest that stopped takes its snapshot metadata along
	// (snapshot_meta.go), as libvirt's qemuDomainRemoveInactive.
	v.mu.Lock()
	transient := !v.persistent
	v.mu.Unlock()
	if transient {
		d.discardSnapMeta(v, name)
	}
	// A transient guest that stopped is gone (dropIfTransient); only now,
	// with its files removed, may a new guest take its name and paths.
	v.mu.Lock()
	if !v.persistent && !v.active() {
		v.removed.Store(true)
	}
	v.mu.Unlock()
	return true
}

// dropIfTransient forgets a transient guest once it stopped.
func (d *Driver) dropIfTransient(v *vm) {
	v.mu.Lock()
	gone := !v.persistent && !v.active()
	v.mu.Unlock()
	if gone {
		d.doms.remove(v)
	}
}

// emit publishes a lifecycle event for v.
func (d *Driver) emit(v *vm, event, detail int32) {
	v.mu.Lock()
	h := v.handle()
	v.mu.Unlock()
	d.bus.Publish(driver.DomainEvent{ID: driver.EventIDLifecycle, Dom: h, Event: event, Detail: detail})
}

// resumedDetail maps a running reason to the RESUMED event detail.
func resumedDetail(reason int32) int32 {
	switch reason {
	case driver.RunningMigrated:
		return driver.EventResumedMigrated
	case driver.RunningFromSnapshot:
		return driver.EventResumedFromSnapshot
	case driver.RunningPostcopy:
		return driver.EventResumedPostcopy
	}
	return driver.EventResumedUnpaused
}

// suspendedDetail maps a paused reason to the SUSPENDED event detail.
func suspendedDetail(reason int32) int32 {
	switch reason {
	case driver.PausedMigration:
		return driver.EventSuspendedMigrated
	case driver.PausedIOError:
		return driver.EventSuspendedIOError
	case driver.PausedWatchdog:
		return driver.EventSuspendedWatchdog
	case driver.PausedFromSnapshot:
		return driver.EventSuspendedFromSnapshot
	case driver.PausedPostcopy:
		return driver.EventSuspendedPostcopy
	}
	return driver.EventSuspendedPaused
}
