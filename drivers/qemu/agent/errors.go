package agent

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers turn them into libvirt's
// VIR_ERR_AGENT_UNRESPONSIVE errors with libvirt's texts, which each
// sentinel's message already is.
var (
	// ErrTimeout: the agent did not answer the command (or the sync
	// before it) in time. The agent is left out of sync: the next
	// command syncs again and so skips the late reply.
	ErrTimeout = errors.New("Guest agent not available for now")
	// ErrClosed: the connection to the agent's channel ended (or was
	// closed) while the command waited.
	ErrClosed = errors.New("Guest agent disappeared while executing command")
	// ErrNoReply: the agent answered a sync with something other than
	// the sync's id twice (libvirt's "Missing agent reply object").
	ErrNoReply = errors.New("Missing agent reply object")
)

// Error is an error reply of the agent to a command.
type Error struct {
	Command string // the command's name ("execute")
	Class   string // QAPI error class, e.g. "CommandNotFound"
	Desc    string // the agent's description; may be empty
}

func (e *Error) Error() string {
	return fmt.Sprintf("unable to execute QEMU agent command '%s': %s", e.Command, e.Detail())
}

// Detail is the description libvirt shows: the agent's own, or a text
// for the class when it sent none.
func (e *Error) Detail() string {
	if e.Desc != "" {
		return e.Desc
	}
	if t, ok := classTexts[e.Class]; ok {
		return t
	}
	if e.Class != "" {
		return e.Class
	}
	return "unknown QEMU command error"
}

// Unsupported reports whether the agent does not know or has disabled
// the command (callers that probe optional commands skip these).
func (e *Error) Unsupported() bool {
	return e.Class == "CommandNotFound" || e.Class == "CommandDisabled"
}

// classTexts are libvirt's readable forms of QAPI error classes, used
// when an error reply has no description.
var classTexts = map[string]string{
	"BufferOverrun":             "Buffer overrun",
	"CommandDisabled":           "The command has been disabled for this instance",
	"CommandNotFound":           "The command has not been found",
	"FdNotFound":                "File descriptor not found",
	"InvalidParameter":          "Invalid parameter",
	"InvalidParameterType":      "Invalid parameter type",
	"InvalidParameterValue":     "Invalid parameter value",
	"OpenFileFailed":            "Cannot open file",
	"QgaCommandFailed":          "Guest agent command failed",
	"QMPBadInputObjectMember":   "Bad QMP input object member",
	"QMPExtraInputObjectMember": "Unexpected extra object member",
	"UndefinedError":            "An undefined error has occurred",
	"Unsupported":               "this feature or command is not currently supported",
}

// MalformedError: a reply that is neither "return" nor "error", or a
// reply whose "return" does not decode into the caller's type.
type MalformedError struct {
	Command string
	Err     error // decoding error, nil when the reply had no "return"
}

func (e *MalformedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("unable to execute QEMU agent command '%s': malformed reply: %v", e.Command, e.Err)
	}
	return fmt.Sprintf("unable to execute QEMU agent command '%s'", e.Command)
}

func (e *MalformedError) Unwrap() error { return e.Err }
