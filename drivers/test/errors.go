package test

import "govirt/virerr"

// Errors come from the file that raises them in libvirt: the test driver
// itself (VIR_FROM_TEST) for most checks, the shared domain code
// (VIR_FROM_DOMAIN) for the active/inactive and flag checks it does for
// every driver. Clients see both the code and the domain.

func errTest(code virerr.Code, format string, args ...any) error {
	return virerr.New(virerr.FromTest, code, format, args...)
}

// errInternal is how the test driver reports most bad state transitions.
func errInternal(format string, args ...any) error {
	return errTest(virerr.ErrInternalError, format, args...)
}

// errNotRunning is virDomainObjCheckActive's error.
func errNotRunning() error {
	return virerr.New(virerr.FromDomain, virerr.ErrOperationInvalid, "domain is not running")
}

// errNoSupport is what the public API reports for an entry point the test
// driver leaves empty; from names the libvirt function.
func errNoSupport(from virerr.Domain, fn string) error {
	return virerr.New(from, virerr.ErrNoSupport, "%s", fn)
}

// errNoDomain is the lookup failure: libvirt reports it without detail.
func errNoDomain() error { return errTest(virerr.ErrNoDomain, "") }
