package command

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/drivers/qemu/postparse"
	"govirt/virerr"
)

// GraphicsConfig is the host's side of displays and audio, libvirt's
// qemu.conf settings of the same names. The zero value is libvirt's
// default configuration: listen on 127.0.0.1, no TLS, no SASL, no host
// audio passthrough.
type GraphicsConfig struct {
	VNCListen            string // vnc_listen; "" is 127.0.0.1
	VNCAutoUnixSocket    bool   // vnc_auto_unix_socket
	VNCTLS               bool   // vnc_tls
	VNCTLSx509Verify     bool   // vnc_tls_x509_verify
	VNCTLSx509CertDir    string // vnc_tls_x509_cert_dir; "" is /etc/pki/libvirt-vnc
	VNCTLSx509SecretUUID string // vnc_tls_x509_secret_uuid: the key's password
	VNCSASL              bool   // vnc_sasl
	VNCSASLDir           string // vnc_sasl_dir, passed as SASL_CONF_PATH
	VNCPassword          string // vnc_password: the default password
	VNCAllowHostAudio    bool   // vnc_allow_host_audio

	SpiceListen         string // spice_listen; "" is 127.0.0.1
	SpiceAutoUnixSocket bool   // spice_auto_unix_socket
	SpiceTLS            bool   // spice_tls
	SpiceTLSx509CertDir string // spice_tls_x509_cert_dir; "" is /etc/pki/libvirt-spice
	SpiceSASL           bool   // spice_sasl
	SpiceSASLDir        string // spice_sasl_dir
	SpicePassword       string // spice_password: the default password
	NogfxAllowHostAudio bool   // nogfx_allow_host_audio
	AudioDriverEnv      string // QEMU_AUDIO_DRV in the daemon's environment
	SDLAudioDriverEnv   string // SDL_AUDIODRIVER in the daemon's environment
}

// audioDefaults are the settings the default audio backend follows.
func (c *GraphicsConfig) audioDefaults() postparse.Audio {
	return postparse.Audio{VNCAllowHostAudio: c.VNCAllowHostAudio, NogfxAllowHostAudio: c.NogfxAllowHostAudio,
		DriverEnv: c.AudioDriverEnv, SDLDriverEnv: c.SDLAudioDriverEnv}
}

// listen is a display's first <listen>, resolved as libvirt does at start.
type listen struct {
	typ     string // address, network, socket, none
	address string
	network string
	socket  string
}

// graphicsListen reads the first <listen> of g, or the one the legacy
// listen=/socket= attributes stand for (virDomainGraphicsListensParseXML).
func graphicsListen(g *conf.Graphics) (*listen, error) {
	e := conf.DeviceElement(g)
	ls := e.Children("listen")
	compatSocket := ""
	if g.Type == "vnc" {
		compatSocket = g.Socket
	}
	if len(ls) == 0 {
		if compatSocket != "" {
			return &listen{typ: "socket", socket: compatSocket}, nil
		}
		return &listen{typ: "address", address: g.Listen}, nil
	}
	if len(ls) > 1 {
		return nil, unsupported("QEMU does not support multiple listens for one graphics device.")
	}
	l0 := ls[0]
	l := &listen{typ: attr(l0, "type"), address: attr(l0, "address"), network: attr(l0, "network"), socket: attr(l0, "socket")}
	switch l.typ {
	case "address":
		if l.address != "" && g.Listen != "" && l.address != g.Listen {
			return nil, unsupported("graphics 'listen' attribute '%s' must match 'address' attribute of first listen element (found '%s')", g.Listen, l.address)
		}
		if l.address == "" {
			l.address = g.Listen
		}
	case "network":
		if l.network == "" {
			return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "'network' attribute is required for listen type 'network'")
		}
	case "socket", "none":
		if g.Type != "vnc" && g.Type != "spice" {
			return nil, unsupported("listen type '%s' is not available for graphics type '%s'", l.typ, g.Type)
		}
		if l.typ == "socket" && compatSocket != "" && l.socket != "" && l.socket != compatSocket {
			return nil, unsupported("graphics 'socket' attribute '%s' must match 'socket' attribute of first listen element (found '%s')", compatSocket, l.socket)
		}
		if l.typ == "socket" && l.socket == "" {
			l.socket = compatSocket
		}
	case "":
		return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Missing required attribute 'type' in element 'listen'")
	default:
		return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Invalid value for attribute 'type' in element 'listen': '%s'.", l.typ)
	}
	if l.network != "" && l.typ != "network" {
		return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "'network' attribute is valid only for listen type 'network'")
	}
	if l.socket != "" && l.typ != "socket" {
		return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "'socket' attribute is valid only for listen type 'socket'")
	}
	// A socket compat attribute turns an address listen into a socket.
	if (l.typ == "address" || l.typ == "network") && compatSocket != "" {
		return &listen{typ: "socket", socket: compatSocket}, nil
	}
	return l, nil
}

