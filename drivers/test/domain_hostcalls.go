package test

import (
	"govirt/driver"
	"govirt/internal/keycode"
	"govirt/virerr"
)

// The test driver's answers to the everyday running-guest calls, as
// libvirt's test driver gives them: nothing happens, but a guest that is
// not running is refused, and the guest clock and disk errors are its
// made-up ones.

// runningDom runs fn on a running domain's object.
func (in *instance) runningDom(d driver.Domain, write bool, fn func(o *domObj) error) error {
	if write {
		in.mu.Lock()
		defer in.mu.Unlock()
	} else {
		in.mu.RLock()
		defer in.mu.RUnlock()
	}
	o, err := in.domFor(d)
	if err != nil {
		return err
	}
	if !o.active() {
		return errNotRunning()
	}
	return fn(o)
}

func (in *instance) DomainInjectNMI(d driver.Domain, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainInjectNMI"); err != nil {
		return err
	}
	return in.runningDom(d, false, func(*domObj) error { return nil })
}

// libvirt's virDomainControlState and virDomainControlErrorReason values.
const (
	ctlOK, ctlJob, ctlOccupied, ctlError = 0, 1, 2, 3
)

// DomainGetControlInfo is testDomainGetControlInfo, which derives the
// state from the guest clock's seconds.
func (in *instance) DomainGetControlInfo(d driver.Domain, flags uint32) (driver.DomainControlInfo, error) {
	if err := checkFlags(flags, 0, "testDomainGetControlInfo"); err != nil {
		return driver.DomainControlInfo{}, err
	}
	var info driver.DomainControlInfo
	err := in.runningDom(d, false, func(o *domObj) error {
		s := o.seconds
		switch {
		case s > 0 && s < 10000:
			info = driver.DomainControlInfo{State: ctlJob, StateTime: uint64(s)}
		case s >= 10000 && s < 30000:
			info = driver.DomainControlInfo{State: ctlOccupied, StateTime: uint64(s - 10000)}
		case s >= 30000 && s < 60000:
			info = driver.DomainControlInfo{State: ctlError, StateTime: uint64(s - 30000)}
			// NONE, UNKNOWN, MONITOR, INTERNAL by s % 4.
			info.Details = uint32(s % 4)
		default:
			info = driver.DomainControlInfo{State: ctlOK}
		}
		return nil
	})
	return info, err
}

// DomainGetDiskErrors is testDomainGetDiskErrors: every disk, up to max,
// with the error codes 1, 2, 1, ...; with max 0 the number of disks.
func (in *instance) DomainGetDiskErrors(d driver.Domain, max uint32, flags uint32) ([]driver.DiskError, int32, error) {
	if err := checkFlags(flags, 0, "testDomainGetDiskErrors"); err != nil {
		return nil, 0, err
	}
	var out []driver.DiskError
	var n int32
	err := in.runningDom(d, false, func(o *domObj) error {
		disks := o.def.Devices.Disks
		if max == 0 {
			n = int32(len(disks))
			return nil
		}
		for i, dk := range disks {
			if uint32(i) == max {
				break
			}
			out = append(out, driver.DiskError{Disk: dk.TargetDev, Error: int32(i%2) + 1})
		}
		n = int32(len(out))
		return nil
	})
	return out, n, err
}

func (in *instance) DomainGetTime(d driver.Domain, flags uint32) (int64, uint32, error) {
	if err := checkFlags(flags, 0, "testDomainGetTime"); err != nil {
		return 0, 0, err
	}
	var s int64
	var ns uint32
	err := in.runningDom(d, false, func(o *domObj) error {
		if o.state != driver.StateRunning {
			return errNotRunning()
		}
		s, ns = o.seconds, o.nseconds
		return nil
	})
	return s, ns, err
}

func (in *instance) DomainSetTime(d driver.Domain, sec int64, nsec uint32, flags uint32) error {
	if err := checkFlags(flags, 1, "testDomainSetTime"); err != nil { // VIR_DOMAIN_TIME_SYNC
		return err
	}
	return in.runningDom(d, true, func(o *domObj) error {
		o.seconds, o.nseconds = sec, nsec
		return nil
	})
}

func (in *instance) DomainSetUserPassword(d driver.Domain, user, password string, flags uint32) error {
	if err := checkFlags(flags, 1, "testDomainSetUserPassword"); err != nil { // VIR_DOMAIN_PASSWORD_ENCRYPTED
		return err
	}
	return in.runningDom(d, false, func(*domObj) error { return nil })
}

// DomainSendKey is testDomainSendKey: each code must exist in its codeset.
func (in *instance) DomainSendKey(d driver.Domain, codeset, holdtime uint32, keycodes []uint32, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainSendKey"); err != nil {
		return err
	}
	return in.runningDom(d, false, func(*domObj) error {
		for _, k := range keycodes {
			if keycode.Translate(int(codeset), int(codeset), k) < 0 {
				return errTest(virerr.ErrInternalError, "invalid keycode %d of %s codeset", k, keycode.Names[codeset])
			}
		}
		return nil
	})
}

// DomainGetHostname is testDomainGetHostname: NAMEhost.
func (in *instance) DomainGetHostname(d driver.Domain, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "testDomainGetHostname"); err != nil {
		return "", err
	}
	var name string
	err := in.runningDom(d, false, func(o *domObj) error {
		name = o.def.Name + "host"
		return nil
	})
	return name, err
}
