package qmp

import (
	"net"
	"os"
)

// Listen binds and listens on a QMP socket for QEMU to inherit, as libvirt
// does (-chardev socket,fd=N,server=on): the caller can Dial as soon as
// QEMU is spawned and the greeting arrives the moment QEMU's main loop
// runs, with no polling for the socket to appear. The returned file is the
// caller's only reference; close it once QEMU has been spawned, or a QEMU
// that dies early leaves the connection waiting instead of seeing EOF.
func Listen(path string) (*os.File, error) {
	os.Remove(path)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The path belongs to QEMU's copy of the socket from now on.
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	l.Close()
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return f, nil
}
