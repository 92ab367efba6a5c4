package qemu

import (
	"encoding/binary"
	"os"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// virsh perf --enable/--disable as libvirt's qemuDomainSetPerfEvents and
// virperf.c: each enabled event is a perf_event_open counter on QEMU's
// process (inherited by its threads), opened again when the guest starts
// or a restarted daemon finds it, read by domstats --perf. A host without
// the counter (no hardware PMU, no Intel CQM) gives libvirt's error.

// perfState holds a running guest's open counters by event name.
type perfState struct {
	mu  sync.Mutex
	fds map[string]int
}

// perfAttr is an event's perf_event_attr type and config (virperf.c's
// attrs): PERF_TYPE_HARDWARE 0, PERF_TYPE_SOFTWARE 1. cmt, mbmt and mbml
// take the type of /sys/devices/intel_cqm.
var perfAttr = map[string][2]uint64{
	"cmt": {0, 1}, "mbmt": {0, 2}, "mbml": {0, 3},
	"cpu_cycles": {0, 0}, "instructions": {0, 1}, "cache_references": {0, 2}, "cache_misses": {0, 3},
	"branch_instructions": {0, 4}, "branch_misses": {0, 5}, "bus_cycles": {0, 6},
	"stalled_cycles_frontend": {0, 7}, "stalled_cycles_backend": {0, 8}, "ref_cpu_cycles": {0, 9},
	"cpu_clock": {1, 0}, "task_clock": {1, 1}, "page_faults": {1, 2}, "context_switches": {1, 3},
	"cpu_migrations": {1, 4}, "page_faults_min": {1, 5}, "page_faults_maj": {1, 6},
	"alignment_faults": {1, 7}, "emulation_faults": {1, 8},
}

func isRDT(name string) bool { return name == "cmt" || name == "mbmt" || name == "mbml" }

const (
	perfIOCEnable  = 0x2400 // _IO('$', 0)
	perfIOCDisable = 0x2401 // _IO('$', 1)

	perfFlagFDCloexec = 8
)

// perfOpen is virPerfEventEnable's perf_event_open: a disabled,
// inherited counter on pid, then enabled.
func perfOpen(name string, pid int) (int, error) {
	a := perfAttr[name]
	if isRDT(name) {
		data, err := os.ReadFile("/sys/devices/intel_cqm/type")
		if err != nil {
			return -1, errQEMU(virerr.ErrArgumentUnsupported, "unable to enable host cpu perf event for %s", name)
		}
		var typ uint64
		for _, c := range strings.TrimSpace(string(data)) {
			typ = typ*10 + uint64(c-'0')
		}
		a[0] = typ
	}
	// struct perf_event_attr, PERF_ATTR_SIZE_VER0 (64 bytes): type,
	// size, config, then the flag word (disabled bit 0, inherit bit 1)
	// at offset 40.
	var attr [64]byte
	binary.LittleEndian.PutUint32(attr[0:], uint32(a[0]))
	binary.LittleEndian.PutUint32(attr[4:], uint32(len(attr)))
	binary.LittleEndian.PutUint64(attr[8:], a[1])
	binary.LittleEndian.PutUint64(attr[40:], 1|2)
	// PERF_FLAG_FD_CLOEXEC: no QEMU spawned meanwhile inherits it.
	fd, _, e := syscall.Syscall6(syscall.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&attr[0])), uintptr(pid),
		^uintptr(0), ^uintptr(0), perfFlagFDCloexec, 0)
	if e != 0 {
		return -1, errQEMU(virerr.ErrSystemError, "unable to open host cpu perf event for %s: %s", name, errnoText(e))
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, perfIOCEnable, 0); e != 0 {
		syscall.Close(int(fd))
		return -1, errQEMU(virerr.ErrSystemError, "unable to enable host cpu perf event for %s: %s", name, errnoText(e))
	}
	return int(fd), nil
}

func (v *vm) perfEnable(name string, pid int) error {
	p := &v.ext.perf
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.fds[name]; ok {
		return nil
	}
	fd, err := perfOpen(name, pid)
	if err != nil {
		return err
	}
	if p.fds == nil {
		p.fds = map[string]int{}
	}
	p.fds[name] = fd
	return nil
}

