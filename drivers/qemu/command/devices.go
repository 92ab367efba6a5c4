package command

import (
	"fmt"
	"govirt/drivers/internal/safepath"
	"slices"
	"strconv"
	"strings"

	"govirt/conf"
)

// emitControllers writes the controllers QEMU does not create itself:
// PCI controllers first (other devices plug into them), then by type in
// libvirt's order.
func (b *builder) emitControllers() error {
	ds := &b.def.Devices
	for _, c := range ds.Controllers {
		switch c.Type {
		case "pci", "usb", "scsi", "ide", "sata", "virtio-serial":
		default:
			return unsupportedValue("devices/controller", "type", c.Type)
		}
		if attr(conf.DeviceElement(c), "ports") != "" && c.Type != "virtio-serial" && c.Type != "usb" {
			return unsupported("attribute 'ports' of controller type '%s' is not supported by govirt's QEMU driver", c.Type)
		}
	}
	pcis := slices.Clone(ds.Controllers)
	slices.SortStableFunc(pcis, func(x, y *conf.Controller) int { return x.Index - y.Index })
	for _, c := range pcis {
		if c.Type != "pci" || c.Index == 0 {
			continue
		}
		t := child(conf.DeviceElement(c), "target")
		port, err := strconv.ParseUint(attr(t, "port"), 0, 8)
		if err != nil {
			return unsupported("invalid port '%s' of pcie-root-port %s", attr(t, "port"), c.Alias)
		}
		chassis, err := strconv.ParseUint(attr(t, "chassis"), 0, 8)
		if err != nil {
			return unsupported("invalid chassis '%s' of pcie-root-port %s", attr(t, "chassis"), c.Alias)
		}
		b.device(b.pciProps(obj{}.set("driver", "pcie-root-port").set("port", port).
			set("chassis", chassis).set("id", c.Alias), c.Address))
	}
	for _, typ := range []string{"usb", "scsi", "ide", "sata", "virtio-serial"} {
		for _, c := range ds.Controllers {
			if c.Type != typ {
				continue
			}
			drv, err := b.controllerDriver(c)
			if err != nil {
				return err
			}
			if drv == "" {
				continue
			}
			if typ == "usb" {
				o, err := b.usbControllerProps(c, drv)
				if err != nil {
					return err
				}
				b.device(b.pciProps(o, c.Address))
				continue
			}
			o := obj{}.set("driver", drv).set("id", c.Alias)
			if p := attr(conf.DeviceElement(c), "ports"); p != "" {
				n, err := strconv.Atoi(p)
				if err != nil {
					return unsupportedValue("devices/controller", "ports", p)
				}
				o = o.set("max_ports", n)
			}
			b.device(b.pciProps(o, c.Address))
		}
	}
	return nil
}

// controllerDriver is the QEMU device of a controller, "" for the ones
// the machine has built in or that create nothing.
func (b *builder) controllerDriver(c *conf.Controller) (string, error) {
	switch c.Type {
	case "usb":
		switch c.Model {
		case "piix3-uhci":
			return "piix3-usb-uhci", nil
		case "qemu-xhci":
			return "qemu-xhci", nil
		case "nec-xhci":
			return "nec-usb-xhci", nil
		case "ich9-ehci1":
			return "ich9-usb-ehci1", nil
		case "ich9-uhci1", "ich9-uhci2", "ich9-uhci3":
			return "ich9-usb-" + strings.TrimPrefix(c.Model, "ich9-"), nil
		case "none":
			return "", nil
		}
	case "scsi":
		switch c.Model {
		case "virtio-scsi":
			return "virtio-scsi-pci", nil
		case "lsilogic", "":
			c.Model = "lsilogic"
			return "lsi", nil
		}
	case "ide":
		if c.Index == 0 && !b.q35 && c.Model == "" {
			return "", nil
		}
	case "sata":
		if c.Model != "" {
			break
		}
		if c.Index == 0 && b.q35 {
			return "", nil
		}
		return "ahci", nil
	case "virtio-serial":
		if c.Model == "" {
			return "virtio-serial-pci", nil
		}
	}
	return "", unsupported("controller type '%s' index %d model '%s' is not supported by govirt's QEMU driver", c.Type, c.Index, c.Model)
}

