package qemu

import (
	"os"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// The pinning APIs (virsh vcpupin, emulatorpin, iothreadinfo, iothreadpin)
// as libvirt's qemuDomainPinVcpuFlags and friends: reads come from the
// live or persistent definition with no job; a change takes a modify job,
// moves the running threads with sched_setaffinity, and records the set
// in <cputune> of the definitions it affects.

// hostCPUs is virHostCPUGetAvailableCPUsBitmap: the online host CPUs.
func hostCPUs() []int {
	if data, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		if set, err := conf.ParseBitmap(strings.TrimSpace(string(data))); err == nil && len(set) > 0 {
			return set
		}
	}
	return []int{0}
}

// readDef is virDomainObjGetOneDefState: the one definition flags name
// (the live one by default when running).
func (c *conn) readDef(h driver.Domain, flags uint32, fn string) (*conf.Domain, bool, error) {
	if flags&^(affectLive|affectConfig) != 0 {
		return nil, false, errFlagsFn(flags&^(affectLive|affectConfig), fn)
	}
	if flags&affectLive != 0 && flags&affectConfig != 0 {
		return nil, false, errExclusiveAffect()
	}
	var def *conf.Domain
	var isLive bool
	err := c.withVM(h, func(v *vm) error {
		live, config, err := impact(flags, v.active())
		if err != nil {
			return err
		}
		switch {
		case config && v.def == nil:
			return errTransientConfig()
		case config:
			def = v.def
		case live:
			def, isLive = v.live, true
		}
		if def == nil {
			def = v.current()
		}
		return nil
	})
	return def, isLive, err
}

// pinSet is a pin element's set, else numad's advice auto of a running
// guest with <vcpu placement='auto'>, else the guest's <vcpu cpuset>,
// else all host CPUs: what a thread without a pin of its own may run on
// (virDomainDefGetVcpuPinInfoHelper, qemuDomainGetEmulatorPinInfo).
func pinSet(def *conf.Domain, kind string, id int, auto []int) []int {
	if s, ok := def.Pins(kind)[id]; ok && s != "" {
		if set, err := conf.ParseBitmap(s); err == nil {
			return set
		}
	}
	if def.VCPUPlacement == "auto" && len(auto) > 0 {
		return auto
	}
	if s, ok := def.Value("vcpu/@cpuset"); ok && s != "" {
		if set, err := conf.ParseBitmap(s); err == nil {
			return set
		}
	}
	return hostCPUs()
}

func (c *conn) DomainGetVcpuPinInfo(h driver.Domain, flags uint32) ([][]int, error) {
	def, isLive, err := c.readDef(h, flags, "qemuDomainGetVcpuPinInfo")
	if err != nil {
		return nil, err
	}
	auto := c.liveAutoCPUs(h, isLive)
	out := make([][]int, def.VCPUs)
	for i := range out {
		out[i] = pinSet(def, "vcpupin", i, auto)
	}
	return out, nil
}

func (c *conn) DomainGetEmulatorPinInfo(h driver.Domain, flags uint32) ([]int, error) {
	def, isLive, err := c.readDef(h, flags, "qemuDomainGetEmulatorPinInfo")
	if err != nil {
		return nil, err
	}
	return pinSet(def, "emulatorpin", 0, c.liveAutoCPUs(h, isLive)), nil
}

func (c *conn) DomainGetIOThreadInfo(h driver.Domain, flags uint32) ([]driver.IOThreadInfo, error) {
	def, isLive, err := c.readDef(h, flags, "qemuDomainGetIOThreadInfo")
	if err != nil {
		return nil, err
	}
	if isLive {
		return c.liveIOThreadInfo(h)
	}
	var out []driver.IOThreadInfo
	for _, id := range def.IOThreadIDs() {
		out = append(out, driver.IOThreadInfo{ID: uint32(id), CPUs: pinSet(def, "iothreadpin", id, nil)})
	}
	return out, nil
}

func errEmptyPin() error {
	return errQEMU(virerr.ErrInvalidArg, "%s", "Empty cpu list for pinning")
}

// pinChange is one pinning call: check the target in each definition it
// affects, move the running thread, record the set.
type pinChange struct {
	kind   string // vcpupin, emulatorpin, iothreadpin
	id     int
	cpus   []int
	fn     string                                  // libvirt's function, for flag errors
	check  func(def *conf.Domain, live bool) error // target exists
	thread func(v *vm) (int, bool, error)          // running thread to move; false: none
}

