package qemu

import (
	"os"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/caps"
	"govirt/drivers/qemu/guestcpu"
	"govirt/drivers/qemu/postparse"
	"govirt/virerr"
)

// Every read here answers from cached state under the guest's state lock;
// none waits for a job or talks to QEMU.

func (c *conn) withVM(h driver.Domain, fn func(v *vm) error) error {
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.goneErr(); err != nil {
		return err
	}
	return fn(v)
}

func (c *conn) DomainGetInfo(h driver.Domain) (driver.DomainInfo, error) {
	var info driver.DomainInfo
	var pid int
	err := c.withVM(h, func(v *vm) error {
		def := v.current()
		info = driver.DomainInfo{State: v.state, MaxMem: def.Memory, Memory: def.CurrentMemory,
			NrVirtCPU: uint16(def.CurrentVCPUs)}
		if v.proc != nil {
			pid = v.proc.pid
		}
		return nil
	})
	if err == nil && pid > 0 {
		info.CPUTime = processCPUTime(pid)
	}
	return info, err
}

// processCPUTime reads utime+stime of pid in nanoseconds (0 if unknown).
func processCPUTime(pid int) uint64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// After the name: state is field 3; utime and stime are fields 14, 15.
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	const tick = 1e9 / 100 // USER_HZ is 100 on Linux
	return (ut + st) * tick
}

func (c *conn) DomainGetState(h driver.Domain, _ uint32) (driver.State, int32, error) {
	var s driver.State
	var r int32
	err := c.withVM(h, func(v *vm) error { s, r = v.state, v.reason; return nil })
	return s, r, err
}

func (c *conn) DomainGetXMLDesc(h driver.Domain, flags uint32) (string, error) {
	var def *conf.Domain
	var id int32
	var qc *caps.Caps
	var origCPU []byte
	err := c.withVM(h, func(v *vm) error {
		def, id, qc = v.current(), v.id, v.caps
		if v.active() {
			origCPU = v.origCPU
		}
		if flags&xmlInactive != 0 && v.def != nil {
			def, id, origCPU = v.def, -1, nil
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	// Format works on a copy so the cached definition is never touched
	// outside the lock.
	cp := def.Clone()
	if flags&uint32(conf.FormatMigratable) != 0 && origCPU != nil {
		// libvirt's migratable XML has the CPU the guest was started
		// with when QEMU changed it.
		if cp, err = guestcpu.WithCPU(def, origCPU); err != nil {
			return "", err
		}
	}
	cp.ID = int(id)
	if flags&uint32(conf.FormatMigratable) != 0 {
		// libvirt formats a migratable copy made by formatting the
		// definition inactive and parsing it back
		// (qemuDomainDefFormatBufInternal, virDomainDefCopy): no id,
		// no aliases or other run-time state.
		cp.ID = -1
		flags |= xmlInactive
		postparse.DropMigratableInputs(cp)
		postparse.ClearDefaultAudio(cp, postparse.Options{Audio: c.d.audioDefaults()})
	}
	if flags&uint32(conf.FormatUpdateCPU) != 0 {
		if err := c.updateCPUForXML(cp, qc); err != nil {
			return "", err
		}
	}
	out, err := cp.Format(conf.FormatFlags(flags))
	return string(out), err
}

func (c *conn) DomainGetOSType(h driver.Domain) (string, error) {
	var t string
	err := c.withVM(h, func(v *vm) error { t = v.current().OS.Type; return nil })
	return t, err
}

func (c *conn) DomainGetMaxMemory(h driver.Domain) (uint64, error) {
	var m uint64
	err := c.withVM(h, func(v *vm) error { m = v.current().Memory; return nil })
	return m, err
}

func (c *conn) DomainGetAutostart(h driver.Domain) (bool, error) {
	var a bool
	err := c.withVM(h, func(v *vm) error { a = v.autostart; return nil })
	return a, err
}

func (c *conn) DomainSetAutostart(h driver.Domain, on bool) error {
	v, err := c.d.doms.get(h)
	if err != nil {
		return err
	}
	v.mu.Lock()
	persistent, name := v.persistent, v.name
	v.mu.Unlock()
	if !persistent {
		return errQEMU(virerr.ErrOperationInvalid, "cannot set autostart for transient domain")
	}
	if err := c.d.setAutostartFile(name, on); err != nil {
		return err
	}
	v.mu.Lock()
	v.autostart = on
	v.mu.Unlock()
	return nil
}

func (c *conn) DomainIsActive(h driver.Domain) (bool, error) {
	var a bool
	err := c.withVM(h, func(v *vm) error { a = v.active(); return nil })
	return a, err
}

func (c *conn) DomainIsPersistent(h driver.Domain) (bool, error) {
	var p bool
	err := c.withVM(h, func(v *vm) error { p = v.persistent; return nil })
	return p, err
}

func (c *conn) DomainIsUpdated(h driver.Domain) (bool, error) {
	return false, c.withVM(h, func(*vm) error { return nil })
}
