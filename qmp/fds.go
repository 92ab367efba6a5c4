package qmp

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// fileError is a problem with a caller's file, as opposed to the socket;
// it says nothing about the monitor's health.
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// writeWithFiles sends msg with files attached as SCM_RIGHTS. The
// descriptors are borrowed through SyscallConn.Control, which keeps each
// one open (and un-reused) for the duration of the send without File.Fd's
// side effect of switching the caller's file to blocking mode.
func writeWithFiles(c *net.UnixConn, msg []byte, files []*os.File) (int, error) {
	fds := make([]int, 0, len(files))
	var n int
	var werr error
	err := borrowFDs(files, &fds, func() {
		n, _, werr = c.WriteMsgUnix(msg, syscall.UnixRights(fds...), nil)
	})
	if err != nil {
		return 0, &fileError{err}
	}
	if werr != nil {
		return n, werr
	}
	// A stream socket may take only part of the message. The descriptors
	// travelled with the first byte, which is all QEMU needs: it queues
	// them until the command that arrives with them is parsed.
	for n < len(msg) && werr == nil {
		var k int
		k, werr = c.Write(msg[n:])
		n += k
	}
	return n, werr
}

// borrowFDs calls fn with the raw descriptors of files in *fds, nesting
// one Control call per file so all of them stay valid at once.
func borrowFDs(files []*os.File, fds *[]int, fn func()) error {
	if len(files) == 0 {
		fn()
		return nil
	}
	f := files[0]
	if f == nil {
		return fmt.Errorf("qmp: nil file")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("qmp: file %s: %w", f.Name(), err)
	}
	var inner error
	err = rc.Control(func(fd uintptr) {
		*fds = append(*fds, int(fd))
		inner = borrowFDs(files[1:], fds, fn)
	})
	if err != nil {
		return fmt.Errorf("qmp: file %s: %w", f.Name(), err)
	}
	return inner
}