// netModels maps <model type> to the QEMU NIC device.
var netModels = map[string]string{"virtio": "virtio-net-pci", "e1000": "e1000",
	"e1000e": "e1000e", "rtl8139": "rtl8139"}

func (b *builder) emitNets() error {
	boot := b.bootIndexes()
	for i, n := range b.def.Devices.Interfaces {
		id := "host" + n.Alias
		nd := obj{}
		switch n.Type {
		case "user":
			nd = nd.set("type", "user")
		case "ethernet", "bridge", "network":
			if n.Type != "ethernet" && n.Bridge == "" {
				return unsupported("interface %s of type %s has no <source bridge>", n.Alias, n.Type)
			}
			if n.TargetDev == "" {
				// libvirt numbers vnetN host-wide; the builder has no
				// host-wide state, so it derives a name unique to the
				// domain (IFNAMSIZ is 16).
				n.TargetDev = fmt.Sprintf("vn%s-%d", strings.ReplaceAll(b.def.UUID.String(), "-", "")[:8], i)
			}
			nd = nd.set("type", "tap").set("ifname", n.TargetDev).set("script", "no").set("downscript", "no")
			b.taps = append(b.taps, Tap{IfName: n.TargetDev, Bridge: n.Bridge})
		default:
			return unsupportedValue("devices/interface", "type", n.Type)
		}
		if n.Type != "bridge" && n.Type != "network" && n.Bridge != "" {
			return unsupported("<source bridge> needs interface type 'bridge'")
		}
		b.add("-netdev", nd.set("id", id).String())
		drv, ok := netModels[n.Model]
		if !ok {
			return unsupportedValue("devices/interface/model", "type", n.Model)
		}
		o := obj{}.set("driver", drv).set("netdev", id).set("id", n.Alias).set("mac", n.MAC)
		o = b.pciProps(o, n.Address)
		if bi := boot[n]; bi > 0 {
			o = o.set("bootindex", bi)
		}
		b.device(o)
	}
	return nil
}

// chardev is the -chardev option of a host side: pty, unix socket or file.
func chardev(c *conf.Chardev, id string) (string, error) {
	switch c.Type {
	case "pty":
		return "pty,id=" + id, nil
	case "unix":
		if c.SourcePath == "" {
			return "", unsupported("unix chardev %s has no source path", id)
		}
		s := "socket,id=" + id + ",path=" + escapeComma(c.SourcePath)
		switch c.SourceMode {
		case "bind":
			s += ",server=on,wait=off"
		case "connect", "":
		default:
			return "", unsupported("chardev source mode '%s' is not supported by govirt's QEMU driver", c.SourceMode)
		}
		return s, nil
	case "file":
		if c.SourcePath == "" {
			return "", unsupported("file chardev %s has no source path", id)
		}
		if c.SourceMode != "" {
			return "", unsupported("a file chardev takes no source mode")
		}
		return "file,id=" + id + ",path=" + escapeComma(c.SourcePath), nil
	case "spicevmc":
		// The SPICE agent channel (libvirt's default spicevmc name).
		return "spicevmc,id=" + id + ",name=vdagent", nil
	}
	return "", unsupported("chardev type '%s' is not supported by govirt's QEMU driver", c.Type)
}

