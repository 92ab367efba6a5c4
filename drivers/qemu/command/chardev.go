package command

import (
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// chrSource is the host side of a character device (libvirt's
// virDomainChrSourceDef) as read from a device element: <serial>,
// <parallel>, <channel>, <console>, <smartcard>, <redirdev> or an rng
// <backend>.
type chrSource struct {
	typ string

	path   string // file, dev, pipe, unix, pty
	listen bool   // tcp, unix: mode='bind'
	append string // file: "", "on", "off"

	host, service string // tcp
	telnet        bool
	tls           string // tcp: "", "yes", "no"

	bindHost, bindService       string // udp
	connectHost, connectService string
	hasConnectService           bool

	reconnect        string // tcp, unix: "", "yes", "no"
	reconnectTimeout string

	channel string // spiceport

	clipboard string // qemu-vdagent: "", "yes", "no"
	mouse     string // qemu-vdagent: "", "client", "server"

	logFile   string
	logAppend string // "", "on", "off"
}

// chrTypes are the source types libvirt's QEMU driver builds.
var chrTypes = []string{"null", "vc", "pty", "dev", "file", "pipe", "stdio", "udp",
	"tcp", "unix", "spicevmc", "spiceport", "qemu-vdagent"}

// parseChrSource reads the source of a character device element e whose
// type is typ, with libvirt's parse and validation errors
// (virDomainChrSourceDefParseXML, virDomainChrSourceDefValidate).
// pathOptional is true for the virtio channels whose unix socket libvirt
// names itself.
func parseChrSource(e *conf.Element, typ string, pathOptional bool) (*chrSource, error) {
	if typ == "" {
		typ = "null"
	}
	known := false
	for _, t := range chrTypes {
		known = known || t == typ
	}
	if !known {
		if typ == "nmdm" || typ == "dbus" {
			return nil, unsupported("unsupported chardev '%s'", typ)
		}
		return nil, virerr.New(virerr.FromDomain, virerr.ErrConfigUnsupported, "unknown type presented to host for character device: %s", typ)
	}
	s := &chrSource{typ: typ}
	var sources []*conf.Element
	if e != nil {
		sources = e.Children("source")
	}
	if len(sources) > 1 && typ != "udp" {
		return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "only one source element is allowed for character device")
	}
	if len(sources) > 2 {
		return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "only two source elements are allowed for character device")
	}
	mode := func(src *conf.Element) (bool, error) {
		switch m := attr(src, "mode"); m {
		case "", "connect":
			return false, nil
		case "bind":
			return true, nil
		default:
			return false, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Invalid value for attribute 'mode' in element 'source': '%s'.", m)
		}
	}
	onOff := func(src *conf.Element, name string) (string, error) {
		switch v := attr(src, name); v {
		case "", "on", "off":
			return v, nil
		default:
			return "", virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Invalid value for attribute '%s' in element '%s': '%s'.", name, src.Name(), v)
		}
	}
	yesNo := func(src *conf.Element, name string) (string, error) {
		switch v := attr(src, name); v {
		case "", "yes", "no":
			return v, nil
		default:
			return "", virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Invalid value for attribute '%s' in element '%s': '%s'.", name, src.Name(), v)
		}
	}
	reconnect := func(src *conf.Element) error {
		r := child(src, "reconnect")
		if r == nil {
			return nil
		}
		var err error
		if s.reconnect, err = yesNo(r, "enabled"); err != nil {
			return err
		}
		if s.reconnect == "yes" {
			t := attr(r, "timeout")
			if _, err := strconv.ParseUint(t, 10, 32); err != nil {
				if t == "" {
					return virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Missing required attribute 'timeout' in element 'reconnect'")
				}
				return virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Invalid value for attribute 'timeout' in element 'reconnect': '%s'. Expected non-negative integer value", t)
			}
			s.reconnectTimeout = t
		}
		return nil
	}
	var err error
	if len(sources) > 0 {
		src := sources[0]
		switch typ {
		case "file":
			s.path = attr(src, "path")
			if s.append, err = onOff(src, "append"); err != nil {
				return nil, err
			}
		case "pty", "dev", "pipe":
			s.path = attr(src, "path")
		case "unix":
			if s.listen, err = mode(src); err != nil {
				return nil, err
			}
			s.path = attr(src, "path")
			if err := reconnect(src); err != nil {
				return nil, err
			}
		case "udp":
			for _, src := range sources {
				bind, err := mode(src)
				if err != nil {
					return nil, err
				}
				switch {
				case !bind && s.connectHost == "" && !s.hasConnectService:
					s.connectHost = attr(src, "host")
					s.connectService, s.hasConnectService = src.Attr("service")
				case bind && s.bindHost == "" && s.bindService == "":
					s.bindHost, s.bindService = attr(src, "host"), attr(src, "service")
				}
			}
		case "tcp":
			if s.listen, err = mode(src); err != nil {
				return nil, err
			}
			s.host, s.service = attr(src, "host"), attr(src, "service")
			if s.tls, err = yesNo(src, "tls"); err != nil {
				return nil, err
			}
			if err := reconnect(src); err != nil {
				return nil, err
			}
		case "spiceport":
			s.channel = attr(src, "channel")
		case "qemu-vdagent":
			if c := child(src, "clipboard"); c != nil {
				if s.clipboard, err = yesNo(c, "copypaste"); err != nil {
					return nil, err
				}
				if s.clipboard == "" {
					return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Missing required attribute 'copypaste' in element 'clipboard'")
				}
			}
			if m := child(src, "mouse"); m != nil {
				switch s.mouse = attr(m, "mode"); s.mouse {
				case "client", "server":
				case "":
					return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Missing required attribute 'mode' in element 'mouse'")
				default:
					return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Invalid value for attribute 'mode' in element 'mouse': '%s'.", s.mouse)
				}
			}
		}
	}
	if e != nil {
		logs := e.Children("log")
		if len(logs) > 1 {
			return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "only one log element is allowed for character device")
		}
		if len(logs) == 1 {
			s.logFile = attr(logs[0], "file")
			if s.logAppend, err = onOff(logs[0], "append"); err != nil {
				return nil, err
			}
		}
		protos := e.Children("protocol")
		if len(protos) > 1 {
			return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "only one protocol element is allowed for character device")
		}
		if len(protos) == 1 && typ == "tcp" {
			switch p := attr(protos[0], "type"); p {
			case "", "raw":
			case "telnet":
				s.telnet = true
			case "telnets", "tls":
				return nil, unsupported("chardev protocol '%s' is not supported by govirt's QEMU driver", p)
			default:
				return nil, virerr.New(virerr.FromDomain, virerr.ErrConfigUnsupported, "Unknown protocol '%s'", p)
			}
		}
	}
	return s, s.validate(pathOptional)
}