func (c *conn) applyPin(h driver.Domain, p pinChange, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return errFlagsFn(flags&^(affectLive|affectConfig), p.fn)
	}
	v, err := c.jobVM(h, "pin")
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
	if config {
		if err := p.check(def, false); err != nil {
			return err
		}
	}
	if len(p.cpus) == 0 {
		if p.kind == "iothreadpin" {
			return errQEMU(virerr.ErrInvalidArg, "%s", "Empty iothread cpumap list for pinning")
		}
		return errEmptyPin()
	}
	set := conf.FormatBitmap(p.cpus)
	if live && liveDef != nil {
		if err := p.check(liveDef, true); err != nil {
			return err
		}
		tid, ok, err := p.thread(v)
		if err != nil {
			return err
		}
		if ok {
			// The thread's cgroup cpuset first, so that it allows the
			// new affinity (cgroup_setup.go).
			if err := pinCgroup(v, p.kind, p.id, p.cpus); err != nil {
				return err
			}
			if err := setAffinity(tid, p.cpus); err != nil {
				return errQEMU(virerr.ErrSystemError, "cannot set CPU affinity on process %d: %v", tid, err)
			}
		}
		c.d.modifyLive(v, func(l *conf.Domain) { l.SetPin(p.kind, p.id, set) })
	}
	if config {
		nd := def.Clone()
		nd.SetPin(p.kind, p.id, set)
		if err := c.d.publishConfig(v, nd); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) DomainPinVcpu(h driver.Domain, vcpu uint32, cpus []int, flags uint32) error {
	return c.applyPin(h, pinChange{kind: "vcpupin", id: int(vcpu), cpus: cpus, fn: "qemuDomainPinVcpuFlags",
		check: func(def *conf.Domain, live bool) error {
			if uint(vcpu) < def.VCPUs {
				return nil
			}
			if live {
				return errQEMU(virerr.ErrInvalidArg, "vcpu %d is out of range of live cpu count %d", vcpu, def.VCPUs)
			}
			return errQEMU(virerr.ErrInvalidArg, "vcpu %d is out of range of persistent cpu count %d", vcpu, def.CurrentVCPUs)
		},
		thread: func(v *vm) (int, bool, error) { return c.vcpuThread(v, int(vcpu)) },
	}, flags)
}

func (c *conn) DomainPinEmulator(h driver.Domain, cpus []int, flags uint32) error {
	return c.applyPin(h, pinChange{kind: "emulatorpin", cpus: cpus, fn: "qemuDomainPinEmulator",
		check: func(*conf.Domain, bool) error { return nil },
		thread: func(v *vm) (int, bool, error) {
			v.mu.Lock()
			defer v.mu.Unlock()
			if v.proc == nil {
				return 0, false, nil
			}
			return v.proc.pid, true, nil
		},
	}, flags)
}

func (c *conn) DomainPinIOThread(h driver.Domain, id uint32, cpus []int, flags uint32) error {
	return c.applyPin(h, pinChange{kind: "iothreadpin", id: int(id), cpus: cpus, fn: "qemuDomainPinIOThread",
		check: func(def *conf.Domain, live bool) error {
			for _, n := range def.IOThreadIDs() {
				if n == int(id) {
					return nil
				}
			}
			if live {
				return errQEMU(virerr.ErrInvalidArg, "iothread %d not found", id)
			}
			return errQEMU(virerr.ErrInvalidArg, "iothreadid %d not found", id)
		},
		thread: func(v *vm) (int, bool, error) { return c.iothreadThread(v, int(id)) },
	}, flags)
}

// vcpuThread asks QEMU for the thread of vCPU n (the caller holds the
// guest's job); false when the vCPU is offline.
func (c *conn) vcpuThread(v *vm, n int) (int, bool, error) {
	mon := c.monitorOf(v)
	if mon == nil {
		return 0, false, errNotRunning()
	}
	var cpus []struct {
		CPUIndex int `json:"cpu-index"`
		ThreadID int `json:"thread-id"`
	}
	if err := mon.Execute(hotplugCtx(), "query-cpus-fast", nil, &cpus); err != nil {
		return 0, false, qmpError(err)
	}
	for _, cpu := range cpus {
		if cpu.CPUIndex == n {
			return cpu.ThreadID, true, nil
		}
	}
	return 0, false, nil
}

// iothreadThread asks QEMU for the thread of iothread n.
func (c *conn) iothreadThread(v *vm, n int) (int, bool, error) {
	mon := c.monitorOf(v)
	if mon == nil {
		return 0, false, errNotRunning()
	}
	var its []struct {
		ID       string `json:"id"`
		ThreadID int    `json:"thread-id"`
	}
	if err := mon.Execute(hotplugCtx(), "query-iothreads", nil, &its); err != nil {
		return 0, false, qmpError(err)
	}
	for _, it := range its {
		if it.ID == "iothread"+strconv.Itoa(n) {
			return it.ThreadID, true, nil
		}
	}
	return 0, false, nil
}

func (c *conn) monitorOf(v *vm) monitor {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.mon
}