func (b *builder) emitSerials() error {
	for _, s := range b.def.Devices.Serials {
		if s.TargetType != "isa-serial" {
			return unsupportedValue("devices/serial/target", "type", s.TargetType)
		}
		if m := attr(child(conf.DeviceElement(s), "target", "model"), "name"); m != "" && m != "isa-serial" {
			return unsupportedValue("devices/serial/target/model", "name", m)
		}
		if s.TargetPort < 0 || s.TargetPort > 3 {
			return unsupported("serial port %d is out of range (0-3)", s.TargetPort)
		}
		id := "char" + s.Alias
		cd, err := chardev(s, id)
		if err != nil {
			return err
		}
		b.add("-chardev", cd)
		b.device(obj{}.set("driver", "isa-serial").set("chardev", id).set("id", s.Alias).set("index", s.TargetPort))
	}
	for _, c := range b.def.Devices.Consoles {
		if !slices.ContainsFunc(b.def.Devices.Serials, func(s *conf.Chardev) bool { return s.Alias == c.Alias }) {
			return unsupported("console %s matches no serial port", c.Alias)
		}
	}
	return nil
}

// guestAgent is the channel name of the QEMU guest agent.
const guestAgent = "org.qemu.guest_agent.0"

func (b *builder) emitChannels() error {
	ports := map[uint]uint{} // virtio-serial controller -> highest port
	chans := b.def.Devices.Channels
	for _, c := range chans {
		if a := conf.DeviceAddress(c); a.Type == "virtio-serial" {
			p, _ := strconv.Atoi(a.Port)
			ports[a.Controller] = max(ports[a.Controller], uint(p))
		}
	}
	for _, c := range chans {
		if c.TargetType != "virtio" {
			return unsupportedValue("devices/channel/target", "type", c.TargetType)
		}
		if c.TargetName == "" && c.Type == "spicevmc" {
			c.TargetName = "com.redhat.spice.0" // libvirt's post-parse default
		}
		if c.TargetName == "" {
			return unsupported("virtio channel %s needs a target name", c.Alias)
		}
		if c.Type == "unix" && c.SourcePath == "" {
			// libvirt puts generated channel sockets in its channel
			// directory; the driver tells us where.
			// The target name comes from the client: it must name
			// an entry of that directory, not a path out of it.
			path, err := safepath.Join(b.p.DomainDir, c.TargetName, "")
			if err != nil {
				return err
			}
			c.SourcePath = path
			if c.TargetName == guestAgent && b.p.QGASocket != "" {
				c.SourcePath = b.p.QGASocket
			}
			c.SourceMode = "bind"
		}
		id := "char" + c.Alias
		cd, err := chardev(c, id)
		if err != nil {
			return err
		}
		a := conf.DeviceAddress(c)
		switch a.Type {
		case "":
			ports[0]++
			a = conf.Address{Type: "virtio-serial", Port: strconv.Itoa(int(ports[0]))}
			conf.SetDeviceAddress(c, a)
		case "virtio-serial":
		default:
			return unsupported("channel %s cannot have an address of type '%s'", c.Alias, a.Type)
		}
		ctl := b.controller("virtio-serial", int(a.Controller))
		if ctl == nil {
			return unsupported("channel %s: no virtio-serial controller %d", c.Alias, a.Controller)
		}
		nr, _ := strconv.Atoi(a.Port)
		b.add("-chardev", cd)
		b.device(obj{}.set("driver", "virtserialport").set("bus", fmt.Sprintf("%s.%d", ctl.Alias, a.Bus)).
			set("nr", nr).set("chardev", id).set("id", c.Alias).set("name", c.TargetName))
	}
	return nil
}

func (b *builder) emitInputs() error {
	for _, in := range b.def.Devices.Inputs {
		alias := attr(child(conf.DeviceElement(in), "alias"), "name")
		switch {
		case in.Bus == "ps2" && (in.Type == "mouse" || in.Type == "keyboard"):
			continue // part of the PC
		case in.Bus == "usb":
		default:
			return unsupported("input type '%s' bus '%s' is not supported by govirt's QEMU driver", in.Type, in.Bus)
		}
		drv := map[string]string{"tablet": "usb-tablet", "mouse": "usb-mouse", "keyboard": "usb-kbd"}[in.Type]
		if drv == "" {
			return unsupportedValue("devices/input", "type", in.Type)
		}
		loc, err := b.usbAddress(in, "input "+alias)
		if err != nil {
			return err
		}
		b.device(append(obj{}.set("driver", drv).set("id", alias), loc...))
	}
	return nil
}

