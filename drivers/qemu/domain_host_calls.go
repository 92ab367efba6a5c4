package qemu

import (
	"context"
	"fmt"
	"time"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// Everyday calls on a running guest: inject-nmi, control info, disk I/O
// errors. The agent calls are in agent_calls.go.

// errFlagsFn is virCheckFlags' error.
func errFlagsFn(flags uint32, fn string) error {
	return virerr.Raw(virerr.FromQemu, virerr.ErrInvalidArg, fmt.Sprintf("unsupported flags (0x%x) in function %s", flags, fn))
}

func (c *conn) DomainInjectNMI(h driver.Domain, flags uint32) error {
	if flags != 0 {
		return errFlagsFn(flags, "qemuDomainInjectNMI")
	}
	return c.withJob(h, "inject nmi", func(v *vm, mon monitor) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := qmp.InjectNMI(ctx, mon); err != nil {
			return errQEMU(virerr.ErrInternalError, "%v", err)
		}
		return nil
	})
}

// libvirt's virDomainControlState and virDomainControlErrorReason.
const (
	controlOK                 = 0
	controlJob                = 1
	controlOccupied           = 2
	controlError              = 3
	controlErrorReasonMonitor = 2
)

// DomainGetControlInfo is qemuDomainGetControlInfo: a guest govirtd cannot
// manage has a monitor error; one with a sync job is occupied (inside an
// async job: in a job, timed from the async job's start), else OK.
func (c *conn) DomainGetControlInfo(h driver.Domain, flags uint32) (driver.DomainControlInfo, error) {
	if flags != 0 {
		return driver.DomainControlInfo{}, errFlagsFn(flags, "qemuDomainGetControlInfo")
	}
	var info driver.DomainControlInfo
	var broken bool
	err := c.withVM(h, func(v *vm) error {
		if !v.active() {
			return errNotRunning()
		}
		broken = v.brokenMsg != ""
		return nil
	})
	if err != nil {
		return info, err
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return info, err
	}
	if broken {
		return driver.DomainControlInfo{State: controlError, Details: controlErrorReasonMonitor}, nil
	}
	v.job.mu.Lock()
	active, started, async, asyncStarted := v.job.active, v.job.started, v.job.async, v.job.asyncStarted
	v.job.mu.Unlock()
	now := time.Now()
	switch {
	case active != jobNone && async != asyncNone:
		info = driver.DomainControlInfo{State: controlJob, StateTime: uint64(now.Sub(asyncStarted).Milliseconds())}
	case active != jobNone:
		info = driver.DomainControlInfo{State: controlOccupied, StateTime: uint64(now.Sub(started).Milliseconds())}
	default:
		info = driver.DomainControlInfo{State: controlOK}
	}
	return info, nil
}

// virDomainDiskErrorCode.
const (
	diskErrorNone    = 0
	diskErrorUnspec  = 1
	diskErrorNoSpace = 2
)

// DomainGetDiskErrors is qemuDomainGetDiskErrors: with max 0 the number
// of disks; otherwise the disks whose io-status is not "ok", in the
// definition's order, at most max.
func (c *conn) DomainGetDiskErrors(h driver.Domain, max uint32, flags uint32) ([]driver.DiskError, int32, error) {
	if flags != 0 {
		return nil, 0, errFlagsFn(flags, "qemuDomainGetDiskErrors")
	}
	var out []driver.DiskError
	var count int32
	err := c.withJob(h, "disk errors", func(v *vm, mon monitor) error {
		v.mu.Lock()
		live := v.live
		v.mu.Unlock()
		if live == nil {
			return errNotRunning()
		}
		if max == 0 {
			count = int32(len(live.Devices.Disks))
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		blocks, err := qmp.QueryBlockIOStatus(ctx, mon)
		if err != nil {
			return errQEMU(virerr.ErrInternalError, "%v", err)
		}
		status := map[string]int32{}
		for _, b := range blocks {
			code := int32(diskErrorNone)
			switch b.IOStatus {
			case "failed":
				code = diskErrorUnspec
			case "nospace":
				code = diskErrorNoSpace
			}
			if code == diskErrorNone {
				continue
			}
			if d := diskByQOM(live, b.Device, b.QDev); d != nil {
				status[d.TargetDev] = code
			}
		}
		for _, d := range live.Devices.Disks {
			if code, ok := status[d.TargetDev]; ok {
				if uint32(len(out)) == max {
					break
				}
				out = append(out, driver.DiskError{Disk: d.TargetDev, Error: code})
			}
		}
		count = int32(len(out))
		return nil
	})
	return out, count, err
}

// domainTimeSync is VIR_DOMAIN_TIME_SYNC.
const domainTimeSync = 1

// domainPasswordEncrypted is VIR_DOMAIN_PASSWORD_ENCRYPTED.
const domainPasswordEncrypted = 1
