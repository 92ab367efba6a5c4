package qemu

import (
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// CPU pinning of a guest's QEMU (<vcpu cpuset=''>, <cputune> pins): the
// process is forked onto the emulator's set, as libvirt's
// qemuProcessInitCpuAffinity does, then every vCPU and iothread is moved
// to its own set once QEMU reports the thread ids.

// cpuMask is a sched_setaffinity mask of the CPUs in set.
func cpuMask(set []int) []uint64 {
	n := 1
	for _, c := range set {
		if c/64+1 > n {
			n = c/64 + 1
		}
	}
	m := make([]uint64, n)
	for _, c := range set {
		m[c/64] |= 1 << (c % 64)
	}
	return m
}

func setAffinity(tid int, set []int) error {
	m := cpuMask(set)
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), uintptr(len(m)*8), uintptr(unsafe.Pointer(&m[0])))
	if e != 0 {
		return e
	}
	return nil
}

func getAffinity(tid int) ([]uint64, error) {
	m := make([]uint64, 64)
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, uintptr(tid), uintptr(len(m)*8), uintptr(unsafe.Pointer(&m[0])))
	if e != 0 {
		return nil, e
	}
	return m, nil
}

// onCPUs runs start on an OS thread restricted to set, so that the
// process it forks inherits the set from its first instruction.
func onCPUs(set []int, start func() error) error {
	if set == nil {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := getAffinity(0)
	if err != nil {
		return errQEMU(virerr.ErrSystemError, "cannot get CPU affinity: %v", err)
	}
	if err := setAffinity(0, set); err != nil {
		return errQEMU(virerr.ErrSystemError, "cannot set CPU affinity on process: %v", err)
	}
	defer syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, uintptr(len(old)*8), uintptr(unsafe.Pointer(&old[0])))
	return start()
}

// schedPolicies are Linux's SCHED_* values of libvirt's policy names.
var schedPolicies = map[string]int{"fifo": 1, "rr": 2, "batch": 3, "idle": 5}

// setScheduler is virProcessSetScheduler for one thread.
func setScheduler(tid int, s command.Sched) error {
	pol, ok := schedPolicies[s.Policy]
	if !ok {
		return errQEMU(virerr.ErrInternalError, "unknown scheduler policy '%s'", s.Policy)
	}
	param := struct{ prio int32 }{int32(s.Priority)}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), uintptr(pol), uintptr(unsafe.Pointer(&param))); e != 0 {
		return errQEMU(virerr.ErrSystemError, "Cannot set scheduler parameters for pid %d: %v", tid, e)
	}
	return nil
}

// pinThreads moves the vCPU and iothread threads of a started QEMU
// (queryStartThreads) to their sets and scheduling policies; pid is
// QEMU's main (emulator) thread.
func pinThreads(pid int, th *startThreads, p *command.Pinning) error {
	if p == nil {
		return nil
	}
	if p.EmulatorSched != nil {
		if err := setScheduler(pid, *p.EmulatorSched); err != nil {
			return err
		}
	}
	if p.VCPU != nil || p.Default != nil || p.VCPUSched != nil {
		for _, c := range th.vcpus {
			if sc, ok := p.VCPUSched[c.CPUIndex]; ok {
				if err := setScheduler(c.ThreadID, sc); err != nil {
					return err
				}
			}
			set := p.Default
			if s, ok := p.VCPU[c.CPUIndex]; ok {
				set = s
			}
			if set == nil {
				continue
			}
			if err := setAffinity(c.ThreadID, set); err != nil {
				return errQEMU(virerr.ErrSystemError, "cannot set CPU affinity on process %d: %v", c.ThreadID, err)
			}
		}
	}
	if p.IOThread != nil || p.Default != nil || p.IOThreadSched != nil {
		for _, it := range th.iothreads {
			n, err := strconv.Atoi(strings.TrimPrefix(it.ID, "iothread"))
			if err != nil {
				continue
			}
			if sc, ok := p.IOThreadSched[n]; ok {
				if err := setScheduler(it.ThreadID, sc); err != nil {
					return err
				}
			}
			set := p.Default
			if s, ok := p.IOThread[n]; ok {
				set = s
			}
			if set == nil {
				continue
			}
			if err := setAffinity(it.ThreadID, set); err != nil {
				return errQEMU(virerr.ErrSystemError, "cannot set CPU affinity on process %d: %v", it.ThreadID, err)
			}
		}
	}
	return nil
}
