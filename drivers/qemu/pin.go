package qemu

import (
	"context"
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

// pinThreads moves the vCPU and iothread threads of a started QEMU to
// their sets.
func pinThreads(ctx context.Context, mon monitor, p *command.Pinning) error {
	if p == nil {
		return nil
	}
	if p.VCPU != nil || p.Default != nil {
		var cpus []struct {
			CPUIndex int `json:"cpu-index"`
			ThreadID int `json:"thread-id"`
		}
		if err := mon.Execute(ctx, "query-cpus-fast", nil, &cpus); err != nil {
			return err
		}
		for _, c := range cpus {
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
	if p.IOThread != nil || p.Default != nil {
		var its []struct {
			ID       string `json:"id"`
			ThreadID int    `json:"thread-id"`
		}
		if err := mon.Execute(ctx, "query-iothreads", nil, &its); err != nil {
			return err
		}
		for _, it := range its {
			n, err := strconv.Atoi(strings.TrimPrefix(it.ID, "iothread"))
			if err != nil {
				continue
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