// setupListen fills in what qemuProcessGraphicsSetupListen does at start:
// the configured listen address, or a socket in the domain's directory
// when qemu.conf asks for sockets or the listen names none.
func (b *builder) setupListen(g *conf.Graphics, l *listen) error {
	cfg := &b.p.Graphics
	useSocket, addr := cfg.VNCAutoUnixSocket, cfg.VNCListen
	if g.Type == "spice" {
		useSocket, addr = cfg.SpiceAutoUnixSocket, cfg.SpiceListen
	}
	if addr == "" {
		addr = "127.0.0.1"
	}
	// A socket libvirt generated itself in an older version (its path is
	// in the daemon's own directories) becomes a plain listen again, as
	// qemuDomainRecheckInternalPaths does for VNC.
	if g.Type == "vnc" && l.typ == "socket" && l.socket != "" && b.p.DomainDir != "" &&
		strings.HasPrefix(l.socket, filepath.Dir(b.p.DomainDir)) && !strings.HasPrefix(l.socket, b.p.DomainDir+"/") {
		*l = listen{typ: "address"}
		g.Socket = ""
	}
	switch l.typ {
	case "address":
		if l.address == "" {
			if useSocket {
				*l = listen{typ: "socket", socket: b.p.DomainDir + "/" + g.Type + ".sock"}
			} else {
				l.address = addr
			}
		}
	case "network":
		if l.address == "" {
			if b.p.NetworkAddress == nil {
				return unsupported("network-based listen isn't possible, network driver isn't present")
			}
			a, err := b.p.NetworkAddress(l.network)
			if err != nil {
				return err
			}
			l.address = a
		}
	case "socket":
		if l.socket == "" {
			l.socket = b.p.DomainDir + "/" + g.Type + ".sock"
		}
	}
	return nil
}

// recordListen writes the resolved listen into the live definition, the
// way libvirt formats it: the <listen> element and, for the first
// address, the legacy listen= attribute.
func recordListen(g *conf.Graphics, l *listen) {
	conf.SetDeviceValue(g, "listen/@type", l.typ)
	switch l.typ {
	case "address", "network":
		conf.SetDeviceValue(g, "listen/@address", l.address)
		if l.typ == "network" {
			conf.SetDeviceValue(g, "listen/@network", l.network)
		}
		g.Listen = l.address
	case "socket":
		conf.SetDeviceValue(g, "listen/@socket", l.socket)
		if g.Type == "vnc" {
			g.Socket = l.socket
		}
		g.Listen = ""
	case "none":
		g.Listen = ""
	}
}

