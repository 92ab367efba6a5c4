package command

import (
	"fmt"
	"slices"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// spiceChannels are SPICE's channel names in libvirt's enum order, which
// is the order their tls-channel/plaintext-channel options are written.
var spiceChannels = []string{"main", "display", "inputs", "cursor", "playback", "record", "smartcard", "usbredir"}

// spiceEnums are the values of SPICE's tuning elements, by element and
// attribute, as libvirt's parser takes them.
var spiceEnums = map[string][]string{
	"image/compression":    {"auto_glz", "auto_lz", "quic", "glz", "lz", "off"},
	"jpeg/compression":     {"auto", "never", "always"},
	"zlib/compression":     {"auto", "never", "always"},
	"playback/compression": {"on", "off"},
	"streaming/mode":       {"filter", "all", "off"},
	"clipboard/copypaste":  {"yes", "no"},
	"filetransfer/enable":  {"yes", "no"},
	"gl/enable":            {"yes", "no"},
	"mouse/mode":           {"server", "client"},
	"channel/mode":         {"any", "secure", "insecure"},
	"channel/name":         spiceChannels,
	"graphics/defaultMode": {"any", "secure", "insecure"},
	"graphics/autoport":    {"yes", "no"},
}

// enumAttr reads attribute a of c, named elem in errors, checking it
// against spiceEnums; "" when absent.
func enumAttr(c *conf.Element, elem, a string) (string, error) {
	v, ok := c.Attr(a)
	if !ok {
		return "", nil
	}
	if !slices.Contains(spiceEnums[elem+"/"+a], v) {
		return "", virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Invalid value for attribute '%s' in element '%s': '%s'.", a, elem, v)
	}
	return v, nil
}

// spiceValue reads the required enumerated attribute a of the SPICE
// sub-element elem; "" when the element is absent.
func spiceValue(e *conf.Element, elem, a string) (string, error) {
	c := child(e, elem)
	if c == nil {
		return "", nil
	}
	if _, ok := c.Attr(a); !ok {
		return "", virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Missing required attribute '%s' in element '%s'", a, elem)
	}
	return enumAttr(c, elem, a)
}

// spicePort allocates one SPICE port: SPICE shares VNC's range.
func (b *builder) spicePort() (int, error) {
	switch {
	case b.p.SpicePort != nil:
		return b.p.SpicePort()
	case b.p.VNCPort != nil:
		return b.p.VNCPort()
	}
	return 0, unsupported("spice autoport needs a port allocator")
}

// emitSpice writes -spice as qemuBuildGraphicsSPICECommandLine, with the
// ports allocated as qemuProcessSPICEAllocatePorts and the checks of
// qemuValidateDomainDeviceDefSPICEGraphics.
func (b *builder) emitSpice(g *conf.Graphics) error {
	cfg := &b.p.Graphics
	e := conf.DeviceElement(g)
	l, err := graphicsListen(g)
	if err != nil {
		return err
	}
	autoMode, err := enumAttr(e, "graphics", "autoport")
	if err != nil {
		return err
	}
	// conf reads an autoport display without port as port -1.
	auto := autoMode == "yes" || (g.Port == -1 && g.TLSPort == -1)
	port, tlsPort := g.Port, g.TLSPort
	// libvirt's parser (INACTIVE, as every definition is read): autoport
	// drops both numbers, so virt-install's port='-1' tlsPort='-1'
	// autoport='yes' asks for a plain port only (a TLS one only with
	// spice_tls).
	if auto {
		port, tlsPort = 0, 0
	}
	// virDomainDefPostParseGraphics: no ports and no autoport is a
	// display listening nowhere.
	if l.typ == "address" && port == 0 && tlsPort == 0 && !auto {
		*l = listen{typ: "none"}
	}
	if err := b.setupListen(g, l); err != nil {
		return err
	}
	defMode, err := enumAttr(e, "graphics", "defaultMode")
	if err != nil {
		return err
	}
	modes := map[string]string{}
	for _, c := range e.Children("channel") {
		name, err := enumAttr(c, "channel", "name")
		if err != nil {
			return err
		}
		mode, err := enumAttr(c, "channel", "mode")
		if err != nil {
			return err
		}
		for a, v := range map[string]string{"name": name, "mode": mode} {
			if v == "" {
				return virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Missing required attribute '%s' in element 'channel'", a)
			}
		}
		modes[name] = mode
	}
	gl, err := spiceValue(e, "gl", "enable")
	if err != nil {
		return err
	}
	if (l.typ == "address" || l.typ == "network") && tlsPort > 0 && !cfg.SpiceTLS {
		return unsupported("spice TLS port set in XML configuration, but TLS is disabled in qemu.conf")
	}
	if gl == "yes" {
		if !b.caps.Has("spice-gl") {
			return unsupported("This QEMU doesn't support spice OpenGL")
		}
		if attr(child(e, "gl"), "rendernode") != "" && !b.caps.Has("spice-rendernode") {
			return unsupported("This QEMU doesn't support spice OpenGL rendernode")
		}
	}
	if l.typ == "address" || l.typ == "network" {
		needPort, needTLS := false, false
		if auto {
			for _, m := range modes {
				needTLS = needTLS || m == "secure"
				needPort = needPort || m == "insecure"
			}
			switch defMode {
			case "secure":
				needTLS = true
			case "insecure":
				needPort = true
			default:
				needTLS = needTLS || cfg.SpiceTLS
				needPort = true
			}
		}
		if needPort || port == -1 {
			if port, err = b.spicePort(); err != nil {
				return err
			}
		}
		if needTLS || tlsPort == -1 {
			if !cfg.SpiceTLS {
				return unsupported("Auto allocation of spice TLS port requested but spice TLS is disabled in qemu.conf")
			}
			if tlsPort, err = b.spicePort(); err != nil {
				return err
			}
		}
		if port > 65535 || tlsPort > 65535 {
			return unsupported("spice port %d is out of range", max(port, tlsPort))
		}
	}
	var opt strings.Builder
	secure, insecure := false, false
	switch l.typ {
	case "socket":
		opt.WriteString("unix,addr=" + escapeComma(l.socket) + ",")
		insecure = true
	case "address", "network":
		if port > 0 {
			fmt.Fprintf(&opt, "port=%d,", port)
			insecure = true
		}
		if tlsPort > 0 {
			fmt.Fprintf(&opt, "tls-port=%d,", tlsPort)
			secure = true
		}
		if (port > 0 || tlsPort > 0) && l.address != "" {
			if strings.ContainsAny(l.address, ",") {
				return unsupported("spice listen address '%s' is not valid", l.address)
			}
			opt.WriteString("addr=" + l.address + ",")
		}
	case "none":
		// QEMU needs port or tls-port when nothing else is given.
		opt.WriteString("port=0,")
		insecure = true
	}
	if cfg.SpiceSASL {
		opt.WriteString("sasl=on,")
		if cfg.SpiceSASLDir != "" {
			b.extraEnv = append(b.extraEnv, "SASL_CONF_PATH="+cfg.SpiceSASLDir)
		}
	}
	switch mm, err := spiceValue(e, "mouse", "mode"); {
	case err != nil:
		return err
	case mm == "server":
		opt.WriteString("agent-mouse=off,")
	case mm == "client":
		opt.WriteString("agent-mouse=on,")
	}
	// A password is set over the monitor after start, never on the
	// command line.
	if g.Passwd == "" && cfg.SpicePassword == "" {
		opt.WriteString("disable-ticketing=on,")
	}
	if secure {
		dir := cfg.SpiceTLSx509CertDir
		if dir == "" {
			dir = "/etc/pki/libvirt-spice"
		}
		opt.WriteString("x509-dir=" + escapeComma(dir) + ",")
	}
	switch defMode {
	case "secure":
		if !secure {
			return unsupported("spice defaultMode secure requested in XML configuration, but TLS connection is not available")
		}
		opt.WriteString("tls-channel=default,")
	case "insecure":
		if !insecure {
			return unsupported("spice defaultMode insecure requested in XML configuration, but plaintext connection is not available")
		}
		opt.WriteString("plaintext-channel=default,")
	}
	for _, name := range spiceChannels {
		switch modes[name] {
		case "secure":
			if !secure {
				return unsupported("spice secure channels set in XML configuration, but TLS connection is not available")
			}
			opt.WriteString("tls-channel=" + name + ",")
		case "insecure":
			if !insecure {
				return unsupported("spice insecure channels set in XML configuration, but plaintext connection is not available")
			}
			opt.WriteString("plaintext-channel=" + name + ",")
		}
	}
	for _, t := range []struct{ elem, a, opt string }{
		{"image", "compression", "image-compression"},
		{"jpeg", "compression", "jpeg-wan-compression"},
		{"zlib", "compression", "zlib-glz-wan-compression"},
		{"playback", "compression", "playback-compression"},
		{"streaming", "mode", "streaming-video"},
	} {
		v, err := spiceValue(e, t.elem, t.a)
		if err != nil {
			return err
		}
		if v != "" {
			opt.WriteString(t.opt + "=" + v + ",")
		}
	}
	if v, err := spiceValue(e, "clipboard", "copypaste"); err != nil {
		return err
	} else if v == "no" {
		opt.WriteString("disable-copy-paste=on,")
	}
	if v, err := spiceValue(e, "filetransfer", "enable"); err != nil {
		return err
	} else if v == "no" {
		opt.WriteString("disable-agent-file-xfer=on,")
	}
	if gl == "yes" {
		opt.WriteString("gl=on,")
		if b.caps.Has("spice-rendernode") {
			rn, err := b.renderNode(g)
			if err != nil {
				return err
			}
			opt.WriteString("rendernode=" + escapeComma(rn) + ",")
		}
	}
	// Seamless migration falls back silently where unsupported.
	opt.WriteString("seamless-migration=on")
	if l.typ == "address" || l.typ == "network" {
		g.Port, g.TLSPort = port, tlsPort
	}
	g.AutoPort = auto
	recordListen(g, l)
	b.add("-spice", opt.String())
	if km := attr(e, "keymap"); km != "" {
		b.add("-k", km)
	}
	return nil
}