// validate is virDomainChrSourceDefValidate.
func (s *chrSource) validate(pathOptional bool) error {
	internal := func(msg string) error { return virerr.New(virerr.FromDomain, virerr.ErrInternalError, "%s", msg) }
	switch s.typ {
	case "file", "dev", "pipe":
		if s.path == "" {
			return internal("Missing source path attribute for char device")
		}
	case "tcp":
		if s.host == "" {
			return internal("Missing source host attribute for char device")
		}
		if s.service == "" {
			return internal("Missing source service attribute for char device")
		}
		if s.listen && s.reconnect != "" {
			return internal("chardev reconnect is possible only for connect mode")
		}
	case "udp":
		if !s.hasConnectService {
			return internal("Missing source service attribute for char device")
		}
	case "unix":
		if s.path == "" && !pathOptional {
			return internal("Missing source path attribute for char device")
		}
		if s.listen && s.reconnect != "" {
			return internal("chardev reconnect is possible only for connect mode")
		}
	case "spiceport":
		if s.channel == "" {
			return unsupported("Missing source channel attribute for char device")
		}
		const ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
		if strings.Trim(s.channel, ok) != "" {
			return virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "Invalid character in source channel for char device")
		}
	}
	return nil
}

// HostFileKind says how the driver opens a HostFile.
type HostFileKind int

