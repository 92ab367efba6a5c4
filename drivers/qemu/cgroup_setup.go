package qemu

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/internal/cgroup"
	"govirt/virerr"
)

// A running guest's cgroups, as libvirt's privileged QEMU driver lays
// them out without systemd-machined (virDomainCgroupSetupCgroup,
// qemuProcessSetupEmulator/Vcpus/IOThreads): QEMU is moved into
// PARTITION/qemu-ID-NAME.libvirt-qemu right after it is spawned, while it
// is still paused (-S) and before it has run any guest code, then into
// its emulator sub-group; once QMP names the vCPU and iothread threads,
// each goes to its vcpuN or iothreadN sub-group. The tunables of
// <cputune>, <memtune> and <blkiotune> are written on the way. The group
// is removed when the guest stops and found again, from QEMU's
// /proc/PID/cgroup, when a restarted daemon reconnects.

// cgroupHost is the host's cgroup layout, nil for an unprivileged daemon
// (libvirt's session driver has no cgroups) or a host without cgroups.
func (d *Driver) cgroupHost() *cgroup.Host {
	d.cgOnce.Do(func() {
		if os.Geteuid() != 0 {
			return
		}
		h, err := cgroup.Detect()
		if err != nil {
			d.log.Warn("cannot detect cgroups", "err", err)
			return
		}
		// The tests of the v2 device programs on a hybrid host.
		if os.Getenv("GOVIRT_CGROUP_V2_DEVICES") == "1" && !h.UseV2Devices() {
			d.log.Warn("GOVIRT_CGROUP_V2_DEVICES: no cgroup v2 device programs here")
		}
		if h.Available() {
			d.cgHost = h
		}
	})
	return d.cgHost
}

func guestCgroup(v *vm) *cgroup.Group {
	v.ext.cgMu.Lock()
	defer v.ext.cgMu.Unlock()
	return v.ext.cg
}

func setGuestCgroup(v *vm, g *cgroup.Group) {
	v.ext.cgMu.Lock()
	v.ext.cg = g
	v.ext.cgMu.Unlock()
}

// cgErr turns a cgroup package error into libvirt's.
func cgErr(err error) error {
	var ce *cgroup.Error
	if errors.As(err, &ce) && ce.Invalid {
		return errQEMU(virerr.ErrOperationInvalid, "%s", ce.Msg)
	}
	if errors.As(err, &ce) && ce.Unsupported {
		return errQEMU(virerr.ErrOperationUnsupported, "%s", ce.Msg)
	}
	var ve *virerr.Error
	if errors.As(err, &ve) {
		return err
	}
	return errQEMU(virerr.ErrSystemError, "%s", err.Error())
}

// prepareCgroupDef checks the tunables of a definition about to start and
// records the partition the guest will run in, as libvirt's live XML
// shows it.
func (d *Driver) prepareCgroupDef(live *conf.Domain) (*command.Tunables, error) {
	t, err := command.ParseTunables(live)
	if err != nil {
		return nil, err
	}
	if d.cgroupHost() == nil {
		return t, nil
	}
	if t.Partition == "" {
		t.Partition = "/machine"
		live.SetValue("resource/partition", t.Partition)
	}
	if !strings.HasPrefix(t.Partition, "/") {
		return nil, errQEMU(virerr.ErrConfigUnsupported, "Resource partition '%s' must start with '/'", t.Partition)
	}
	return t, nil
}

// wantsCgroup says whether a definition sets anything only cgroups give.
func wantsCgroup(t *command.Tunables) bool {
	return t.SharesSet || t.Period != 0 || t.Quota != 0 || t.GlobalPeriod != 0 || t.GlobalQuota != 0 ||
		t.EmulatorPeriod != 0 || t.EmulatorQuota != 0 || t.IOThreadPeriod != 0 || t.IOThreadQuota != 0 ||
		t.HardLimit != command.MemUnlimited || t.SoftLimit != command.MemUnlimited ||
		t.SwapHardLimit != command.MemUnlimited || t.BlkioWeight != 0 || len(t.BlkioDevices) > 0
}

