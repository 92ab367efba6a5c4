package qmp

import (
	"context"
	"errors"
	"os"
	"time"
)

// Typed commands: one Go function per QMP command govirt sends, with its
// request and reply types, in the files cmd_*.go. They run on an
// Executor, which a *Monitor is and a test fake can be, and keep the
// command's name on the wire unchanged, so a recorded transcript or a fake
// that matches on names sees exactly what Execute would send.
//
// Every command has a deadline: the Monitor applies the command's entry
// of the timeout table (DefaultTimeouts, Options.Timeouts), bounded by the
// context's deadline. WithTimeout overrides the table entry for the
// commands run under a context, longer or shorter.

// Executor runs one QMP command; *Monitor implements it.
type Executor interface {
	Execute(ctx context.Context, cmd string, args, ret any) error
}

// FileExecutor can pass descriptors with a command (getfd); *Monitor
// implements it.
type FileExecutor interface {
	ExecuteWithFiles(ctx context.Context, cmd string, args, ret any, files ...*os.File) error
}

var (
	// ErrCommandNotFound matches a QMP error reply of class
	// CommandNotFound (the QEMU is too old for the command).
	ErrCommandNotFound = errors.New("qmp: command not found")
	// ErrDeviceNotFound matches a QMP error reply of class DeviceNotFound.
	ErrDeviceNotFound = errors.New("qmp: device not found")
	// ErrMigrationFailed matches the *MigrationError WaitMigration
	// returns when QEMU reports the migration failed.
	ErrMigrationFailed = errors.New("qmp: migration failed")
	// ErrMigrationCancelled matches the *MigrationError WaitMigration
	// returns when the migration was cancelled.
	ErrMigrationCancelled = errors.New("qmp: migration cancelled")
	// ErrJobFailed is returned by WaitJob when a job concluded with an
	// error; the error text carries QEMU's message.
	ErrJobFailed = errors.New("qmp: job failed")
)

// Is lets errors.Is match a QMP error reply against the class sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrCommandNotFound:
		return e.Class == "CommandNotFound"
	case ErrDeviceNotFound:
		return e.Class == "DeviceNotFound"
	}
	return false
}

type timeoutKey struct{}

// WithTimeout returns a context under which the Monitor uses d as the
// timeout of every command instead of its table entry (still bounded by
// ctx's own deadline, if any). Non-positive d is ignored.
func WithTimeout(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, timeoutKey{}, d)
}

// timeoutOverride reports the timeout set with WithTimeout.
func timeoutOverride(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(timeoutKey{}).(time.Duration)
	return d, ok
}

// run is the body of every typed command: nil args and ret are sent and
// read as Execute does.
func run(ctx context.Context, e Executor, cmd string, args, ret any) error {
	return e.Execute(ctx, cmd, args, ret)
}

// id is the argument of the commands that take a single "id".
type id struct {
	ID string `json:"id"`
}