const (
	// FileTruncate is a file opened for writing, created if missing and
	// truncated (libvirt's default for chardev files and logs).
	FileTruncate HostFileKind = iota
	// FileAppend is a file opened for appending, created if missing.
	FileAppend
	// UnixListen is a unix socket the driver binds and listens on (any
	// file at the path is removed first).
	UnixListen
	// FileFlags is an existing file opened with HostFile.Flag (as
	// os.OpenFile), such as a TPM device (Paths.OpenFD's default).
	FileFlags
)

// HostFile is a file or socket the driver opens for QEMU, which inherits
// it as descriptor FD. libvirt never lets QEMU open chardev files or bind
// chardev sockets itself: files are passed in fd sets (-add-fd) and
// listening sockets as fd=N, so they are created with the daemon's rights
// and labels.
type HostFile struct {
	FD   int
	Path string
	Kind HostFileKind
	Flag int // FileFlags only
}

// openFD is Paths.OpenFD when the caller gives none: the file becomes a
// HostFile the caller opens with the others.
func (b *builder) openFD(path string, flag int) (int, error) {
	f := HostFile{Path: path, Kind: FileFlags, Flag: flag}
	f.FD = b.hostFD(f, false)
	b.files = append(b.files, f)
	return f.FD, nil
}

// hostFD allocates the descriptor a HostFile gets in QEMU: the caller's
// allocator when it has one (libvirt's tests use fixed fake numbers),
// else the next one after the monitor's.
func (b *builder) hostFD(f HostFile, log bool) int {
	if b.p.HostFD != nil {
		return b.p.HostFD(f, log)
	}
	if b.nextFD == 0 {
		b.nextFD = max(b.p.MonitorFD, 2) + 1
	}
	fd := b.nextFD
	b.nextFD++
	return fd
}

// passFile adds an fd set holding path (libvirt's qemuFDPass) and returns
// the path QEMU opens it by.
func (b *builder) passFile(path, appendMode, devAlias, suffix string) string {
	kind := FileTruncate
	if appendMode == "on" {
		kind = FileAppend
	}
	f := HostFile{Path: path, Kind: kind}
	f.FD = b.hostFD(f, suffix == "-log")
	b.files = append(b.files, f)
	set := b.fdsets
	b.fdsets++
	b.add("-add-fd", "set="+strconv.Itoa(set)+",fd="+strconv.Itoa(f.FD)+",opaque="+devAlias+suffix)
	return "/dev/fdset/" + strconv.Itoa(set)
}

// chardevOpts are what the device using a chardev adds to its backend.
type chardevOpts struct {
	spicevmc string // name= of a spicevmc backend: vdagent, usbredir, smartcard
}