// setupCgroup places a just spawned QEMU (pid) in its group and applies
// the domain-wide tunables; placeEmulator later moves it into the
// emulator sub-group.
func (d *Driver) setupCgroup(v *vm, t *command.Tunables, pin *command.Pinning, pid int, id int32, name string) error {
	h := d.cgroupHost()
	if h == nil {
		return cgroupMissing(t, nil)
	}
	// The device list goes on the group before QEMU enters it: QEMU is
	// already running (libvirt's child waits before exec), and a list
	// written under it passes through "deny all" while QEMU may be
	// opening /dev/ptmx (seen: "Failed to create PTY: Operation not
	// permitted").
	acl := func(g *cgroup.Group) error {
		if live, _, _ := liveSnapshot(v); live != nil {
			if err := d.setupDeviceACL(g, live); err != nil {
				return &deviceACLError{err}
			}
		}
		return nil
	}
	g, err := placeMachine(h, t.Partition, cgroup.MachineName("qemu", int(id), name), pid, acl)
	var aclErr *deviceACLError
	if errors.As(err, &aclErr) {
		return aclErr.err
	}
	if err != nil {
		// libvirt carries on without cgroups it may not create
		// (virCgroupNewIgnoreError); govirt also when the guest asks
		// for no tunable, so a host oddity never stops a plain guest.
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENXIO) ||
			(!wantsCgroup(t) && t.Partition == "/machine") {
			d.log.Warn("guest runs without a cgroup", "domain", name, "err", err)
			return cgroupMissing(t, nil)
		}
		return cgErr(err)
	}
	setGuestCgroup(v, g)
	if err := cgroupMissing(t, g); err != nil {
		return err
	}
	if g.Has(cgroup.Blkio) {
		if t.BlkioWeight != 0 {
			if err := g.SetBlkioWeight(t.BlkioWeight); err != nil {
				return cgErr(err)
			}
		}
		for _, dev := range t.BlkioDevices {
			for _, x := range []struct {
				kind string
				v    uint64
			}{{cgroup.DevWeight, uint64(dev.Weight)}, {cgroup.DevReadIops, dev.ReadIops}, {cgroup.DevWriteIops, dev.WriteIops},
				{cgroup.DevReadBps, dev.ReadBps}, {cgroup.DevWriteBps, dev.WriteBps}} {
				if x.v == 0 {
					continue
				}
				if err := g.SetBlkioDevice(x.kind, dev.Path, x.v); err != nil {
					return cgErr(err)
				}
			}
		}
	}
	if g.Has(cgroup.Memory) {
		for _, m := range []struct {
			which string
			v     uint64
		}{{"hard", t.HardLimit}, {"soft", t.SoftLimit}, {"swap", t.SwapHardLimit}} {
			if m.v == command.MemUnlimited {
				continue
			}
			if err := g.SetMemoryLimit(m.which, m.v); err != nil {
				return cgErr(err)
			}
		}
	}
	if g.Has(cgroup.CPU) && t.SharesSet {
		if err := g.SetCPUShares(t.Shares); err != nil {
			return cgErr(err)
		}
	}
	return cgErr0(g.SetCpusetMemoryMigrate())
}

func cgErr0(err error) error {
	if err != nil {
		return cgErr(err)
	}
	return nil
}