// emitAudio writes the audio backends: those of the definition (types
// none and spice), or the one libvirt adds when it has none, so that a
// display or sound device never opens host audio.
func (b *builder) emitAudio() error {
	aus := b.audios()
	if len(aus) == 0 {
		b.add("-audiodev", obj{}.set("id", "audio1").set("driver", b.defaultAudio()).String())
		return nil
	}
	for _, au := range aus {
		id, err := strconv.Atoi(attr(au, "id"))
		if err != nil || id < 1 {
			return unsupported("invalid audio id '%s'", attr(au, "id"))
		}
		switch t := attr(au, "type"); t {
		case "none", "spice":
			b.add("-audiodev", obj{}.set("id", "audio"+strconv.Itoa(id)).set("driver", t).String())
		default:
			return unsupportedValue("devices/audio", "type", t)
		}
	}
	return nil
}

func (b *builder) emitGraphics() error {
	gs := b.def.Devices.Graphics
	if len(gs) > 1 {
		return unsupported("more than one <graphics> is not supported by govirt's QEMU driver")
	}
	for _, g := range gs {
		if g.Type == "spice" {
			if err := b.emitSpice(g); err != nil {
				return err
			}
			continue
		}
		if g.Type != "vnc" {
			return unsupportedValue("devices/graphics", "type", g.Type)
		}
		e := conf.DeviceElement(g)
		var listens []*conf.Element
		if e != nil {
			listens = e.Children("listen")
		}
		if len(listens) > 1 {
			return unsupported("more than one <listen> is not supported by govirt's QEMU driver")
		}
		ltype, laddr, lsock := "address", g.Listen, g.Socket
		if len(listens) == 1 {
			l := listens[0]
			ltype = attr(l, "type")
			if a := attr(l, "address"); a != "" {
				laddr = a
			}
			if s := attr(l, "socket"); s != "" {
				lsock = s
			}
		}
		if lsock != "" && ltype == "address" {
			ltype = "socket"
		}
		var arg string
		switch ltype {
		case "socket":
			if lsock == "" {
				lsock = b.p.DomainDir + "/vnc.sock"
			}
			g.Socket = lsock
			if len(listens) == 1 {
				conf.SetDeviceValue(g, "listen/@socket", lsock)
			}
			arg = "vnc=unix:" + escapeComma(lsock)
		case "address":
			if laddr == "" {
				laddr = "127.0.0.1"
			}
			g.Listen = laddr
			// libvirt's parser: no port, or the legacy port='-1',
			// means autoport (an explicit autoport='no' still wins).
			if g.Port == -1 || (attr(e, "port") == "" && attr(e, "autoport") != "no") {
				g.AutoPort = true
			}
			host := laddr
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			switch {
			case g.AutoPort && b.p.Pretend:
				g.Port = 5900
				arg = host + ":0"
			case g.AutoPort && b.p.VNCPort != nil:
				port, err := b.p.VNCPort()
				if err != nil {
					return err
				}
				g.Port = port
				arg = fmt.Sprintf("%s:%d", host, port-5900)
			case g.AutoPort:
				// QEMU takes the first free display of 5900-65535;
				// the driver reads the port back with query-vnc.
				arg = fmt.Sprintf("%s:0,to=%d", host, 65535-5900)
			case g.Port >= 5900 && g.Port <= 65535:
				arg = fmt.Sprintf("%s:%d", host, g.Port-5900)
			default:
				return unsupported("vnc port must be in range [5900,65535]")
			}
		case "none":
			arg = "none"
		default:
			return unsupportedValue("devices/graphics/listen", "type", ltype)
		}
		if strings.Contains(arg, "'") {
			return unsupported("vnc listen '%s' is not valid", arg)
		}
		b.add("-vnc", arg+",audiodev=audio1")
	}
	return nil
}

