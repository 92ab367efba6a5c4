package qemu

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"govirt/conf"
	"govirt/qmp"
	"govirt/virerr"
)

// portAllocator hands out VNC ports as libvirt's remote_display_port_min
// and _max do: the first port of the range that is free right now, which
// is checked by binding it. A port given out is also held back for a
// while in-process, since QEMU binds it only once it has started and a
// concurrent start must not pick the same one in between.
type portAllocator struct {
	mu       sync.Mutex
	lo, hi   int
	reserved map[int]time.Time // port -> until
}

// vncReserveFor covers the window between allocation and QEMU's bind;
// afterMonitor releases the port sooner when the start went through.
const vncReserveFor = time.Minute

// newPortAllocator makes a driver's VNC allocator for lo-hi; zero
// bounds take the defaults, 5900 and 65535.
func newPortAllocator(lo, hi int) *portAllocator {
	if lo == 0 {
		lo = 5900
	}
	if hi == 0 {
		hi = 65535
	}
	return &portAllocator{lo: lo, hi: hi, reserved: map[int]time.Time{}}
}

// CheckVNCPortRange validates Config.VNCPortMin/Max (libvirt's
// remote_display_port_min/max in qemu.conf); zero means the default.
func CheckVNCPortRange(lo, hi int) error {
	a := newPortAllocator(lo, hi)
	if a.lo < 5900 || a.hi > 65535 || a.lo > a.hi {
		return fmt.Errorf("VNC port range %d-%d is not within 5900-65535", a.lo, a.hi)
	}
	return nil
}

// acquire returns the first free port for host.
func (a *portAllocator) acquire(host string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for p := a.lo; p <= a.hi; p++ {
		if until, ok := a.reserved[p]; ok && now.Before(until) {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		a.reserved[p] = now.Add(vncReserveFor)
		return p, nil
	}
	return 0, virerr.New(virerr.FromQemu, virerr.ErrInternalError,
		"Unable to find an unused port in range 'display' (%d-%d)", a.lo, a.hi)
}

func (a *portAllocator) release(port int) {
	a.mu.Lock()
	delete(a.reserved, port)
	a.mu.Unlock()
}

// vncListen is the address the builder makes VNC listen on: the
// <listen type='address'> child, else the listen attribute, else
// 127.0.0.1.
func vncListen(g *conf.Graphics) string {
	addr := g.Listen
	if e := conf.DeviceElement(g); e != nil {
		if ls := e.Children("listen"); len(ls) == 1 {
			if a, ok := ls[0].Attr("address"); ok && a != "" {
				addr = a
			}
		}
	}
	if addr == "" {
		addr = "127.0.0.1"
	}
	return addr
}

// vncPortFor is the builder's Paths.VNCPort for live: it binds on the
// address QEMU will listen on.
func (d *Driver) vncPortFor(live *conf.Domain) func() (int, error) {
	return func() (int, error) {
		for _, g := range live.Devices.Graphics {
			if g.Type == "vnc" || g.Type == "spice" {
				return d.vncPorts.acquire(vncListen(g))
			}
		}
		return d.vncPorts.acquire("127.0.0.1")
	}
}

// vncPasswordArgv turns on VNC password authentication on the command
// line when the guest has a password: QEMU 7.2 refuses set_password on a
// display started without it. The secret itself goes over QMP after
// start, so it never shows in ps.
func vncPasswordArgv(live *conf.Domain, argv []string) []string {
	need := false
	for _, g := range live.Devices.Graphics {
		need = need || (g.Type == "vnc" && g.Passwd != "")
	}
	if !need {
		return argv
	}
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == "-vnc" && !strings.HasPrefix(argv[i+1], "none") {
			argv[i+1] += ",password=on"
		}
	}
	return argv
}

// setupVNC records the port QEMU listens on when it chose it itself,
// gives an allocated port's reservation back (QEMU holds it now), and
// sets the password as libvirt does at start.
func (d *Driver) setupVNC(ctx context.Context, v *vm, mon monitor) error {
	v.mu.Lock()
	var g *conf.Graphics
	if v.live != nil {
		for _, x := range v.live.Devices.Graphics {
			if x.Type == "vnc" || x.Type == "spice" {
				g = x
				break
			}
		}
	}
	var port int
	var auto bool
	var passwd string
	if g != nil {
		port, auto, passwd = g.Port, g.AutoPort && g.Socket == "", g.Passwd
	}
	v.mu.Unlock()
	if g == nil {
		return nil
	}
	if auto && port > 0 {
		d.vncPorts.release(port)
	}
	if auto && port <= 0 && g.Type == "vnc" {
		info, err := qmp.QueryVNC(ctx, mon)
		if err != nil {
			return qmpFailed("query-vnc", err)
		}
		if p, err := strconv.Atoi(info.Service); err == nil && info.Enabled {
			// Copy on write: readers format v.live outside the lock.
			v.mu.Lock()
			if v.live != nil {
				live := v.live.Clone()
				for _, x := range live.Devices.Graphics {
					if x.Type == "vnc" {
						x.Port = p
						break
					}
				}
				v.live = live
			}
			v.mu.Unlock()
		}
	}
	if passwd != "" {
		if err := qmp.SetPassword(ctx, mon, "vnc", passwd); err != nil {
			return qmpFailed("setting the VNC password", err)
		}
		if err := qmp.ExpirePassword(ctx, mon, "vnc", "never"); err != nil {
			return qmpFailed("setting the VNC password expiry", err)
		}
	}
	return nil
}
