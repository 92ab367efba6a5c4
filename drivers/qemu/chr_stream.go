package qemu

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// virDomainOpenConsole and virDomainOpenChannel are one mechanism in
// libvirt (virChrdevOpen): pick a character device of the running guest,
// open its host side once (a hub several sessions share, one at a time)
// and relay a stream to it. chrStream holds what differs between the
// two; openChrStream does the rest for both.
type chrStream struct {
	fn    string // the libvirt function named in a flags error
	flags uint32 // the flags the call accepts
	force uint32 // the flag that takes over an active session
	// pick chooses the device; called with v.mu held.
	pick func(def *conf.Domain) *conf.Chardev
	// opener gives the hub opener for the device's backend and the
	// error an open failure becomes, or a refusal of the backend.
	opener   func(v *vm, typ, path, alias string) (func() (*consoleHub, error), func(error) error, error)
	notFound string // "cannot find ... %s"
	busy     string // the error text when another session holds it
	what     string // "console" or "channel", in "... device %s is gone"
}

func (c *conn) openChrStream(h driver.Domain, name string, flags uint32, k chrStream) (driver.ConsoleSession, error) {
	if flags&^k.flags != 0 {
		return nil, virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unsupported flags (0x%x) in function %s", flags&^k.flags, k.fn)
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if !v.active() {
		v.mu.Unlock()
		return nil, errNotRunning()
	}
	var chr *conf.Chardev
	if v.live != nil {
		chr = k.pick(v.live)
	}
	var typ, path, alias string
	if chr != nil {
		typ, path, alias = chr.Type, chr.SourcePath, chr.Alias
	}
	v.mu.Unlock()
	if chr == nil {
		return nil, errQEMU(virerr.ErrInternalError, k.notFound, orNull(name))
	}
	open, openErr, err := k.opener(v, typ, path, alias)
	if err != nil {
		return nil, err
	}
	hub, err := hubFor(v, path, open)
	if err != nil {
		return nil, openErr(err)
	}
	s := &consoleSession{hub: hub, over: make(chan struct{})}
	busy, gone := hub.attach(s, flags&k.force != 0)
	if busy {
		return nil, errQEMU(virerr.ErrOperationFailed, "%s", k.busy)
	}
	if gone {
		return nil, errQEMU(virerr.ErrOperationFailed, "%s device %s is gone", k.what, path)
	}
	return s, nil
}

// orNull is how libvirt prints a missing name.
func orNull(s string) string {
	if s == "" {
		return "<null>"
	}
	return s
}

// DomainOpenConsole is virDomainOpenConsole: pick the device as libvirt
// does (by alias among consoles, serials; else the first console, else
// the first serial), then claim it.
func (c *conn) DomainOpenConsole(h driver.Domain, devName string, flags uint32) (driver.ConsoleSession, error) {
	return c.openChrStream(h, devName, flags, chrStream{
		fn: "qemuDomainOpenConsole", flags: driver.ConsoleForce | driver.ConsoleSafe, force: driver.ConsoleForce,
		pick:     func(def *conf.Domain) *conf.Chardev { return pickConsole(def, devName) },
		notFound: "cannot find character device %s",
		busy:     "Active console session exists for this domain",
		what:     "console",
		opener: func(v *vm, typ, path, alias string) (func() (*consoleHub, error), func(error) error, error) {
			openErr := func(err error) error {
				return errQEMU(virerr.ErrOperationFailed, "cannot open console device %s: %v", path, err)
			}
			switch typ {
			case "pty":
				if path == "" {
					return nil, nil, errQEMU(virerr.ErrOperationFailed, "PTY device is not yet assigned")
				}
				return func() (*consoleHub, error) { return openPTYHub(c.d, v, path) }, openErr, nil
			case "unix":
				// libvirt's QEMU driver only bridges ptys; a unix socket is
				// the other backend govirt's command builder produces, and
				// its chardev layer (virChrdevOpen) handles both, so accept it.
				return func() (*consoleHub, error) { return openUnixHub(c.d, v, path) }, openErr, nil
			}
			n := devName
			if n == "" {
				n = alias
			}
			return nil, nil, errQEMU(virerr.ErrInternalError, "character device %s is not using a PTY", n)
		},
	})
}

// DomainOpenChannel is qemuDomainOpenChannel: a stream to a guest
// channel's unix socket, exclusive as a console session is (the same
// hub machinery), but without the console log: channel traffic is a
// protocol between programs, not something to keep.
func (c *conn) DomainOpenChannel(h driver.Domain, name string, flags uint32) (driver.ConsoleSession, error) {
	return c.openChrStream(h, name, flags, chrStream{
		fn: "qemuDomainOpenChannel", flags: driver.ChannelForce, force: driver.ChannelForce,
		pick:     func(def *conf.Domain) *conf.Chardev { return pickChannel(def, name) },
		notFound: "cannot find channel %s",
		busy:     "Active channel stream exists for this domain",
		what:     "channel",
		opener: func(v *vm, typ, path, alias string) (func() (*consoleHub, error), func(error) error, error) {
			if typ != "unix" {
				n := name
				if n == "" {
					n = alias
				}
				return nil, nil, errQEMU(virerr.ErrInternalError, "channel %s is not using a UNIX socket", orNull(n))
			}
			open := func() (*consoleHub, error) {
				sock, err := net.Dial("unix", path)
				if err != nil {
					return nil, err
				}
				return &consoleHub{v: v, path: path, dev: sock, done: make(chan struct{})}, nil
			}
			// virChrdevOpen's virFDStreamConnectUNIX failure.
			openErr := func(err error) error {
				return virerr.New(virerr.FromStreams, virerr.ErrSystemError, "Unable to connect to UNIX socket server %s: %v", path, sysErrText(err))
			}
			return open, openErr, nil
		},
	})
}

// pickChannel is qemuDomainOpenChannel's choice: by alias, or by the
// target name of a virtio channel (the last match wins, as libvirt's
// loop keeps looking at the name of the channel it just matched by
// alias); without a name the first channel. Call with v.mu held.
func pickChannel(def *conf.Domain, name string) *conf.Chardev {
	if def == nil {
		return nil
	}
	chs := def.Devices.Channels
	if name == "" {
		if len(chs) > 0 {
			return chs[0]
		}
		return nil
	}
	var chr *conf.Chardev
	for _, ch := range chs {
		if chr != nil {
			break
		}
		if ch.Alias == name {
			chr = ch
		}
		if ch.TargetType == "virtio" && ch.TargetName == name {
			chr = ch
		}
	}
	return chr
}

// pickConsole is qemuDomainOpenConsole's device choice; call with v.mu held.
func pickConsole(def *conf.Domain, devName string) *conf.Chardev {
	if def == nil {
		return nil
	}
	ds := def.Devices
	if devName == "" {
		switch {
		case len(ds.Consoles) > 0:
			return consoleBacking(def, ds.Consoles[0])
		case len(ds.Serials) > 0:
			return ds.Serials[0]
		}
		return nil
	}
	for _, list := range [][]*conf.Chardev{ds.Consoles, ds.Serials} {
		for _, c := range list {
			if c.Alias == devName {
				return consoleBacking(def, c)
			}
		}
	}
	return nil
}

// consoleBacking returns the serial a serial console stands for: the
// builder gives them the same alias and only the serial is on QEMU's
// command line, so its source is the authoritative one.
func consoleBacking(def *conf.Domain, c *conf.Chardev) *conf.Chardev {
	for _, s := range def.Devices.Serials {
		if s.Alias != "" && s.Alias == c.Alias {
			return s
		}
	}
	return c
}

// consoleSession is one client's claim on a hub (driver.ConsoleSession).
type consoleSession struct {
	hub *consoleHub

	mu   sync.Mutex
	rw   io.ReadWriter // set by Serve
	over chan struct{} // closed by end
	err  error
	once sync.Once
}

// Serve relays until the client or the device goes, or a forced open
// takes over.
func (s *consoleSession) Serve(rw io.ReadWriter) error {
	s.mu.Lock()
	s.rw = rw
	s.mu.Unlock()
	go s.fromClient(rw)
	<-s.over
	s.hub.detach(s)
	return s.err
}

// Release gives up a claim that was never served.
func (s *consoleSession) Release() {
	s.end(nil)
	s.hub.detach(s)
}

// fromClient types the client's keystrokes into the guest. It may
// outlive Serve until the stream is closed; anything read after a
// takeover is dropped rather than reaching the device behind the new
// owner's back.
func (s *consoleSession) fromClient(rw io.ReadWriter) {
	buf := make([]byte, 4096)
	for {
		n, err := rw.Read(buf)
		if n > 0 && s.hub.current(s) {
			if _, werr := s.hub.dev.Write(buf[:n]); werr != nil {
				s.end(nil)
				return
			}
		}
		if err != nil {
			s.end(nil)
			return
		}
	}
}

// toClient is called by the hub's reader with guest output.
func (s *consoleSession) toClient(p []byte) {
	s.mu.Lock()
	rw := s.rw
	s.mu.Unlock()
	if rw == nil {
		return // reply not sent yet; libvirt drops this output too
	}
	if _, err := rw.Write(p); err != nil {
		s.end(nil)
	}
}

func (s *consoleSession) end(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.over)
	})
}

// sysErrText is strerror's text for the errno behind err (glibc
// capitalises what Go spells in lower case), else err's own text.
func sysErrText(err error) string {
	var en syscall.Errno
	if !errors.As(err, &en) {
		return err.Error()
	}
	s := en.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}
