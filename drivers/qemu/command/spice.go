package command

import (
	"fmt"
	"strings"

	"govirt/conf"
)

// emitSpice writes a SPICE display listening on an address, plain (no
// TLS, no password: both are refused rather than ignored). Autoport takes
// a port from the same allocator as VNC, as libvirt shares the range.
func (b *builder) emitSpice(g *conf.Graphics) error {
	if g.Passwd != "" {
		return unsupported("spice passwords are not supported by govirt's QEMU driver")
	}
	if g.TLSPort > 0 {
		return unsupported("spice TLS ports are not supported by govirt's QEMU driver")
	}
	if g.Socket != "" {
		return unsupported("spice on a unix socket is not supported by govirt's QEMU driver")
	}
	addr := g.Listen
	if e := conf.DeviceElement(g); e != nil {
		ls := e.Children("listen")
		if len(ls) > 1 {
			return unsupported("more than one <listen> is not supported by govirt's QEMU driver")
		}
		if len(ls) == 1 {
			if t := attr(ls[0], "type"); t != "" && t != "address" {
				return unsupportedValue("devices/graphics/listen", "type", t)
			}
			if a := attr(ls[0], "address"); a != "" {
				addr = a
			}
		}
	}
	if addr == "" {
		addr = "127.0.0.1"
	}
	g.Listen = addr
	switch {
	case g.AutoPort || g.Port <= 0:
		if b.p.VNCPort == nil {
			return unsupported("spice autoport needs a port allocator")
		}
		port, err := b.p.VNCPort()
		if err != nil {
			return err
		}
		g.Port, g.AutoPort = port, true
	case g.Port > 65535:
		return unsupported("spice port %d is out of range", g.Port)
	}
	arg := fmt.Sprintf("port=%d,addr=%s,disable-ticketing=on,seamless-migration=on", g.Port, addr)
	if strings.ContainsAny(addr, ",'") {
		return unsupported("spice listen address '%s' is not valid", addr)
	}
	b.add("-spice", arg)
	return nil
}
