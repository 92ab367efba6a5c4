package command

import (
	"fmt"
	"slices"
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
	// libvirt's parser: port='-1' tlsPort='-1' is the legacy spelling
	// of autoport, and autoport drops both numbers.
	if g.Port == -1 && g.TLSPort == -1 {
		g.AutoPort = true
	}
	if g.AutoPort {
		g.Port, g.TLSPort = 0, 0
	}
	if g.TLSPort == -1 {
		// qemuProcessSPICEAllocatePorts; govirt has no spice_tls.
		return unsupported("Auto allocation of spice TLS port requested but spice TLS is disabled in qemu.conf")
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
	case g.AutoPort || g.Port == -1:
		if b.p.VNCPort == nil || b.p.Pretend {
			// Building without allocating (domxml-to-native, tests):
			// libvirt's placeholder port.
			g.Port, g.AutoPort = 5901, true
			break
		}
		port, err := b.p.VNCPort()
		if err != nil {
			return err
		}
		g.Port, g.AutoPort = port, true
	case g.Port > 65535 || g.Port < 0:
		return unsupported("spice port %d is out of range", g.Port)
	}
	if strings.ContainsAny(addr, ",'") {
		return unsupported("spice listen address '%s' is not valid", addr)
	}
	arg := ""
	if g.Port > 0 {
		arg = fmt.Sprintf("port=%d,addr=%s,", g.Port, addr)
	}
	arg += "disable-ticketing=on,"
	opts, err := spiceCompression(conf.DeviceElement(g))
	if err != nil {
		return err
	}
	arg += opts + "seamless-migration=on"
	b.add("-spice", arg)
	return nil
}

// spiceCompression writes the compression and streaming settings in the
// order qemuBuildGraphicsSPICECommandLine does, each value being one the
// schema allows.
func spiceCompression(e *conf.Element) (string, error) {
	settings := []struct {
		elem, attr, opt string
		values          []string
	}{
		{"image", "compression", "image-compression", []string{"auto_glz", "auto_lz", "quic", "glz", "lz", "off"}},
		{"jpeg", "compression", "jpeg-wan-compression", []string{"auto", "never", "always"}},
		{"zlib", "compression", "zlib-glz-wan-compression", []string{"auto", "never", "always"}},
		{"playback", "compression", "playback-compression", []string{"on", "off"}},
		{"streaming", "mode", "streaming-video", []string{"filter", "all", "off"}},
	}
	out := ""
	for _, st := range settings {
		c := child(e, st.elem)
		if c == nil {
			continue
		}
		v := attr(c, st.attr)
		if !slices.Contains(st.values, v) {
			return "", unsupported("invalid value '%s' for attribute '%s' of <graphics/%s>", v, st.attr, st.elem)
		}
		out += st.opt + "=" + v + ","
	}
	return out, nil
}