// addChardev writes the -chardev (and what it needs first: fd sets, TLS
// objects) of s for the device devAlias, as qemuBuildChardevCommand.
func (b *builder) addChardev(s *chrSource, devAlias string, o chardevOpts) error {
	id := "char" + devAlias
	var sb strings.Builder
	w := func(parts ...string) {
		for _, p := range parts {
			sb.WriteString(p)
		}
	}
	switch s.typ {
	case "null", "vc", "pty", "stdio":
		w(s.typ, ",id=", id)
	case "dev":
		backend := "serial"
		if strings.HasPrefix(id, "charparallel") {
			backend = "parallel"
		}
		w(backend, ",id=", id, ",path=", escapeComma(s.path))
	case "file":
		if b.p.Pretend {
			// libvirt's pretend start opens nothing: QEMU would open
			// the file itself, as the source asks.
			w("file,id=", id, ",path=", escapeComma(s.path), onOffOpt(",append=", s.append))
			break
		}
		path := b.passFile(s.path, s.append, devAlias, "-source")
		// The descriptor is opened as the source asks; QEMU must not
		// truncate what the daemon opened for appending.
		w("file,id=", id, ",path=", path, ",append=on")
	case "pipe":
		w("pipe,id=", id, ",path=", escapeComma(s.path))
	case "udp":
		svc := s.bindService
		if svc == "" {
			svc = "0"
		}
		w("udp,id=", id, ",host=", s.connectHost, ",port=", s.connectService,
			",localaddr=", s.bindHost, ",localport=", svc)
	case "tcp":
		tlsAlias := ""
		cfg := b.p.ChardevTLS
		if s.tls == "yes" || s.tls == "" && cfg.Default {
			tlsAlias = "obj" + id + "_tls0"
			endpoint, verify := "client", true
			if s.listen {
				endpoint, verify = "server", cfg.Verify
			}
			dir := cfg.Dir
			if dir == "" {
				dir = "/etc/pki/qemu"
			}
			// The key's password, as a secret QEMU decrypts with
			// the master key (qemuDomainSecretChardevPrepare).
			secret := ""
			if cfg.SecretUUID != "" {
				secret = id + "-secret0"
				if err := b.secretObjectByUUID(secret, cfg.SecretUUID); err != nil {
					return err
				}
			}
			o := obj{}.set("qom-type", "tls-creds-x509").set("id", tlsAlias).set("dir", dir).
				set("endpoint", endpoint).set("verify-peer", verify)
			if secret != "" {
				o = o.set("passwordid", secret)
			}
			b.object(o)
		}
		w("socket,id=", id, ",host=", s.host, ",port=", s.service)
		if s.telnet {
			w(",telnet=on")
		}
		if s.listen {
			w(",server=on,wait=off")
		}
		w(s.reconnectOpt())
		if tlsAlias != "" {
			w(",tls-creds=", tlsAlias)
		}
	case "unix":
		w("socket,id=", id)
		if s.listen && !b.p.Pretend {
			f := HostFile{Path: s.path, Kind: UnixListen}
			f.FD = b.hostFD(f, false)
			b.files = append(b.files, f)
			w(",fd=", strconv.Itoa(f.FD), ",server=on,wait=off")
		} else {
			w(",path=", escapeComma(s.path))
			if s.listen {
				w(",server=on,wait=off")
			}
		}
		w(s.reconnectOpt())
	case "spicevmc":
		w("spicevmc,id=", id, ",name=", o.spicevmc)
	case "spiceport":
		w("spiceport,id=", id, ",name=", s.channel)
	case "qemu-vdagent":
		w("qemu-vdagent,id=", id, ",name=vdagent")
		switch s.clipboard {
		case "yes":
			w(",clipboard=on")
		case "no":
			w(",clipboard=off")
		}
		switch s.mouse {
		case "client":
			w(",mouse=on")
		case "server":
			w(",mouse=off")
		}
	default:
		return unsupported("unsupported chardev '%s'", s.typ)
	}
	if s.logFile != "" && b.p.Pretend {
		w(",logfile=", escapeComma(s.logFile), onOffOpt(",logappend=", s.logAppend))
	} else if s.logFile != "" {
		// The log's fd set is added before the -chardev, after the
		// source's, as libvirt does.
		w(",logfile=", b.passFile(s.logFile, s.logAppend, devAlias, "-log"), ",logappend=on")
	}
	b.add("-chardev", sb.String())
	return nil
}

// onOffOpt is key+v, or nothing when v (on, off) is unset.
func onOffOpt(key, v string) string {
	if v == "" {
		return ""
	}
	return key + v
}

func (s *chrSource) reconnectOpt() string {
	switch s.reconnect {
	case "yes":
		return ",reconnect=" + s.reconnectTimeout
	case "no":
		return ",reconnect=0"
	}
	return ""
}
