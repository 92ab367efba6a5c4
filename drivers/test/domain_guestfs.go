package test

import (
	"fmt"

	"govirt/driver"
	"govirt/virerr"
)

// The guest file system calls of libvirt's test driver: every running
// guest has "/" and "/boot" on its first disk, and freezing only flips
// two flags.

var (
	_ driver.DomainGuestFS         = (*conn)(nil)
	_ driver.DomainProcessSignaler = (*conn)(nil)
)

// fsIndex is the flag of a mount point, or -1.
func fsIndex(mp string) int {
	switch mp {
	case "/":
		return 0
	case "/boot":
		return 1
	}
	return -1
}

// fsChange is testDomainFSFreeze (freeze true) and testDomainFSThaw.
func (in *instance) fsChange(d driver.Domain, mountpoints []string, freeze bool, flags uint32, fn string) (int32, error) {
	if err := checkFlags(flags, 0, fn); err != nil {
		return 0, err
	}
	var n int32
	err := in.runningDom(d, true, func(o *domObj) error {
		if len(mountpoints) == 0 {
			for i := range o.frozen {
				if o.frozen[i] != freeze {
					n++
				}
				o.frozen[i] = freeze
			}
			return nil
		}
		next := o.frozen
		for _, mp := range mountpoints {
			i := fsIndex(mp)
			if i < 0 {
				return errTest(virerr.ErrOperationInvalid, "mount point not found: %s", mp)
			}
			if next[i] != freeze {
				next[i] = freeze
				n++
			}
		}
		o.frozen = next
		return nil
	})
	return n, err
}

func (in *instance) DomainFSFreeze(d driver.Domain, mountpoints []string, flags uint32) (int32, error) {
	return in.fsChange(d, mountpoints, true, flags, "testDomainFSFreeze")
}

func (in *instance) DomainFSThaw(d driver.Domain, mountpoints []string, flags uint32) (int32, error) {
	return in.fsChange(d, mountpoints, false, flags, "testDomainFSThaw")
}

// DomainFSTrim is testDomainFSTrim: nothing to do for a known mount point.
func (in *instance) DomainFSTrim(d driver.Domain, mountPoint *string, minimum uint64, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainFSTrim"); err != nil {
		return err
	}
	return in.runningDom(d, false, func(*domObj) error {
		if mountPoint != nil && fsIndex(*mountPoint) < 0 {
			return errTest(virerr.ErrOperationInvalid, "mount point not found: %s", *mountPoint)
		}
		return nil
	})
}

// DomainGetFSInfo is testDomainGetFSInfo: "/" and "/boot" as partitions 1
// and 2 of the first disk device; none without one.
func (in *instance) DomainGetFSInfo(d driver.Domain, flags uint32) ([]driver.FSInfo, error) {
	if err := checkFlags(flags, 0, "testDomainGetFSInfo"); err != nil {
		return nil, err
	}
	var out []driver.FSInfo
	err := in.runningDom(d, false, func(o *domObj) error {
		for _, dk := range o.def.Devices.Disks {
			if dk.Device == "" || dk.Device == "disk" {
				out = []driver.FSInfo{
					{Mountpoint: "/", Name: dk.TargetDev + "1", Fstype: "ext4", DevAliases: []string{dk.TargetDev}},
					{Mountpoint: "/boot", Name: dk.TargetDev + "2", Fstype: "ext4", DevAliases: []string{dk.TargetDev}},
				}
				return nil
			}
		}
		return nil
	})
	return out, err
}

// processSignalLast is VIR_DOMAIN_PROCESS_SIGNAL_LAST.
const processSignalLast = 65

// DomainSendProcessSignal is testDomainSendProcessSignal: only pid 1, and
// nothing happens.
func (in *instance) DomainSendProcessSignal(d driver.Domain, pid int64, signum uint32, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainSendProcessSignal"); err != nil {
		return err
	}
	if pid != 1 {
		return errTest(virerr.ErrInvalidArg, "only sending a signal to pid 1 is supported")
	}
	if signum >= processSignalLast {
		return errTest(virerr.ErrInvalidArg, "%s", fmt.Sprintf("signum value %d is out of range", int32(signum)))
	}
	return in.withDom(d, func(*domObj) error { return nil })
}
