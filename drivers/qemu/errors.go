package qemu

import (
	"govirt/virerr"
)

func errQEMU(code virerr.Code, format string, args ...any) error {
	return virerr.New(virerr.FromQemu, code, format, args...)
}

func errURI(got, want string) error {
	return virerr.New(virerr.FromQemu, virerr.ErrInternalError,
		"unexpected QEMU URI path '%s', try %s", got, want)
}

func errNotRunning() error {
	return errQEMU(virerr.ErrOperationInvalid, "domain is not running")
}

func errAlreadyRunning() error {
	return errQEMU(virerr.ErrOperationInvalid, "domain is already running")
}

func errNoDomainUUID(u, name string) error {
	return virerr.New(virerr.FromQemu, virerr.ErrNoDomain, "no domain with matching uuid '%s' (%s)", u, name)
}

func errNoDomainName(name string) error {
	return virerr.New(virerr.FromQemu, virerr.ErrNoDomain, "no domain with matching name '%s'", name)
}
