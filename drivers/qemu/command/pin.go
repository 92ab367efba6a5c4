package command

import (
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
	t := b.def.Tree()
	p := &Pinning{}
	var err error
	if cs := attr(child(t, "vcpu"), "cpuset"); cs != "" {
		if p.Default, err = parseBitmap(cs); err != nil {
			return nil, err
		}
	}
	ct := child(t, "cputune")
	if e := child(ct, "emulatorpin"); e != nil {
		if p.Emulator, err = parseBitmap(attr(e, "cpuset")); err != nil {
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
		if p.VCPU[n], err = parseBitmap(attr(e, "cpuset")); err != nil {
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
		if p.IOThread[n], err = parseBitmap(attr(e, "cpuset")); err != nil {
			return nil, err
		}
	}
	if p.Default == nil && p.Emulator == nil && p.VCPU == nil && p.IOThread == nil {
		return nil, nil
	}
	return p, nil
}
