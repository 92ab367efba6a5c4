package command

import (
	"govirt/conf"
	"strconv"
)

// CPU pinning: <vcpu cpuset=''> and <cputune> vcpupin, emulatorpin and
// iothreadpin. Nothing of it is on the command line; the driver pins
// QEMU's threads (libvirt's qemuProcessInitCpuAffinity at fork, then
// qemuProcessSetupVcpus/IOThreads/Emulator once the threads exist).

// Pinning is the host CPUs each kind of QEMU thread may run on; a nil set
// leaves those threads unpinned.
type Pinning struct {
	// Default is <vcpu cpuset=''>, for every thread without a pin.
	Default []int
	// Emulator is <emulatorpin>; the whole process starts on it (or on
	// Default).
	Emulator []int
	VCPU     map[int][]int // <vcpupin vcpu=''>
	IOThread map[int][]int // <iothreadpin iothread=''>

	// Scheduling policies of <vcpusched>, <iothreadsched> and
	// <emulatorsched>, by thread.
	VCPUSched     map[int]Sched
	IOThreadSched map[int]Sched
	EmulatorSched *Sched
}

// Sched is a thread's scheduling policy (libvirt's virProcessSchedPolicy
// names: batch, idle, fifo, rr) and its real-time priority.
type Sched struct {
	Policy   string
	Priority int
}

func parseSched(e interface{ Attr(string) (string, bool) }) (Sched, error) {
	pol, _ := e.Attr("scheduler")
	s := Sched{Policy: pol}
	switch pol {
	case "batch", "idle":
	case "fifo", "rr":
		p, ok := e.Attr("priority")
		if !ok {
			return s, xmlError("Missing required attribute 'priority' in element")
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return s, xmlError("Invalid value for attribute 'priority': '%s'", p)
		}
		s.Priority = n
	case "":
		return s, xmlError("Missing required attribute 'scheduler'")
	default:
		return s, xmlError("Invalid value for attribute 'scheduler': '%s'", pol)
	}
	return s, nil
}

// Initial is the set QEMU is started on, before its threads exist.
func (p *Pinning) Initial() []int {
	if p.Emulator != nil {
		return p.Emulator
	}
	return p.Default
}

func (b *builder) preparePinning() error {
	p, err := b.pinning()
	b.pin = p
	return err
}

func (b *builder) pinning() (*Pinning, error) {
	t := b.tree()
	p := &Pinning{}
	var err error
	if cs := attr(child(t, "vcpu"), "cpuset"); cs != "" {
		if p.Default, err = conf.ParseBitmap(cs); err != nil {
			return nil, err
		}
	}
	ct := child(t, "cputune")
	if e := child(ct, "emulatorpin"); e != nil {
		if p.Emulator, err = conf.ParseBitmap(attr(e, "cpuset")); err != nil {
			return nil, err
		}
	}
	ids, err := b.iothreads()
	if err != nil {
		return nil, err
	}
	for _, e := range children(ct, "vcpupin") {
		n, err := strconv.Atoi(attr(e, "vcpu"))
		if err != nil || n < 0 || uint(n) >= b.def.VCPUs {
			return nil, xmlError("vcpu id must be lower than maxvcpus")
		}
		if p.VCPU == nil {
			p.VCPU = map[int][]int{}
		}
		if _, dup := p.VCPU[n]; dup {
			return nil, xmlError("duplicate vcpupin for vcpu '%d'", n)
		}
		if p.VCPU[n], err = conf.ParseBitmap(attr(e, "cpuset")); err != nil {
			return nil, err
		}
	}
	for _, e := range children(ct, "iothreadpin") {
		n, err := strconv.Atoi(attr(e, "iothread"))
		found := false
		for _, it := range ids {
			found = found || int(it.id) == n
		}
		if err != nil || !found {
			return nil, xmlError("Cannot find 'iothread' : %s", attr(e, "iothread"))
		}
		if p.IOThread == nil {
			p.IOThread = map[int][]int{}
		}
		if p.IOThread[n], err = conf.ParseBitmap(attr(e, "cpuset")); err != nil {
			return nil, err
		}
	}
	for _, x := range []struct {
		elem, attr string
		max        int
		dst        *map[int]Sched
	}{{"vcpusched", "vcpus", int(b.def.VCPUs), &p.VCPUSched}, {"iothreadsched", "iothreads", -1, &p.IOThreadSched}} {
		for _, e := range children(ct, x.elem) {
			set := attr(e, x.attr)
			if set == "" {
				return nil, xmlError("Missing attribute '%s' in element '%s'", x.attr, x.elem)
			}
			ids, err := conf.ParseBitmap(set)
			if err != nil {
				return nil, err
			}
			if len(ids) == 0 {
				return nil, unsupported("'%s' scheduler bitmap '%s' is empty", x.attr, set)
			}
			sc, err := parseSched(e)
			if err != nil {
				return nil, err
			}
			if *x.dst == nil {
				*x.dst = map[int]Sched{}
			}
			for _, id := range ids {
				if x.max >= 0 && id >= x.max {
					return nil, xmlError("vcpu id must be lower than maxvcpus")
				}
				if _, dup := (*x.dst)[id]; dup {
					return nil, xmlError("%s attributes '%s' must not overlap", x.attr, x.attr)
				}
				(*x.dst)[id] = sc
			}
		}
	}
	if e := child(ct, "emulatorsched"); e != nil {
		sc, err := parseSched(e)
		if err != nil {
			return nil, err
		}
		p.EmulatorSched = &sc
	}
	if p.Default == nil && p.Emulator == nil && p.VCPU == nil && p.IOThread == nil &&
		p.VCPUSched == nil && p.IOThreadSched == nil && p.EmulatorSched == nil {
		return nil, nil
	}
	return p, nil
}

// PinningOf reads def's pins as a start does (for a vCPU plugged into a
// running guest, which gets its pin or the default set as libvirt's
// qemuProcessSetupVcpu gives it).
func PinningOf(def *conf.Domain) (*Pinning, error) {
	b := &builder{def: def}
	return b.pinning()
}
