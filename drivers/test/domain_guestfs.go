package test

import (
	"govirt/driver"
	"govirt/virerr"
)

// The guest-facing calls libvirt's test driver fakes: a guest with the
// file systems "/" and "/boot", memory whose byte at offset N is N mod
// 256, and only pid 1 to signal.

// processSignalLast is VIR_DOMAIN_PROCESS_SIGNAL_LAST.
const processSignalLast = 65

func (in *instance) DomainSendProcessSignal(d driver.Domain, pid int64, signum uint32, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainSendProcessSignal"); err != nil {
		return err
	}
	if pid != 1 {
		return errTest(virerr.ErrInvalidArg, "only sending a signal to pid 1 is supported")
	}
	if signum >= processSignalLast {
		return errTest(virerr.ErrInvalidArg, "signum value %d is out of range", signum)
	}
	return in.withDom(d, func(*domObj) error { return nil })
}

// fsIndex maps the fake guest's mount points to their frozen flag.
func fsIndex(mount string) (int, error) {
	switch mount {
	case "/":
		return 0, nil
	case "/boot":
		return 1, nil
	}
	return 0, errTest(virerr.ErrOperationInvalid, "mount point not found: %s", mount)
}

func (in *instance) DomainFSFreeze(d driver.Domain, mounts []string, flags uint32) (int32, error) {
	return in.fsFreeze(d, mounts, flags, true, "testDomainFSFreeze")
}

func (in *instance) DomainFSThaw(d driver.Domain, mounts []string, flags uint32) (int32, error) {
	return in.fsFreeze(d, mounts, flags, false, "testDomainFSThaw")
}

// fsFreeze freezes (or thaws) the mount points given, all without any,
// and counts the file systems whose state changed; an unknown mount point
// changes nothing.
func (in *instance) fsFreeze(d driver.Domain, mounts []string, flags uint32, freeze bool, fn string) (int32, error) {
	if err := checkFlags(flags, 0, fn); err != nil {
		return 0, err
	}
	var n int32
	err := in.updateDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		state := o.frozen
		if len(mounts) == 0 {
			mounts = []string{"/", "/boot"}
		}
		for _, m := range mounts {
			i, err := fsIndex(m)
			if err != nil {
				return err
			}
			if state[i] != freeze {
				state[i] = freeze
				n++
			}
		}
		o.frozen = state
		return nil
	})
	return n, err
}

func (in *instance) DomainFSTrim(d driver.Domain, mount *string, minimum uint64, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainFSTrim"); err != nil {
		return err
	}
	return in.withDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		if mount != nil {
			_, err := fsIndex(*mount)
			return err
		}
		return nil
	})
}

// Memory peek flags.
const (
	memoryVirtual  = 1 << 0
	memoryPhysical = 1 << 1
)

func (in *instance) DomainMemoryPeek(d driver.Domain, offset uint64, size uint32, flags uint32) ([]byte, error) {
	if err := checkFlags(flags, memoryVirtual|memoryPhysical, "testDomainMemoryPeek"); err != nil {
		return nil, err
	}
	if flags != memoryVirtual && flags != memoryPhysical {
		return nil, errTest(virerr.ErrInvalidArg, "flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL")
	}
	var buf []byte
	err := in.withDom(d, func(o *domObj) error {
		if !o.active() {
			return errNotRunning()
		}
		buf = make([]byte, size)
		b := byte(offset)
		for i := range buf {
			buf[i] = b
			b++
		}
		return nil
	})
	return buf, err
}

func (in *instance) DomainGetLaunchSecurityInfo(d driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlags(flags, 0, "testDomainGetLaunchSecurityInfo"); err != nil {
		return nil, err
	}
	return nil, nil
}