func (b *builder) emitVideos() error {
	for i, v := range b.def.Devices.Videos {
		e := conf.DeviceElement(v)
		m := child(e, "model")
		alias := attr(child(e, "alias"), "name")
		if p := attr(m, "primary"); (p == "yes") != (i == 0) && p != "" {
			return unsupported("only the first video device can be primary")
		}
		heads := attr(m, "heads")
		if heads != "" && heads != "1" && v.Model != "virtio" && v.Model != "qxl" {
			return unsupportedValue("devices/video/model", "heads", heads)
		}
		vram := 16384
		if v.Model == "qxl" {
			vram = 65536 // virDomainVideoDefaultRAM
		}
		if s := attr(m, "vram"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 || n%1024 != 0 {
				return unsupportedValue("devices/video/model", "vram", s)
			}
			vram = n
		}
		o := obj{}
		switch v.Model {
		case "none":
			continue
		case "vga":
			o = o.set("driver", "VGA").set("id", alias).set("vgamem_mb", vram/1024)
		case "cirrus":
			if vram != 16384 {
				return unsupported("cirrus video has a fixed 16 MiB of video memory")
			}
			o = o.set("driver", "cirrus-vga").set("id", alias)
		case "bochs":
			o = o.set("driver", "bochs-display").set("id", alias).set("vgamem", vram*1024)
		case "qxl":
			// qemuBuildDeviceVideoCmd with QEMU's qxl.vram64_size_mb and
			// qxl.vgamem_mb, both present in every QEMU govirt runs.
			h := 1
			if heads != "" {
				h, _ = strconv.Atoi(heads)
			}
			kib := func(a string, def int) (int, error) {
				s := attr(m, a)
				if s == "" {
					return def, nil
				}
				n, err := strconv.Atoi(s)
				if err != nil || n < 0 {
					return 0, unsupportedValue("devices/video/model", a, s)
				}
				return n, nil
			}
			ram, err := kib("ram", 65536)
			if err != nil {
				return err
			}
			vgamem, err := kib("vgamem", 16384)
			if err != nil {
				return err
			}
			vram64, err := kib("vram64", 0)
			if err != nil {
				return err
			}
			drv := "qxl-vga"
			if i > 0 {
				drv = "qxl"
			}
			o = o.set("driver", drv).set("id", alias).set("max_outputs", h).set("ram_size", ram*1024).
				set("vram_size", vram*1024).set("vram64_size_mb", vram64/1024).set("vgamem_mb", vgamem/1024)
			conf.SetDeviceValue(v, "model/@ram", strconv.Itoa(ram))
			conf.SetDeviceValue(v, "model/@vgamem", strconv.Itoa(vgamem))
		case "virtio":
			drv := "virtio-vga"
			if i > 0 {
				drv = "virtio-gpu-pci"
			}
			h := 1
			if heads != "" {
				h, _ = strconv.Atoi(heads)
			}
			o = o.set("driver", drv).set("id", alias).set("max_outputs", h)
		default:
			return unsupportedValue("devices/video/model", "type", v.Model)
		}
		// The defaults libvirt writes into the live definition.
		if v.Model != "virtio" {
			conf.SetDeviceValue(v, "model/@vram", strconv.Itoa(vram))
		}
		conf.SetDeviceValue(v, "model/@heads", "1")
		if heads != "" {
			conf.SetDeviceValue(v, "model/@heads", heads)
		}
		if i == 0 {
			conf.SetDeviceValue(v, "model/@primary", "yes")
		}
		b.device(b.pciProps(o, conf.DeviceAddress(v)))
	}
	return nil
}

// watchdogActions are libvirt's actions QEMU's -watchdog-action takes as
// they are.
var watchdogActions = []string{"reset", "shutdown", "poweroff", "pause", "none", "inject-nmi"}

