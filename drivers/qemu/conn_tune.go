package qemu

import (
	"context"
	"errors"
	"runtime"

	"govirt/driver"
	"govirt/drivers/qemu/agent"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
	"govirt/virerr"
)

// virDomainModificationImpact and the memory/vcpu "maximum" flag.
const (
	affectLive   = 1
	affectConfig = 2
	affectMax    = 4
)

// impact resolves VIR_DOMAIN_AFFECT_CURRENT: live when running, else config.
func impact(flags uint32, active bool) (live, config bool, err error) {
	live, config = flags&affectLive != 0, flags&affectConfig != 0
	if !live && !config {
		live, config = active, !active
	}
	if live && !active {
		return false, false, errNotRunning()
	}
	return live, config, nil
}

func (c *conn) DomainSetMemoryFlags(h driver.Domain, kib uint64, flags uint32) error {
	v, err := c.jobVM(h, "setmem")
	if err != nil {
		return err
	}
	defer v.job.release()
	v.mu.Lock()
	active, mon, def := v.active(), v.mon, v.def
	v.mu.Unlock()
	live, config, err := impact(flags, active)
	if err != nil {
		return err
	}
	if config && def == nil {
		return errQEMU(virerr.ErrOperationInvalid, "cannot change persistent config of a transient domain")
	}
	if live {
		if flags&affectMax != 0 {
			return errQEMU(virerr.ErrOperationInvalid, "cannot resize the maximum memory on an active domain")
		}
		v.mu.Lock()
		max := v.live.Memory
		v.mu.Unlock()
		if kib > max {
			return errQEMU(virerr.ErrInvalidArg, "cannot set memory higher than max memory")
		}
		// The live <currentMemory> follows the guest's driver through
		// BALLOON_CHANGE (balloonChanged), as in libvirt: the request
		// alone changes nothing the guest gave back.
		if err := qmp.Balloon(context.Background(), mon, kib*1024); err != nil {
			var qe *qmp.Error
			if errors.As(err, &qe) && qe.Class == "DeviceNotActive" {
				return errQEMU(virerr.ErrOperationInvalid, "Unable to change memory of active domain without the balloon device and guest OS balloon driver")
			}
			return qmpFailed("setting the balloon", err)
		}
	}
	if config {
		nd := def.Clone()
		if flags&affectMax != 0 {
			nd.Memory = kib
			if nd.CurrentMemory > kib {
				nd.CurrentMemory = kib
			}
		} else {
			if kib > nd.Memory {
				return errQEMU(virerr.ErrInvalidArg, "cannot set memory higher than max memory")
			}
			nd.CurrentMemory = kib
		}
		if err := c.d.saveDef(nd); err != nil {
			return err
		}
		v.mu.Lock()
		v.def = nd
		v.mu.Unlock()
	}
	return nil
}

func (c *conn) DomainSetMaxMemory(h driver.Domain, kib uint64) error {
	return c.DomainSetMemoryFlags(h, kib, affectConfig|affectMax)
}

// DomainSetVcpusFlags changes the vCPU count of the persistent definition
// and/or of the running guest (vCPU hotplug).
func (c *conn) DomainSetVcpusFlags(h driver.Domain, n uint32, flags uint32) error {
	// VIR_DOMAIN_VCPU_MAXIMUM (4), _GUEST (8), _HOTPLUGGABLE (16)
	if bad := flags &^ (affectLive | affectConfig | affectMax | 8 | 16); bad != 0 {
		return errQEMU(virerr.ErrInvalidArg, "unsupported flags (0x%x) in function qemuDomainSetVcpusFlags", bad)
	}
	if flags&8 != 0 {
		return errQEMU(virerr.ErrOperationUnsupported, "setting the vCPUs of a guest through its agent is not supported")
	}
	v, err := c.jobVM(h, "setvcpus")
	if err != nil {
		return err
	}
	defer v.job.release()
	v.mu.Lock()
	active, def := v.active(), v.def
	v.mu.Unlock()
	live, config, err := impact(flags, active)
	if err != nil {
		return err
	}
	if live && flags&affectMax != 0 {
		return errQEMU(virerr.ErrOperationUnsupported, "maximum vcpu count of a live domain can't be modified")
	}
	if config && def == nil {
		return errQEMU(virerr.ErrOperationInvalid, "cannot change persistent config of a transient domain")
	}
	if n == 0 {
		return errQEMU(virerr.ErrInvalidArg, "argument unsupported: vcpu count must be at least 1")
	}
	if config && uint(n) > def.VCPUs && flags&affectMax == 0 {
		return errQEMU(virerr.ErrInvalidArg, "requested vcpus is greater than max allowable vcpus for the persistent domain: %d > %d", n, def.VCPUs)
	}
	if live {
		// vCPU hotplug (vcpu_hotplug.go); the definition follows after
		if err := c.d.setVcpusLive(v, uint(n)); err != nil {
			return err
		}
		if !config {
			return nil
		}
	}
	nd := def.Clone()
	if flags&affectMax != 0 {
		nd.VCPUs = uint(n)
		if nd.CurrentVCPUs > nd.VCPUs {
			nd.CurrentVCPUs = nd.VCPUs
		}
	} else {
		if uint(n) > nd.VCPUs {
			return errQEMU(virerr.ErrInvalidArg, "requested vcpus is greater than max allowable vcpus for the persistent domain: %d > %d", n, nd.VCPUs)
		}
		nd.CurrentVCPUs = uint(n)
	}
	if nd.CurrentVCPUs == nd.VCPUs {
		// libvirt writes current only while a vCPU is offline.
		nd.SetValue("vcpu/@current", "")
	}
	if err := resizeVcpuStates(def, nd, uint(n), flags&affectMax != 0); err != nil {
		return err
	}
	if err := c.d.saveDef(nd); err != nil {
		return err
	}
	v.mu.Lock()
	v.def = nd
	v.mu.Unlock()
	return nil
}