// placeEmulator is qemuProcessSetupEmulator: the whole process goes to
// the emulator sub-group with its pin and bandwidth. It runs once QEMU
// has initialised and the monitor's start-up queries are done, but
// before any vCPU runs: until then the process is in the guest's group
// on every hierarchy but the v1 CPU ones (placeMachine), so that on a
// loaded cgroup v1 host its start-up is not throttled by the machine
// partition's single share of the CPU (see cgroup.AddProcessEarly).
func (d *Driver) placeEmulator(v *vm, t *command.Tunables, pin *command.Pinning, pid int, th *startThreads) error {
	g := guestCgroup(v)
	if g == nil {
		return nil
	}
	if !g.Has(cgroup.CPU) && !g.Has(cgroup.CPUSet) && g.HasLate() {
		// No emulator sub-group to move into: the machine group's
		// cpuacct alone.
		if err := g.AddProcessLate(pid); err != nil {
			return cgErr(err)
		}
	}
	var set []int
	if pin != nil {
		set = pin.Initial()
	}
	// A start may leave the move of QEMU's own threads for after its
	// cont (emulator_late.go); the group and its settings are made now.
	late := (g.Has(cgroup.CPU) || g.Has(cgroup.CPUSet)) && deferEmulator(v, g)
	tid := pid
	if late {
		tid = 0
	}
	if err := setupThreadGroup(g, cgroup.ThreadEmulator, 0, tid, true, set, t.EmulatorPeriod, t.EmulatorQuota); err != nil {
		return err
	}
	// The <numatune> node set of strict and restrictive mode
	// (qemuProcessSetupPid's mem_mask), here and for every thread.
	live, _, _ := liveSnapshot(v)
	if err := setThreadMems(g, cgroup.ThreadEmulator, 0, numaMemMask(live, vmAutoPlacement(v))); err != nil {
		return err
	}
	if late {
		sub, err := g.Thread(cgroup.ThreadEmulator, 0, false)
		if err != nil {
			return cgErr(err)
		}
		skip := map[int]bool{}
		for _, c := range th.vcpus {
			skip[c.ThreadID] = true
		}
		for _, it := range th.iothreads {
			skip[it.ThreadID] = true
		}
		setEmuLate(v, &emuLate{group: sub, pid: pid, skip: skip})
	}
	return nil
}

// placeMachine creates the machine's group and moves pid in, but for the
// v1 CPU hierarchies, which placeEmulator does before the vCPUs run. A group of
// the same name may be going away meanwhile (another daemon on this host
// whose guest had the same name and id stopped): then it is made again.
func placeMachine(h *cgroup.Host, partition, machine string, pid int, prepare func(*cgroup.Group) error) (*cgroup.Group, error) {
	var err error
	for try := 0; try < 3; try++ {
		var g *cgroup.Group
		if g, err = h.NewMachine(partition, machine, "qemu"); err != nil {
			return nil, err
		}
		if err = prepare(g); err != nil {
			g.Remove()
			return nil, err
		}
		if err = g.AddProcessEarly(pid); err == nil {
			return g, nil
		}
		if !errors.Is(err, syscall.ENOENT) {
			g.Remove() // as virCgroupNewMachineManual
			return nil, err
		}
	}
	return nil, err
}

// deviceACLError is a failure to write the device list, which fails the
// start (unlike a group govirt may not create).
type deviceACLError struct{ err error }

func (e *deviceACLError) Error() string { return e.err.Error() }

// cgroupMissing is libvirt's refusal of tunables whose controller the
// guest's group lacks. Without any group (an unprivileged daemon, a host
// without cgroups) libvirt ignores shares, memtune and blkiotune and
// refuses only CFS bandwidth.
func cgroupMissing(t *command.Tunables, g *cgroup.Group) error {
	has := func(c string) bool { return g != nil && g.Has(c) }
	if g != nil {
		switch {
		case !has(cgroup.Blkio) && (t.BlkioWeight != 0 || len(t.BlkioDevices) > 0):
			return errQEMU(virerr.ErrConfigUnsupported, "Block I/O tuning is not available on this host")
		case !has(cgroup.Memory) && (t.HardLimit != command.MemUnlimited || t.SoftLimit != command.MemUnlimited || t.SwapHardLimit != command.MemUnlimited):
			return errQEMU(virerr.ErrConfigUnsupported, "Memory cgroup is not available on this host")
		case !has(cgroup.CPU) && t.SharesSet:
			return errQEMU(virerr.ErrConfigUnsupported, "CPU tuning is not available on this host")
		}
	}
	if !has(cgroup.CPU) && (t.Period != 0 || t.Quota != 0 || t.EmulatorPeriod != 0 || t.EmulatorQuota != 0 ||
		t.IOThreadPeriod != 0 || t.IOThreadQuota != 0 || t.GlobalPeriod != 0 || t.GlobalQuota != 0) {
		return errQEMU(virerr.ErrConfigUnsupported, "cgroup cpu is required for scheduler tuning")
	}
	return nil
}