func (v *vm) perfDisable(name string) error {
	p := &v.ext.perf
	p.mu.Lock()
	defer p.mu.Unlock()
	fd, ok := p.fds[name]
	if !ok {
		return nil
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), perfIOCDisable, 0); e != 0 {
		return errQEMU(virerr.ErrSystemError, "unable to disable host cpu perf event for %s: %s", name, errnoText(e))
	}
	syscall.Close(fd)
	delete(p.fds, name)
	return nil
}

// perfClose drops every counter of a run that ended.
func (v *vm) perfClose() {
	p := &v.ext.perf
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fd := range p.fds {
		syscall.Close(fd)
	}
	p.fds = nil
}

// perfRead is virPerfReadEvent for each open counter, in libvirt's event
// order (cmt scaled as libvirt does).
func (v *vm) perfRead() []driver.TypedParam {
	p := &v.ext.perf
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []driver.TypedParam
	for _, name := range perfEvents {
		fd, ok := p.fds[name]
		if !ok {
			continue
		}
		var buf [8]byte
		if n, err := syscall.Read(fd, buf[:]); err != nil || n != 8 {
			continue
		}
		val := binary.LittleEndian.Uint64(buf[:])
		if name == "cmt" {
			if data, err := os.ReadFile("/sys/devices/intel_cqm/events/llc_occupancy.scale"); err == nil {
				var scale uint64
				for _, c := range strings.TrimSpace(string(data)) {
					scale = scale*10 + uint64(c-'0')
				}
				val *= scale
			}
		}
		out = append(out, driver.TypedParam{Field: "perf." + name, Value: val})
	}
	return out
}

// perfEnabled reads <perf> of def: event name to enabled.
func perfEnabled(def *conf.Domain) map[string]bool {
	out := map[string]bool{}
	if tree := def.Tree(); tree != nil {
		if perf := tree.Child("perf"); perf != nil {
			for _, e := range perf.Children("event") {
				name, _ := e.Attr("name")
				on, _ := e.Attr("enabled")
				out[name] = on == "yes"
			}
		}
	}
	return out
}

// setPerfXML is conf's SetPerfEvents in libvirt's event order.
func setPerfXML(def *conf.Domain, changes map[string]bool) error {
	return def.SetPerfEvents(perfEvents, changes)
}

// startPerf opens the counters def enables on a started or reconnected
// guest (qemuProcessEnablePerf, qemuDomainPerfRestart).
func (d *Driver) startPerf(v *vm, def *conf.Domain, pid int) error {
	// Read once: each read builds the definition's whole element tree.
	on := perfEnabled(def)
	for _, name := range perfEvents {
		if on[name] {
			if err := v.perfEnable(name, pid); err != nil {
				return err
			}
		}
	}
	return nil
}

// DomainSetPerfEvents is qemuDomainSetPerfEvents.
func (c *conn) DomainSetPerfEvents(h driver.Domain, params []driver.TypedParam, flags uint32) error {
	if err := checkFlagsFn(flags, affectLive|affectConfig, "qemuDomainSetPerfEvents"); err != nil {
		return err
	}
	want := map[string]string{}
	for _, n := range perfEvents {
		want[n] = "boolean"
	}
	if err := driver.ValidateParams(params, want); err != nil {
		return err
	}
	v, err := c.jobVM(h, "perf")
	if err != nil {
		return err
	}
	defer v.job.release()
	live, persistent, err := tuneDefs(v, flags)
	if err != nil {
		return err
	}
	changes := map[string]bool{}
	if live != nil {
		v.mu.Lock()
		pid := 0
		if v.proc != nil {
			pid = v.proc.pid
		}
		v.mu.Unlock()
		var ferr error
		for _, p := range params {
			on := p.Value.(bool)
			if on {
				ferr = v.perfEnable(p.Field, pid)
			} else {
				ferr = v.perfDisable(p.Field)
			}
			if ferr != nil {
				break
			}
			changes[p.Field] = on
		}
		// What took effect before a failure is recorded, as libvirt
		// changes the live definition event by event.
		var xerr error
		if len(changes) > 0 {
			c.d.modifyLive(v, func(l *conf.Domain) { xerr = setPerfXML(l, changes) })
		}
		if ferr != nil {
			return ferr
		}
		if xerr != nil {
			return xerr
		}
	}
	if persistent != nil {
		for _, p := range params {
			changes[p.Field] = p.Value.(bool)
		}
		next := persistent.Clone()
		if err := setPerfXML(next, changes); err != nil {
			return err
		}
		return c.d.publishConfig(v, next)
	}
	return nil
}
