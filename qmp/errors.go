package qmp

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed means the monitor has gone away: Close was called, QEMU
	// closed the socket, or the stream became unusable.
	ErrClosed = errors.New("qmp: monitor closed")

	// ErrTimeout means a command's deadline passed before its reply came.
	ErrTimeout = errors.New("qmp: command timed out")

	// ErrProtocol means QEMU sent something that is not QMP. The monitor
	// closes itself when the stream is affected.
	ErrProtocol = errors.New("qmp: protocol error")

	// ErrNoFDPassing means ExecuteWithFiles was used on a connection that
	// is not a Unix socket.
	ErrNoFDPassing = errors.New("qmp: connection cannot pass file descriptors")
)

// Error is an error reply from QEMU. It is returned as is (not wrapped) by
// Execute, so both errors.As and a type assertion work.
type Error struct {
	// Command is the command that failed; it is filled in by Execute, not
	// sent by QEMU.
	Command string `json:"-"`
	// Class is QEMU's error class, e.g. "GenericError", "DeviceNotFound".
	Class string `json:"class"`
	// Desc is QEMU's human-readable description.
	Desc string `json:"desc"`
}

func (e *Error) Error() string {
	if e.Command == "" {
		return fmt.Sprintf("qmp: %s: %s", e.Class, e.Desc)
	}
	return fmt.Sprintf("qmp: %s: %s: %s", e.Command, e.Class, e.Desc)
}

// closedError builds the error given to callers once the monitor is gone,
// keeping the cause visible to errors.Is (io.EOF, ErrProtocol, ...).
func closedError(cause error) error {
	if cause == nil || errors.Is(cause, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, cause)
}