func (c *conn) DomainGetVcpusFlags(h driver.Domain, flags uint32) (int32, error) {
	if err := checkFlagsMask(flags, affectLive|affectConfig|affectMax|vcpuGuest, "qemuDomainGetVcpusFlags"); err != nil {
		return -1, err
	}
	var n int32
	err := c.withVM(h, func(v *vm) error {
		def := v.current()
		if flags&affectConfig != 0 && v.def != nil {
			def = v.def
		} else if flags&affectLive != 0 && !v.active() {
			// virDomainObjUpdateModificationImpact's error
			return virerr.New(virerr.FromDomain, virerr.ErrOperationInvalid, "domain is not running")
		}
		n = int32(def.CurrentVCPUs)
		if flags&affectMax != 0 {
			n = int32(def.VCPUs)
		}
		return nil
	})
	if err != nil || flags&vcpuGuest == 0 {
		return n, err
	}
	return c.guestVcpuCount(h, flags&affectMax != 0)
}

// vcpuGuest is VIR_DOMAIN_VCPU_GUEST: the count the guest agent reports.
const vcpuGuest = 8

// guestVcpuCount is qemuDomainGetVcpusFlags with VIR_DOMAIN_VCPU_GUEST:
// guest-get-vcpus, all of them (maximum) or the online ones.
func (c *conn) guestVcpuCount(h driver.Domain, maximum bool) (int32, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return -1, err
	}
	v.mu.Lock()
	active := v.active()
	v.mu.Unlock()
	if !active {
		return -1, errQEMU(virerr.ErrInvalidArg, "vCPU count provided by the guest agent can only be requested for live domains")
	}
	var n int32
	err = c.withAgent(h, "vcpu count", false, func(v *vm, ag *agent.Agent) error {
		var list []struct {
			Online bool `json:"online"`
		}
		if err := ag.Command(c.waitCtx(), "guest-get-vcpus", nil, &list); err != nil {
			var me *agent.MalformedError
			if asMalformed(err, &me) {
				return errQEMU(virerr.ErrInternalError, "guest-get-vcpus reply was missing return data")
			}
			return agentErr(err)
		}
		for _, e := range list {
			if maximum || e.Online {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return -1, err
	}
	return n, nil
}

func (c *conn) DomainGetMaxVcpus(h driver.Domain) (int32, error) {
	return c.DomainGetVcpusFlags(h, affectLive|affectMax)
}

// DomainGetVcpus reports each vCPU thread's host view (virsh vcpuinfo).
func (c *conn) DomainGetVcpus(h driver.Domain, maxinfo, maplen int32) ([]driver.VcpuInfo, []byte, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, nil, err
	}
	v.mu.Lock()
	active, max := v.active(), 0
	pid := 0
	var online []int
	if active {
		max = int(v.live.VCPUs)
		// the online vCPUs by id, which need not be the first ones
		// (qemuDomainHelperGetVcpus skips the offline ones)
		if st, _, err := command.VcpuStates(v.live); err == nil {
			for i, s := range st {
				if s.Online {
					online = append(online, i)
				}
			}
		} else {
			for i := 0; i < int(v.live.CurrentVCPUs); i++ {
				online = append(online, i)
			}
		}
		if v.proc != nil {
			pid = v.proc.pid
		}
	}
	v.mu.Unlock()
	if !active {
		return nil, nil, errQEMU(virerr.ErrOperationInvalid, "cannot list vcpu pinning for an inactive domain")
	}
	if int(maxinfo) < len(online) {
		online = online[:maxinfo]
	}
	n := len(online)
	all := vcpuInfos(pid, c.d.sample(v), max)
	infos := make([]vcpuInfo, n)
	out := make([]driver.VcpuInfo, n)
	for i, id := range online {
		infos[i] = all[id]
		vi := all[id]
		out[i] = driver.VcpuInfo{Number: uint32(vi.number), State: 1, CPUTime: vi.time, CPU: vi.cpu}
	}
	// Each vCPU thread's affinity as the kernel has it
	// (qemuDomainHelperGetVcpus: virProcessGetAffinity); every host CPU
	// when the thread is not known.
	maps := make([]byte, int(maplen)*n)
	cpus := runtime.NumCPU()
	for i := 0; i < n; i++ {
		var mask []uint64
		if i < len(infos) && infos[i].haveThreadID {
			mask, _ = getAffinity(infos[i].tid)
		}
		for cpu := 0; cpu < cpus && cpu/8 < int(maplen); cpu++ {
			if mask == nil || (cpu/64 < len(mask) && mask[cpu/64]&(1<<(cpu%64)) != 0) {
				maps[i*int(maplen)+cpu/8] |= 1 << (cpu % 8)
			}
		}
	}
	return out, maps, nil
}
