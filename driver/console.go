package driver

import "io"

// Console flags (virDomainConsoleFlags).
const (
	ConsoleForce uint32 = 1 << 0 // take the device over from another session
	ConsoleSafe  uint32 = 1 << 1 // only open if the driver can guarantee exclusivity
)

// ConsoleSession is a character device a client has claimed. The claim
// happens before the RPC reply so that "busy" and "no such device" are
// reported as the call's error, as libvirtd does; the data only flows
// once the reply has gone out and the stream exists.
type ConsoleSession interface {
	// Serve relays guest output to rw and rw's input to the guest until
	// the client leaves, the guest's device goes away or another session
	// takes the device over (then it returns ErrConsoleTakenOver).
	Serve(rw io.ReadWriter) error
	// Release gives the device up without serving, when the reply could
	// not be sent.
	Release()
}

// ErrConsoleTakenOver ends a session whose device was opened with
// ConsoleForce by another client.
var ErrConsoleTakenOver = consoleErr("console session taken over by another client")

type consoleErr string

func (e consoleErr) Error() string { return string(e) }

// DomainConsoles opens guest consoles (virDomainOpenConsole).
type DomainConsoles interface {
	DomainOpenConsole(d Domain, devName string, flags uint32) (ConsoleSession, error)
}

// DomainScreenshoter takes screenshots (virDomainScreenshot): the image's
// MIME type goes in the reply, the bytes follow on the stream.
type DomainScreenshoter interface {
	DomainScreenshot(d Domain, screen uint32, flags uint32) (mime string, img io.ReadCloser, err error)
}

// QEMU monitor command flags (virDomainQemuMonitorCommandFlags).
const QemuMonitorCommandHMP uint32 = 1 << 0

// QemuMonitor is the QEMU-specific program (libvirt-qemu.so): raw monitor
// commands and raw monitor events.
type QemuMonitor interface {
	// QemuMonitorCommand runs a QMP command given as JSON text (or an HMP
	// command line with QemuMonitorCommandHMP) and returns the reply as
	// text, as libvirt does.
	QemuMonitorCommand(d Domain, cmd string, flags uint32) (string, error)
}

// QemuMonitorEvent is published on the driver's bus for every QMP event
// of every guest; the QEMU program's event callbacks filter them.
type QemuMonitorEvent struct {
	Dom     Domain
	Event   string
	Seconds int64
	Micros  uint32
	// Details is the event's "data" as compact JSON, nil when it had none.
	Details *string
}