// setupThreadGroup is qemuProcessSetupPid's cgroup part: the thread (or
// whole process) goes to its sub-group, which gets the pin as its cpuset
// and the CFS bandwidth. A tid of 0 makes the group without moving
// anything into it.
func setupThreadGroup(g *cgroup.Group, kind string, id, tid int, process bool, set []int, period uint64, quota int64) error {
	if !g.Has(cgroup.CPU) && !g.Has(cgroup.CPUSet) {
		return nil
	}
	var sub *cgroup.Group
	var err error
	for try := 0; try < 3; try++ {
		if sub, err = g.Thread(kind, id, true); err != nil {
			return cgErr(err)
		}
		if tid == 0 {
			break
		}
		if process {
			err = sub.AddProcess(tid)
		} else {
			err = sub.AddThread(tid)
		}
		// Made again if it went away meanwhile (placeMachine).
		if !errors.Is(err, syscall.ENOENT) {
			break
		}
	}
	if err != nil {
		return cgErr(err)
	}
	if set != nil && sub.Has(cgroup.CPUSet) {
		if err := sub.SetCpusetCpus(cpuList(set)); err != nil {
			return cgErr(err)
		}
	}
	if (period != 0 || quota != 0) && sub.Has(cgroup.CPU) {
		if err := sub.SetupCPUPeriodQuota(period, quota); err != nil {
			return cgErr(err)
		}
	}
	return nil
}

