package qemu

import (
	"context"
	"fmt"
	"net"
	"strconv"
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

// vncListen is the address the builder makes a display listen on: the
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

// displayPortFor is the builder's Paths.VNCPort (typ "vnc") or
// Paths.SpicePort (typ "spice") for live: both take ports from the one
// remote display range, as libvirt's remotePorts, binding on the address
// that display will listen on.
func (d *Driver) displayPortFor(live *conf.Domain, typ string) func() (int, error) {
	return func() (int, error) {
		for _, g := range live.Devices.Graphics {
			if g.Type == typ {
				return d.vncPorts.acquire(vncListen(g))
			}
		}
		return d.vncPorts.acquire("127.0.0.1")
	}
}

// websocketPortFor is the builder's Paths.WebsocketPort: VNC websockets
// asked for with websocket='-1' take a port of libvirt's websocket range
// (remote_websocket_port_min/max), bound on the VNC listen address.
func (d *Driver) websocketPortFor(live *conf.Domain) func() (int, error) {
	return func() (int, error) {
		for _, g := range live.Devices.Graphics {
			if g.Type == "vnc" {
				return d.wsPorts.acquire(vncListen(g))
			}
		}
		return d.wsPorts.acquire("127.0.0.1")
	}
}

// setupVNC records the port QEMU listens on when it chose it itself,
// gives allocated ports' reservations back (QEMU holds them now), and
// sets the VNC and SPICE passwords as libvirt does at start: over the
// monitor, never on the command line.
func (d *Driver) setupVNC(ctx context.Context, v *vm, mon monitor) error {
	type display struct {
		typ, passwd, expiry string
		connected           string
		port, tlsPort, ws   int
		auto                bool
	}
	var ds []display
	v.mu.Lock()
	if v.live != nil {
		for _, x := range v.live.Devices.Graphics {
			if x.Type == "vnc" || x.Type == "spice" {
				// qemu.conf's vnc_password/spice_password stand in
				// for a display without its own, as libvirt's.
				passwd := x.Passwd
				if passwd == "" && x.Type == "vnc" {
					passwd = d.cfg.Graphics.VNCPassword
				} else if passwd == "" {
					passwd = d.cfg.Graphics.SpicePassword
				}
				conn, _ := conf.DeviceElement(x).Attr("connected")
				ds = append(ds, display{typ: x.Type, passwd: passwd, expiry: passwordExpiry(x, passwd), connected: conn,
					port: x.Port, tlsPort: x.TLSPort, auto: x.AutoPort && x.Socket == ""})
				if w, ok := conf.DeviceElement(x).Attr("websocket"); ok {
					ds[len(ds)-1].ws, _ = strconv.Atoi(w)
				}
			}
		}
	}
	v.mu.Unlock()
	for _, g := range ds {
		if g.auto && g.port > 0 {
			d.vncPorts.release(g.port)
		}
		if g.auto && g.tlsPort > 0 {
			d.vncPorts.release(g.tlsPort)
		}
		if g.ws > 0 {
			d.wsPorts.release(g.ws)
		}
		if g.auto && g.port <= 0 && g.typ == "vnc" {
			if err := d.readVNCPort(ctx, v, mon); err != nil {
				return err
			}
		}
		if g.passwd == "" {
			continue
		}
		if err := setDisplayPassword(ctx, mon, g.typ, g.passwd, g.connected, g.expiry); err != nil {
			return err
		}
	}
	return nil
}

// readVNCPort records the port QEMU picked itself for an autoport VNC
// display started without an allocator.
func (d *Driver) readVNCPort(ctx context.Context, v *vm, mon monitor) error {
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
	return nil
}
