package qemu

import (
	"io"
	"sync"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// consoleSession is one client's claim on a hub (driver.ConsoleSession).
type consoleSession struct {
	hub *consoleHub

	mu   sync.Mutex
	rw   io.ReadWriter // set by Serve
	over chan struct{} // closed by end
	err  error
	once sync.Once
}

// DomainOpenConsole is virDomainOpenConsole: pick the device as libvirt
// does (by alias among consoles, serials; else the first console, else
// the first serial), then claim it.
func (c *conn) DomainOpenConsole(h driver.Domain, devName string, flags uint32) (driver.ConsoleSession, error) {
	if flags&^(driver.ConsoleForce|driver.ConsoleSafe) != 0 {
		return nil, virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "unsupported flags (0x%x) in function qemuDomainOpenConsole", flags&^(driver.ConsoleForce|driver.ConsoleSafe))
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
	chr := pickConsole(v.live, devName)
	var typ, path, alias string
	if chr != nil {
		typ, path, alias = chr.Type, chr.SourcePath, chr.Alias
	}
	v.mu.Unlock()
	if chr == nil {
		name := devName
		if name == "" {
			name = "<null>"
		}
		return nil, errQEMU(virerr.ErrInternalError, "cannot find character device %s", name)
	}
	if devName == "" {
		devName = alias
	}
	var open func() (*consoleHub, error)
	switch typ {
	case "pty":
		if path == "" {
			return nil, errQEMU(virerr.ErrOperationFailed, "PTY device is not yet assigned")
		}
		open = func() (*consoleHub, error) { return openPTYHub(c.d, v, path) }
	case "unix":
		// libvirt's QEMU driver only bridges ptys; a unix socket is the
		// other backend govirt's command builder produces, and its
		// chardev layer (virChrdevOpen) handles both, so accept it.
		open = func() (*consoleHub, error) { return openUnixHub(c.d, v, path) }
	default:
		return nil, errQEMU(virerr.ErrInternalError, "character device %s is not using a PTY", devName)
	}
	hub, err := hubFor(v, path, open)
	if err != nil {
		return nil, errQEMU(virerr.ErrOperationFailed, "cannot open console device %s: %v", path, err)
	}
	s := &consoleSession{hub: hub, over: make(chan struct{})}
	busy, gone := hub.attach(s, flags&driver.ConsoleForce != 0)
	if busy {
		return nil, errQEMU(virerr.ErrOperationFailed, "Active console session exists for this domain")
	}
	if gone {
		return nil, errQEMU(virerr.ErrOperationFailed, "console device %s is gone", path)
	}
	return s, nil
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