func cpuList(set []int) string {
	var b strings.Builder
	for i := 0; i < len(set); {
		j := i
		for j+1 < len(set) && set[j+1] == set[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(set[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(set[j]))
		}
		i = j + 1
	}
	return b.String()
}

// setupThreadCgroups moves the vCPU and iothread threads QMP reported
// (queryStartThreads) into their sub-groups and sets the guest-wide
// bandwidth (qemuProcessSetupVcpus, qemuProcessSetupIOThreads,
// virDomainCgroupSetupGlobalCpuCgroup).
func (d *Driver) setupThreadCgroups(v *vm, th *startThreads, t *command.Tunables, pin *command.Pinning) error {
	g := guestCgroup(v)
	if g == nil {
		return nil
	}
	live, _, _ := liveSnapshot(v)
	mems := numaMemMask(live, vmAutoPlacement(v))
	for _, c := range th.vcpus {
		var set []int
		if pin != nil {
			set = pin.Default
			if s, ok := pin.VCPU[c.CPUIndex]; ok {
				set = s
			}
		}
		if err := setupThreadGroup(g, cgroup.ThreadVCPU, c.CPUIndex, c.ThreadID, false, set, t.Period, t.Quota); err != nil {
			return err
		}
		if err := setThreadMems(g, cgroup.ThreadVCPU, c.CPUIndex, mems); err != nil {
			return err
		}
	}
	for _, it := range th.iothreads {
		n, err := strconv.Atoi(strings.TrimPrefix(it.ID, "iothread"))
		if err != nil {
			continue
		}
		var set []int
		if pin != nil {
			set = pin.Default
			if s, ok := pin.IOThread[n]; ok {
				set = s
			}
		}
		if err := setupThreadGroup(g, cgroup.ThreadIOThread, n, it.ThreadID, false, set, t.IOThreadPeriod, t.IOThreadQuota); err != nil {
			return err
		}
		if err := setThreadMems(g, cgroup.ThreadIOThread, n, mems); err != nil {
			return err
		}
	}
	if (t.GlobalPeriod != 0 || t.GlobalQuota != 0) && g.Has(cgroup.CPU) {
		if err := g.SetupCPUPeriodQuota(t.GlobalPeriod, t.GlobalQuota); err != nil {
			return cgErr(err)
		}
	}
	return nil
}

// removeCgroup deletes a stopped guest's group.
func (d *Driver) removeCgroup(v *vm) {
	v.ext.cgMu.Lock()
	g := v.ext.cg
	v.ext.cg, v.ext.emuLate = nil, nil
	v.ext.cgMu.Unlock()
	if g == nil {
		return
	}
	if err := g.Remove(); err != nil {
		d.log.Warn("cannot remove the guest's cgroup", "domain", v.name, "err", err)
	}
}

// findCgroup finds a reconnected guest's group from its QEMU's placement.
func (d *Driver) findCgroup(v *vm, pid int, id int32, name string) {
	h := d.cgroupHost()
	if h == nil {
		return
	}
	g, err := h.FindMachine(pid, cgroup.MachineName("qemu", int(id), name), "qemu")
	if err != nil {
		d.log.Warn("cannot read the guest's cgroup", "domain", name, "err", err)
		return
	}
	setGuestCgroup(v, g)
}

// syncVcpuCgroups follows a vCPU hotplug (qemuDomainHotplugAddVcpu,
// qemuDomainRemoveVcpu): each vCPU thread QEMU reports is in its vcpuN
// group with the guest's vCPU bandwidth, and the group of a vCPU that is
// gone is removed.
func (d *Driver) syncVcpuCgroups(v *vm, mon monitor) {
	forgetStats(v) // a cached sample knows the vCPU threads of before
	g := guestCgroup(v)
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return
	}
	t, err := command.ParseTunables(live)
	if err != nil {
		return
	}
	var cpus []struct {
		CPUIndex int `json:"cpu-index"`
		ThreadID int `json:"thread-id"`
	}
	if err := mon.Execute(hotplugCtx(), "query-cpus-fast", nil, &cpus); err != nil {
		return
	}
	// A plugged vCPU runs where its pin (or <vcpu cpuset>, or the
	// automatic placement's CPUs) says, in its group's cpuset and by its
	// thread's affinity (qemuProcessSetupVcpu); the others keep theirs.
	pin, _ := command.PinningOf(live)
	pin = applyAutoPinning(live, vmAutoPlacement(v), pin)
	present := map[int]bool{}
	for _, c := range cpus {
		present[c.CPUIndex] = true
		var set []int
		if pin != nil {
			set = pin.Default
			if s, ok := pin.VCPU[c.CPUIndex]; ok {
				set = s
			}
		}
		if g == nil {
		} else if err := setupThreadGroup(g, cgroup.ThreadVCPU, c.CPUIndex, c.ThreadID, false, set, t.Period, t.Quota); err != nil {
			d.log.Warn("cannot place a vCPU in its cgroup", "domain", v.name, "vcpu", c.CPUIndex, "err", err)
		} else if err := setThreadMems(g, cgroup.ThreadVCPU, c.CPUIndex, numaMemMask(live, vmAutoPlacement(v))); err != nil {
			d.log.Warn("cannot set a vCPU's memory nodes", "domain", v.name, "vcpu", c.CPUIndex, "err", err)
		}
		if set != nil {
			if err := setAffinity(c.ThreadID, set); err != nil {
				d.log.Warn("cannot set a vCPU's affinity", "domain", v.name, "vcpu", c.CPUIndex, "err", err)
			}
		}
	}
	if g == nil {
		return
	}
	for i := 0; i < int(live.VCPUs); i++ {
		if present[i] {
			continue
		}
		if sub, err := g.Thread(cgroup.ThreadVCPU, i, false); err == nil {
			if err := sub.Remove(); err != nil {
				d.log.Warn("cannot remove an unplugged vCPU's cgroup", "domain", v.name, "vcpu", i, "err", err)
			}
		}
	}
}

// pinCgroup writes a live pin into the cpuset of the thread's sub-group
// (qemuDomainPinVcpuLive, qemuDomainPinEmulator, qemuDomainPinIOThread
// set it before the affinity).
func pinCgroup(v *vm, kind string, id int, cpus []int) error {
	g := guestCgroup(v)
	if g == nil || !g.Has(cgroup.CPUSet) {
		return nil
	}
	thread := map[string]string{"vcpupin": cgroup.ThreadVCPU, "emulatorpin": cgroup.ThreadEmulator, "iothreadpin": cgroup.ThreadIOThread}[kind]
	if thread == "" {
		return nil
	}
	sub, err := g.Thread(thread, id, false)
	if err != nil {
		return cgErr(err)
	}
	if err := sub.SetCpusetCpus(cpuList(cpus)); err != nil {
		return cgErr(err)
	}
	return nil
}