// emitGraphics writes every display in definition order, after libvirt's
// checks of how they combine (qemuValidateDomainDeviceDefGraphics).
func (b *builder) emitGraphics() error {
	gs := b.def.Devices.Graphics
	// SPICE's own chardevs (qemuValidateDomainChrSourceDef).
	ds := &b.def.Devices
	for _, list := range [][]*conf.Chardev{ds.Serials, ds.Consoles, ds.Channels} {
		for _, c := range list {
			if (c.Type == "spicevmc" || c.Type == "spiceport") && !b.hasGraphics("spice") {
				return unsupported("chardev '%s' not supported without spice graphics", c.Type)
			}
		}
	}
	egl := false
	for _, g := range gs {
		egl = egl || g.Type == "egl-headless"
	}
	seen := map[string]bool{}
	for _, g := range gs {
		switch g.Type {
		case "vnc", "spice", "sdl", "egl-headless", "dbus":
		case "rdp", "desktop":
			return unsupported("%s graphics are not supported with this QEMU", g.Type)
		default:
			return virerr.New(virerr.FromDomain, virerr.ErrConfigUnsupported, "unknown graphics type '%s'", g.Type)
		}
		flag := g.Type
		if flag == "dbus" {
			flag = "display-dbus"
		}
		if !b.caps.Has(flag) {
			return unsupported("%s graphics are not supported with this QEMU", g.Type)
		}
		if egl && g.Type != "egl-headless" && g.Type != "vnc" && g.Type != "spice" {
			return unsupported("graphics type 'egl-headless' is only supported with one of: 'vnc', 'spice' graphics types")
		}
		if egl && g.Type == "spice" && attr(child(conf.DeviceElement(g), "gl"), "enable") == "yes" {
			return unsupported("multiple OpenGL displays are not supported by QEMU")
		}
		if seen[g.Type] {
			return unsupported("only 1 graphics device of each type (sdl, vnc, spice, headless, dbus) is supported")
		}
		seen[g.Type] = true
	}
	for _, g := range gs {
		var err error
		switch g.Type {
		case "vnc":
			err = b.emitVNC(g)
		case "spice":
			err = b.emitSpice(g)
		case "sdl":
			err = b.emitSDL(g)
		case "egl-headless":
			err = b.emitEGLHeadless(g)
		case "dbus":
			err = b.emitDBus(g)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// graphicsAutoport is whether a VNC display takes an allocated port: an
// explicit autoport, or (without one) no port or the legacy port='-1'.
func graphicsAutoport(g *conf.Graphics) bool {
	switch attr(conf.DeviceElement(g), "autoport") {
	case "yes":
		return true
	case "no":
		return false
	}
	return g.Port <= 0
}

func (b *builder) emitVNC(g *conf.Graphics) error {
	cfg := &b.p.Graphics
	e := conf.DeviceElement(g)
	ref, err := audioRef(e)
	if err != nil {
		return err
	}
	audio, err := b.audioID(ref)
	if err != nil {
		return err
	}
	l, err := graphicsListen(g)
	if err != nil {
		return err
	}
	if err := b.setupListen(g, l); err != nil {
		return err
	}
	if pc := attr(e, "powerControl"); pc != "" && !b.caps.Has("vnc-power-control") {
		return unsupported("VNC power control is not available")
	}
	if len(g.Passwd) > 8 {
		return unsupported("VNC password is %d characters long, only 8 permitted", len(g.Passwd))
	}
	var opt strings.Builder
	switch l.typ {
	case "socket":
		opt.WriteString("vnc=unix:" + escapeComma(l.socket))
	case "address", "network":
		auto := graphicsAutoport(g)
		switch {
		case auto && b.p.VNCPort != nil:
			port, err := b.p.VNCPort()
			if err != nil {
				return err
			}
			g.Port = port
		case auto:
			// QEMU takes the first free display of 5900-65535; the
			// driver reads the port back with query-vnc.
			g.Port = -1
		case g.Port < 5900 || g.Port > 65535:
			return unsupported("vnc port must be in range [5900,65535]")
		}
		g.AutoPort = auto
		if strings.Contains(l.address, ":") {
			opt.WriteString("[" + l.address + "]")
		} else {
			opt.WriteString(l.address)
		}
		if auto && b.p.VNCPort == nil {
			fmt.Fprintf(&opt, ":0,to=%d", 65535-5900)
		} else {
			fmt.Fprintf(&opt, ":%d", g.Port-5900)
		}
		if ws := attr(e, "websocket"); ws != "" {
			n, err := strconv.Atoi(ws)
			if err != nil {
				return xmlInvalid("websocket", "graphics", ws, "integer value")
			}
			if n == -1 {
				if b.p.WebsocketPort == nil {
					return unsupported("websocket port allocation is not supported by govirt's QEMU driver")
				}
				if n, err = b.p.WebsocketPort(); err != nil {
					return err
				}
				conf.SetDeviceValue(g, "@websocket", strconv.Itoa(n))
				conf.SetDeviceValue(g, "@websocketGenerated", "yes")
			}
			if n != 0 {
				fmt.Fprintf(&opt, ",websocket=%d", n)
			}
		}
	case "none":
		opt.WriteString("none")
	}
	switch sp := attr(e, "sharePolicy"); sp {
	case "":
	case "allow-exclusive", "force-shared", "ignore":
		opt.WriteString(",share=" + sp)
	default:
		return xmlInvalid("sharePolicy", "graphics", sp, "")
	}
	if g.Passwd != "" || cfg.VNCPassword != "" {
		opt.WriteString(",password=on")
	}
	if cfg.VNCTLS {
		const alias = "vnc-tls-creds0"
		secret := ""
		if cfg.VNCTLSx509SecretUUID != "" {
			secret = alias + "-secret0"
			if err := b.secretObjectByUUID(secret, cfg.VNCTLSx509SecretUUID); err != nil {
				return err
			}
		}
		dir := cfg.VNCTLSx509CertDir
		if dir == "" {
			dir = "/etc/pki/libvirt-vnc"
		}
		b.tlsObject(alias, dir, cfg.VNCTLSx509Verify, secret)
		opt.WriteString(",tls-creds=" + alias)
	}
	if cfg.VNCSASL {
		opt.WriteString(",sasl=on")
		if cfg.VNCSASLDir != "" {
			b.extraEnv = append(b.extraEnv, "SASL_CONF_PATH="+cfg.VNCSASLDir)
		}
	}
	switch pc := attr(e, "powerControl"); pc {
	case "yes":
		opt.WriteString(",power-control=on")
	case "no":
		opt.WriteString(",power-control=off")
	case "":
	default:
		return xmlInvalid("powerControl", "graphics", pc, "")
	}
	opt.WriteString(",audiodev=" + audio)
	recordListen(g, l)
	b.add("-vnc", opt.String())
	if km := attr(e, "keymap"); km != "" {
		b.add("-k", km)
	}
	return nil
}

// tlsObject adds a tls-creds-x509 object for a server endpoint.
func (b *builder) tlsObject(alias, dir string, verify bool, secret string) {
	o := obj{}.set("qom-type", "tls-creds-x509").set("id", alias).set("dir", dir).
		set("endpoint", "server").set("verify-peer", verify)
	if secret != "" {
		o = o.set("passwordid", secret)
	}
	b.object(o)
}

// secretObjectByUUID adds the secret with the given UUID as an object
// QEMU decrypts with the master key, as libvirt passes secrets.
func (b *builder) secretObjectByUUID(alias, uuid string) error {
	if b.p.SecretValue == nil || len(b.p.MasterKeyData) != 32 {
		return unsupported("secrets for QEMU are not available to govirt's QEMU driver here")
	}
	val, err := b.p.SecretValue(uuid)
	if err != nil {
		return err
	}
	o, err := b.secretObject(alias, val)
	if err != nil {
		return err
	}
	b.object(o)
	return nil
}

func (b *builder) emitSDL(g *conf.Graphics) error {
	e := conf.DeviceElement(g)
	if x := attr(e, "xauth"); x != "" {
		b.extraEnv = append(b.extraEnv, "XAUTHORITY="+x)
	}
	if d := attr(e, "display"); d != "" {
		b.extraEnv = append(b.extraEnv, "DISPLAY="+d)
	}
	switch fs := attr(e, "fullscreen"); fs {
	case "yes":
		b.add("-full-screen")
	case "no", "":
	default:
		return xmlInvalid("fullscreen", "graphics", fs, "")
	}
	opt := "sdl"
	if gl := child(e, "gl"); gl != nil {
		switch en := attr(gl, "enable"); en {
		case "yes":
			opt += ",gl=on"
		case "no":
			opt += ",gl=off"
		default:
			return xmlInvalid("enable", "gl", en, "")
		}
	}
	b.add("-display", opt)
	return nil
}

// renderNode is the <gl rendernode> of a display, or the host's first
// render node when the display needs one and names none
// (qemuProcessGraphicsSetupRenderNode); it is recorded in the live
// definition.
func (b *builder) renderNode(g *conf.Graphics) (string, error) {
	gl := child(conf.DeviceElement(g), "gl")
	if rn := attr(gl, "rendernode"); rn != "" {
		return rn, nil
	}
	if b.p.RenderNode == nil {
		return "", unsupported("no DRM render node is available for OpenGL graphics")
	}
	rn, err := b.p.RenderNode()
	if err != nil {
		return "", err
	}
	conf.SetDeviceValue(g, "gl/@rendernode", rn)
	return rn, nil
}

func (b *builder) emitEGLHeadless(g *conf.Graphics) error {
	opt := "egl-headless"
	if gl := child(conf.DeviceElement(g), "gl"); attr(gl, "rendernode") != "" && !b.caps.Has("egl-headless.rendernode") {
		return unsupported("This QEMU doesn't support OpenGL rendernode with egl-headless graphics type")
	}
	if b.caps.Has("egl-headless.rendernode") {
		rn, err := b.renderNode(g)
		if err != nil {
			return err
		}
		opt += ",rendernode=" + escapeComma(rn)
	}
	b.add("-display", opt)
	return nil
}

// emitDBus writes a D-Bus display. libvirt runs a private bus per guest
// for it; govirt does not, so only a peer-to-peer display or one with an
// explicit bus address is built.
func (b *builder) emitDBus(g *conf.Graphics) error {
	e := conf.DeviceElement(g)
	p2p, addr := attr(e, "p2p") == "yes", attr(e, "address")
	if p2p && addr != "" {
		return virerr.New(virerr.FromDomain, virerr.ErrXMLError, "D-Bus p2p with an address is not supported")
	}
	opt := "dbus"
	switch {
	case p2p:
		opt += ",p2p=on"
	case addr != "":
		opt += ",addr=" + escapeComma(addr)
	default:
		return unsupported("a D-Bus display needs a bus address or p2p='yes' with govirt's QEMU driver")
	}
	gl := child(e, "gl")
	switch en := attr(gl, "enable"); en {
	case "yes":
		opt += ",gl=on"
		rn, err := b.renderNode(g)
		if err != nil {
			return err
		}
		opt += ",rendernode=" + escapeComma(rn)
	case "no":
		opt += ",gl=off"
	case "":
	default:
		return xmlInvalid("enable", "gl", en, "")
	}
	ref, err := audioRef(e)
	if err != nil {
		return err
	}
	if ref > 0 {
		a := b.audioByID(ref)
		if a != nil && a.Type != "dbus" {
			return unsupported("The associated audio is not of 'dbus' kind.")
		}
		id, err := b.audioID(ref)
		if err != nil {
			return err
		}
		opt += ",audiodev=" + id
	}
	b.add("-display", opt)
	return nil
}
