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
		case "pci", "usb", "scsi", "ide", "sata", "virtio-serial", "fdc":
		default:
			return unsupportedValue("devices/controller", "type", c.Type)
		}
		if attr(conf.DeviceElement(c), "ports") != "" && c.Type != "virtio-serial" {
			return unsupported("attribute 'ports' of controller type '%s' is not supported by govirt's QEMU driver", c.Type)
		}
	}
	pcis := slices.Clone(ds.Controllers)
	slices.SortStableFunc(pcis, func(x, y *conf.Controller) int { return x.Index - y.Index })
	if err := b.emitRootHotplug(pcis); err != nil {
		return err
	}
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
			o := obj{}.set("driver", drv).set("id", c.Alias)
			switch drvEl := child(conf.DeviceElement(c), "driver"); {
			case typ == "scsi":
				if o, err = b.scsiControllerDevice(c); err != nil {
					return err
				}
			case typ == "virtio-serial":
				for _, a := range []string{"queues", "cmd_per_lun", "max_sectors", "ioeventfd", "iothread"} {
					if attr(drvEl, a) != "" {
						return unsupported("attribute '%s' of element <devices/controller/driver> is not supported by govirt's QEMU driver", a)
					}
				}
				o = virtioOptions(obj{}.set("driver", drv), drvEl).set("id", c.Alias)
			case drvEl != nil:
				return unsupportedElem("devices/controller/driver")
			}
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
		case "none":
			return "", nil
		}
	case "scsi":
		switch c.Model {
		case "virtio-scsi":
			return "virtio-scsi-pci", nil
		case "virtio-transitional", "virtio-non-transitional":
			return b.virtioTypeName("virtio-scsi", c.Model)
		default:
			if drv, ok := scsiModels[c.Model]; ok {
				return drv, nil
			}
			return "", unsupported("Unsupported controller model: %s", c.Model)
		}
	case "fdc":
		// The PC's floppy controller; see emitFloppyController.
		if c.Index == 0 && c.Model == "" {
			return "", nil
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
		switch c.Model {
		case "":
			return "virtio-serial-pci", nil
		case "virtio", "virtio-transitional", "virtio-non-transitional":
			return b.virtioTypeName("virtio-serial", c.Model)
		}
	}
	return "", unsupported("controller type '%s' index %d model '%s' is not supported by govirt's QEMU driver", c.Type, c.Index, c.Model)
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
		// The SPICE agent channel; the other spicevmc uses (usbredir,
		// smartcard) are devices of their own.
		if c.TargetName != "" && c.TargetName != "com.redhat.spice.0" {
			return "", unsupported("Unsupported spicevmc target name '%s'", c.TargetName)
		}
		return "spicevmc,id=" + id + ",name=vdagent", nil
	case "spiceport":
		name := attr(child(conf.DeviceElement(c), "source"), "channel")
		if name == "" {
			return "", unsupported("spiceport chardev %s has no source channel", id)
		}
		return "spiceport,id=" + id + ",name=" + escapeComma(name), nil
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
	usbPort := b.usbDiskPorts
	for _, in := range b.def.Devices.Inputs {
		alias := attr(child(conf.DeviceElement(in), "alias"), "name")
		switch {
		case in.Bus == "ps2" && (in.Type == "mouse" || in.Type == "keyboard"):
			continue // part of the PC
		case in.Bus == "virtio":
			if err := b.emitVirtioInput(in); err != nil {
				return err
			}
			continue
		case in.Bus == "usb":
		default:
			return unsupported("input type '%s' bus '%s' is not supported by govirt's QEMU driver", in.Type, in.Bus)
		}
		drv := map[string]string{"tablet": "usb-tablet", "mouse": "usb-mouse", "keyboard": "usb-kbd"}[in.Type]
		if drv == "" {
			return unsupportedValue("devices/input", "type", in.Type)
		}
		usb := b.controller("usb", 0)
		if usb == nil || usb.Model == "none" {
			return unsupported("a USB input device needs a USB controller")
		}
		a := conf.DeviceAddress(in)
		switch a.Type {
		case "":
			usbPort++
			a = conf.Address{Type: "usb", Port: strconv.Itoa(usbPort)}
			conf.SetDeviceAddress(in, a)
		case "usb":
			if a.Bus != 0 {
				return unsupported("USB bus %d is not supported by govirt's QEMU driver", a.Bus)
			}
		default:
			return unsupported("input %s cannot have an address of type '%s'", alias, a.Type)
		}
		b.device(obj{}.set("driver", drv).set("id", alias).set("bus", usb.Alias+".0").set("port", a.Port))
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
	if m.Model == "none" {
		return nil
	}
	if ok, _ := virtioModel(m.Model); !ok {
		return unsupportedValue("devices/memballoon", "model", m.Model)
	}
	e := conf.DeviceElement(m)
	o, err := b.virtioDevice("virtio-balloon", m.Model, child(e, "driver"))
	if err != nil {
		return err
	}
	o = o.set("id", m.Alias)
	for _, a := range []struct{ attr, prop string }{{"autodeflate", "deflate-on-oom"}, {"freePageReporting", "free-page-reporting"}} {
		v, err := tristate(e, a.attr)
		if err != nil {
			return err
		}
		if v != nil {
			o = o.set(a.prop, *v)
		}
	}
	b.device(b.pciProps(o, m.Address))
	return nil
}

// rngSources are the host entropy devices libvirt accepts.
var rngSources = []string{"/dev/random", "/dev/urandom", "/dev/hwrng"}

func (b *builder) emitRNGs() error {
	for _, r := range b.def.Devices.RNGs {
		if ok, _ := virtioModel(r.Model); !ok {
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
		o, err := b.virtioDevice("virtio-rng", r.Model, child(e, "driver"))
		if err != nil {
			return err
		}
		b.device(b.pciProps(o.set("rng", id).set("id", alias), conf.DeviceAddress(r)))
	}
	return nil
}

func (b *builder) emitPanics() error {
	for _, p := range b.def.Devices.Panics {
		if p.Model == "" {
			p.Model = "isa"
		}
		if p.Model == "hyperv" {
			// Not a device: -cpu hv-crash (cpu.go).
			if conf.DeviceAddress(p).Type != "" {
				return unsupported("setting the panic device address is not supported for model 'hyperv'")
			}
			continue
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
