package storagepool

import (
	"errors"
	"strings"
	"syscall"

	"govirt/virerr"
)

// Errors carry VIR_FROM_STORAGE and libvirt's codes and wording, since
// virsh prints them verbatim and scripts match on them.

func errStorage(code virerr.Code, format string, args ...any) error {
	return virerr.New(virerr.FromStorage, code, format, args...)
}

func errNoPoolName(name string) error {
	return errStorage(virerr.ErrNoStoragePool, "no storage pool with matching name '%s'", name)
}

func errNotActive(name string) error {
	return errStorage(virerr.ErrOperationInvalid, "storage pool '%s' is not active", name)
}

func errStillActive(name string) error {
	return errStorage(virerr.ErrOperationInvalid, "storage pool '%s' is still active", name)
}

func errAlreadyActive(name string) error {
	return errStorage(virerr.ErrOperationInvalid, "storage pool '%s' is already active", name)
}

func errAsyncJobs(name string) error {
	return errStorage(virerr.ErrOperationInvalid, "pool '%s' has asynchronous jobs running.", name)
}

func errNoVolName(name string) error {
	return errStorage(virerr.ErrNoStorageVol, "no storage vol with matching name '%s'", name)
}

func errVolInUse(name string) error {
	return errStorage(virerr.ErrOperationInvalid, "volume '%s' is still in use.", name)
}

func errVolBuilding(name string) error {
	return errStorage(virerr.ErrOperationInvalid, "volume '%s' is still being allocated.", name)
}

// errSys is virReportSystemError: the message, a colon and strerror.
func errSys(err error, format string, args ...any) error {
	var e *virerr.Error
	if errors.As(err, &e) {
		return e
	}
	var errno syscall.Errno
	msg := err.Error()
	if errors.As(err, &errno) {
		msg = errno.Error()
		// Go's strerror texts are lower case, glibc's are capitalised.
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
	}
	return virerr.New(virerr.FromStorage, virerr.ErrSystemError, format+": %s", append(args, msg)...)
}