func (b *builder) emitWatchdogs() error {
	ws := b.def.Devices.Watchdogs
	if len(ws) > 1 {
		return unsupported("more than one watchdog is not supported by govirt's QEMU driver")
	}
	for _, w := range ws {
		if w.Action == "" {
			w.Action = "reset"
		}
		if !slices.Contains(watchdogActions, w.Action) {
			return unsupportedValue("devices/watchdog", "action", w.Action)
		}
		alias := attr(child(conf.DeviceElement(w), "alias"), "name")
		switch w.Model {
		case "i6300esb":
			b.device(b.pciProps(obj{}.set("driver", "i6300esb").set("id", alias), conf.DeviceAddress(w)))
		case "ib700":
			if b.q35 {
				return unsupported("watchdog model 'ib700' needs an ISA bus, which q35 lacks")
			}
			b.device(obj{}.set("driver", "ib700").set("id", alias))
		case "itco":
			if !b.q35 {
				return unsupported("watchdog model 'itco' is part of the q35 chipset")
			}
			// The ICH9's own TCO watchdog; it only needs enabling.
			b.add("-global", "ICH9-LPC.noreboot=off")
		default:
			return unsupportedValue("devices/watchdog", "model", w.Model)
		}
		b.add("-watchdog-action", w.Action)
	}
	return nil
}

func (b *builder) emitBalloon() error {
	m := b.def.Devices.MemBalloon
	switch m.Model {
	case "none":
		return nil
	case "virtio":
	default:
		return unsupportedValue("devices/memballoon", "model", m.Model)
	}
	b.device(b.pciProps(obj{}.set("driver", "virtio-balloon-pci").set("id", m.Alias), m.Address))
	return nil
}

// rngSources are the host entropy devices libvirt accepts.
var rngSources = []string{"/dev/random", "/dev/urandom", "/dev/hwrng"}

func (b *builder) emitRNGs() error {
	for _, r := range b.def.Devices.RNGs {
		if r.Model != "virtio" {
			return unsupportedValue("devices/rng", "model", r.Model)
		}
		e := conf.DeviceElement(r)
		alias := attr(child(e, "alias"), "name")
		id := "obj" + alias
		switch r.Backend {
		case "random":
			path := ""
			if be := child(e, "backend"); be != nil {
				path = be.Text()
			}
			if path == "" {
				path = "/dev/urandom"
				conf.SetDeviceValue(r, "backend", path)
			}
			if !slices.Contains(rngSources, path) {
				return unsupported("rng source '%s' is not one of %s", path, strings.Join(rngSources, ", "))
			}
			b.object(obj{}.set("qom-type", "rng-random").set("id", id).set("filename", path))
		case "builtin":
			b.object(obj{}.set("qom-type", "rng-builtin").set("id", id))
		default:
			return unsupportedValue("devices/rng/backend", "model", r.Backend)
		}
		b.device(b.pciProps(obj{}.set("driver", "virtio-rng-pci").set("rng", id).set("id", alias), conf.DeviceAddress(r)))
	}
	return nil
}

func (b *builder) emitPanics() error {
	for _, p := range b.def.Devices.Panics {
		if p.Model == "" {
			p.Model = "isa"
		}
		if p.Model != "isa" {
			return unsupportedValue("devices/panic", "model", p.Model)
		}
		a := conf.DeviceAddress(p)
		e := conf.DeviceElement(p)
		iobase := attr(child(e, "address"), "iobase")
		switch {
		case a.Type == "":
			iobase = "0x505"
			conf.SetDeviceValue(p, "address/@type", "isa")
			conf.SetDeviceValue(p, "address/@iobase", iobase)
		case a.Type != "isa":
			return unsupported("panic device cannot have an address of type '%s'", a.Type)
		case iobase == "":
			iobase = "0x505"
		}
		port, err := strconv.ParseUint(iobase, 0, 16)
		if err != nil {
			return unsupported("invalid iobase '%s' of the panic device", iobase)
		}
		b.device(obj{}.set("driver", "pvpanic").set("ioport", port))
	}
	return nil
}
