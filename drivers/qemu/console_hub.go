package qemu

import (
	"errors"
	"govirt/drivers/internal/safepath"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"govirt/driver"
)

// consoleHub owns govirtd's connection to one character device of a
// running guest. It reads the guest's output for the whole time it is
// open, appends it to the domain's console log (the job virtlogd does for
// libvirt) and relays it to the one client session attached, if any.
//
// A pty hub lives as long as QEMU: the pty can be opened by any number of
// processes, so govirtd holding it costs nobody anything and the log sees
// everything. A unix-socket hub only lives while a session is attached,
// because QEMU's socket server accepts a single client and other tools
// (or the user) may want it when no console is open.
type consoleHub struct {
	v        *vm
	path     string
	dev      io.ReadWriteCloser
	log      *os.File
	lingers  bool // pty: stays open without a session
	done     chan struct{}
	mu       sync.Mutex
	cur      *consoleSession
	finished bool
}

// hubFor returns the open hub of v's device at path (kept in v.ext.hubs),
// opening one with open when there is none.
func hubFor(v *vm, path string, open func() (*consoleHub, error)) (*consoleHub, error) {
	v.ext.hubsMu.Lock()
	defer v.ext.hubsMu.Unlock()
	if h := v.ext.hubs[path]; h != nil {
		return h, nil
	}
	h, err := open()
	if err != nil {
		return nil, err
	}
	if v.ext.hubs == nil {
		v.ext.hubs = map[string]*consoleHub{}
	}
	v.ext.hubs[path] = h
	go h.pump()
	return h, nil
}

func (h *consoleHub) forget() {
	x := &h.v.ext
	x.hubsMu.Lock()
	defer x.hubsMu.Unlock()
	if x.hubs[h.path] == h {
		delete(x.hubs, h.path)
	}
}

// consoleLogPath is the per-domain console log, beside QEMU's own log.
func (d *Driver) consoleLogPath(name string) (string, error) {
	return safepath.Join(d.dirs.logs, name, "-console.log")
}

func newHub(d *Driver, v *vm, path string, dev io.ReadWriteCloser, lingers bool) *consoleHub {
	v.mu.Lock()
	name := v.name
	v.mu.Unlock()
	// A log that cannot be opened must not cost the user the console.
	// (logPath, not path: the hub is keyed by the device's path.)
	logPath, err := d.consoleLogPath(name)
	var lf *os.File
	if err == nil {
		lf, err = os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	}
	if err != nil {
		d.log.Warn("cannot open console log", "domain", name, "err", err)
		lf = nil
	}
	return &consoleHub{v: v, path: path, dev: dev, log: lf, lingers: lingers, done: make(chan struct{})}
}

// openPTYHub opens a guest's pty in raw mode.
func openPTYHub(d *Driver, v *vm, path string) (*consoleHub, error) {
	f, err := openRawPTY(path)
	if err != nil {
		return nil, err
	}
	return newHub(d, v, path, f, true), nil
}

// openUnixHub connects to a guest's chardev socket.
func openUnixHub(d *Driver, v *vm, path string) (*consoleHub, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	return newHub(d, v, path, c, false), nil
}

// pump reads the device until it goes away (QEMU exited: EIO on a pty,
// EOF on a socket) or the hub is closed.
func (h *consoleHub) pump() {
	defer close(h.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := h.dev.Read(buf)
		if n > 0 {
			if h.log != nil {
				_, _ = h.log.Write(buf[:n])
			}
			h.mu.Lock()
			s := h.cur
			h.mu.Unlock()
			if s != nil {
				s.toClient(buf[:n])
			}
		}
		if err != nil {
			break
		}
	}
	h.shutdown()
}

// shutdown closes the device and ends the attached session: its client
// sees the end of the stream, as when libvirt's pty reaches EOF.
func (h *consoleHub) shutdown() {
	h.forget()
	h.mu.Lock()
	if h.finished {
		h.mu.Unlock()
		return
	}
	h.finished = true
	s := h.cur
	h.cur = nil
	h.mu.Unlock()
	_ = h.dev.Close()
	if h.log != nil {
		_ = h.log.Close()
	}
	if s != nil {
		s.end(nil)
	}
}

// attach makes s the hub's session. An existing one is refused unless
// force, in which case it is ended as taken over.
func (h *consoleHub) attach(s *consoleSession, force bool) (busy bool, gone bool) {
	h.mu.Lock()
	if h.finished {
		h.mu.Unlock()
		return false, true
	}
	old := h.cur
	if old != nil && !force {
		h.mu.Unlock()
		return true, false
	}
	h.cur = s
	h.mu.Unlock()
	if old != nil {
		old.end(driver.ErrConsoleTakenOver)
	}
	return false, false
}

// detach drops s if it is still the session; a hub without a reason to
// stay open closes.
func (h *consoleHub) detach(s *consoleSession) {
	h.mu.Lock()
	if h.cur != s {
		h.mu.Unlock()
		return
	}
	h.cur = nil
	lingers := h.lingers
	h.mu.Unlock()
	if !lingers {
		h.shutdown()
	}
}

func (h *consoleHub) current(s *consoleSession) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur == s
}

// closeHubs ends every hub of v; used when a guest's devices are known to
// be gone before their readers notice.
func closeHubs(v *vm) {
	v.ext.hubsMu.Lock()
	var all []*consoleHub
	for _, h := range v.ext.hubs {
		all = append(all, h)
	}
	v.ext.hubsMu.Unlock()
	for _, h := range all {
		h.shutdown()
	}
}

// openRawPTY opens a pty's slave side without making it our controlling
// terminal and puts it in raw mode: QEMU made it raw, but a previous
// user may have changed it, and cooked mode would mangle the byte stream
// (echo, CR/LF translation, ^C). Go's poller handles the descriptor, so
// Close unblocks a pending Read.
func openRawPTY(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	var ioErr error
	cerr := rc.Control(func(fd uintptr) {
		var t syscall.Termios
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&t))); e != 0 {
			ioErr = e
			return
		}
		makeRaw(&t)
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&t))); e != 0 {
			ioErr = e
		}
	})
	if err := errors.Join(cerr, ioErr); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// makeRaw is cfmakeraw(3).
func makeRaw(t *syscall.Termios) {
	t.Iflag &^= syscall.IGNBRK | syscall.BRKINT | syscall.PARMRK | syscall.ISTRIP |
		syscall.INLCR | syscall.IGNCR | syscall.ICRNL | syscall.IXON
	t.Oflag &^= syscall.OPOST
	t.Lflag &^= syscall.ECHO | syscall.ECHONL | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
	t.Cflag &^= syscall.CSIZE | syscall.PARENB
	t.Cflag |= syscall.CS8
	t.Cc[syscall.VMIN] = 1
	t.Cc[syscall.VTIME] = 0
}
