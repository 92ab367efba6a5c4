package command

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/drivers/internal/safepath"
)

// serialModels maps a <serial> target type to its default model, the
// QEMU device (libvirt's qemuDomainChrDefPostParse).
var serialModels = map[string]string{
	"isa-serial": "isa-serial",
	"usb-serial": "usb-serial",
	"pci-serial": "pci-serial",
	"isa-debug":  "isa-debugcon",
}

// serialAddrType is the address type each serial target type takes.
var serialAddrType = map[string]string{
	"isa-serial": "isa",
	"usb-serial": "usb",
	"pci-serial": "pci",
	"isa-debug":  "isa",
}

// hasSpice reports whether the domain has SPICE graphics, which
// spicevmc and spiceport chardevs need.
func (b *builder) hasSpice() bool {
	return slices.ContainsFunc(b.def.Devices.Graphics, func(g *conf.Graphics) bool { return g.Type == "spice" })
}

// chrSourceOf parses a typed chardev device's host side and checks what
// libvirt's QEMU validation checks of it.
func (b *builder) chrSourceOf(e *conf.Element, typ string, pathOptional bool) (*chrSource, error) {
	s, err := parseChrSource(e, typ, pathOptional)
	if err != nil {
		return nil, err
	}
	switch s.typ {
	case "spicevmc", "spiceport":
		if !b.hasSpice() {
			return nil, unsupported("chardev '%s' not supported without spice graphics", s.typ)
		}
	case "qemu-vdagent":
		if b.knowsTypes() && !b.caps.HasType("chardev-qemu-vdagent") {
			return nil, unsupported("chardev '%s' not supported in this QEMU binary", s.typ)
		}
	}
	return s, nil
}

// checkSerialTarget validates a serial's target type and model and fills
// in the model (qemuValidateDomainChrTargetDef).
func checkSerialTarget(s *conf.Chardev) (string, error) {
	e := conf.DeviceElement(s)
	model := attr(child(e, "target", "model"), "name")
	if _, ok := serialModels[s.TargetType]; !ok {
		return "", unsupportedValue("devices/serial/target", "type", s.TargetType)
	}
	if model == "" {
		model = serialModels[s.TargetType]
	}
	wantType := ""
	for t, m := range serialModels {
		if m == model {
			wantType = t
		}
	}
	if wantType == "" {
		return "", unsupportedValue("devices/serial/target/model", "name", model)
	}
	if wantType != s.TargetType {
		return "", unsupported("Target model '%s' requires target type '%s'", model, wantType)
	}
	if a := conf.DeviceAddress(s); a.Type != "" && a.Type != serialAddrType[s.TargetType] {
		return "", unsupported("Target type '%s' requires address type '%s'", s.TargetType, serialAddrType[s.TargetType])
	}
	return model, nil
}

func (b *builder) emitSerials() error {
	for _, s := range b.def.Devices.Serials {
		model, err := checkSerialTarget(s)
		if err != nil {
			return err
		}
		e := conf.DeviceElement(s)
		src, err := b.chrSourceOf(e, s.Type, false)
		if err != nil {
			return err
		}
		if err := b.addChardev(src, s.Alias, chardevOpts{}); err != nil {
			return err
		}
		o := obj{}.set("driver", model).set("chardev", "char"+s.Alias).set("id", s.Alias)
		if model == "isa-serial" {
			if s.TargetPort < 0 || s.TargetPort > 3 {
				return unsupported("serial port %d is out of range (0-3)", s.TargetPort)
			}
			o = o.set("index", s.TargetPort)
		}
		o, err = b.addrProps(o, s, e)
		if err != nil {
			return err
		}
		b.device(o)
	}
	return nil
}

// addrProps appends the bus properties of a chardev device's address:
// PCI, USB or ISA (iobase, irq).
func (b *builder) addrProps(o obj, dev any, e *conf.Element) (obj, error) {
	a := conf.DeviceAddress(dev)
	switch a.Type {
	case "pci":
		return b.pciProps(o, a), nil
	case "usb":
		return b.usbProps(o, a)
	case "isa":
		ae := child(e, "address")
		if io := attr(ae, "iobase"); io != "" {
			n, err := strconv.ParseUint(io, 0, 16)
			if err != nil {
				return nil, unsupported("invalid iobase '%s'", io)
			}
			o = o.set("iobase", n)
		}
		if irq := attr(ae, "irq"); irq != "" {
			n, err := strconv.ParseUint(irq, 0, 32)
			if err != nil {
				return nil, unsupported("invalid irq '%s'", irq)
			}
			if n != 0 {
				o = o.set("irq", n)
			}
		}
	}
	return o, nil
}

// emitParallels writes the <parallel> ports: isa-parallel on the PC.
func (b *builder) emitParallels() error {
	for i, r := range b.def.RawDevicesOf("parallel") {
		p := conf.DeviceElement(r)
		alias := alias(attr(child(p, "alias"), "name"), fmt.Sprintf("parallel%d", i))
		conf.SetDeviceValue(r, "alias/@name", alias)
		if t := attr(child(p, "target"), "type"); t != "" {
			return unsupportedValue("devices/parallel/target", "type", t)
		}
		if a := child(p, "address"); a != nil {
			return unsupported("parallel port %s cannot have an address", alias)
		}
		src, err := b.chrSourceOf(p, attr(p, "type"), false)
		if err != nil {
			return err
		}
		if err := b.addChardev(src, alias, chardevOpts{}); err != nil {
			return err
		}
		b.device(obj{}.set("driver", "isa-parallel").set("chardev", "char"+alias).set("id", alias))
	}
	return nil
}

// devicesNamed returns the <devices> children called name: devices conf
// keeps untyped (parallel, smartcard, redirdev, hub), as live views of
// the definition, so aliases and addresses set on them are recorded.
func (b *builder) devicesNamed(name string) []*conf.Element {
	var out []*conf.Element
	for _, r := range b.def.RawDevicesOf(name) {
		out = append(out, conf.DeviceElement(r))
	}
	return out
}

// guestAgent is the channel name of the QEMU guest agent.
const guestAgent = "org.qemu.guest_agent.0"

// spiceAgent is the channel name of the SPICE agent.
const spiceAgent = "com.redhat.spice.0"

func (b *builder) emitChannels() error {
	for _, c := range b.def.Devices.Channels {
		e := conf.DeviceElement(c)
		switch c.TargetType {
		case "virtio", "guestfwd":
		default:
			return unsupportedValue("devices/channel/target", "type", c.TargetType)
		}
		if c.TargetType == "virtio" && c.Type == "unix" && (c.SourcePath == "" || b.inChannelRoot(c.SourcePath)) {
			// libvirt puts generated channel sockets in its channel
			// directory (the driver tells us where), named after the
			// channel or, unnamed, after its port.
			name := c.TargetName
			if name == "" {
				a := conf.DeviceAddress(c)
				p, _ := strconv.Atoi(a.Port)
				name = fmt.Sprintf("vioser-%02d-%02d-%02d.sock", a.Controller, a.Bus, p)
			}
			dir := b.p.ChannelDir
			if dir == "" {
				dir = b.p.DomainDir
			}
			path, err := safepath.Join(dir, name, "")
			if err != nil {
				return err
			}
			if c.TargetName == guestAgent && b.p.QGASocket != "" {
				path = b.p.QGASocket
			}
			c.SourcePath = path
			c.SourceMode = "bind"
			e = conf.DeviceElement(c)
		}
		src, err := b.chrSourceOf(e, c.Type, false)
		if err != nil {
			return err
		}
		if c.Type == "spicevmc" && c.TargetName != "" && c.TargetName != spiceAgent {
			return unsupported("Unsupported spicevmc target name '%s'", c.TargetName)
		}
		if err := b.addChardev(src, c.Alias, chardevOpts{spicevmc: "vdagent"}); err != nil {
			return err
		}
		if c.TargetType == "guestfwd" {
			t := child(e, "target")
			addr, err := netip.ParseAddr(attr(t, "address"))
			if err != nil || !addr.Is4() {
				return unsupported("guestfwd channel only supports IPv4 addresses")
			}
			port, err := strconv.ParseUint(attr(t, "port"), 10, 16)
			if err != nil {
				return unsupported("invalid guestfwd port '%s'", attr(t, "port"))
			}
			fwd := obj{}.set("str", fmt.Sprintf("tcp:%s:%d-chardev:char%s", addr, port, c.Alias))
			b.add("-netdev", obj{}.set("type", "user").set("guestfwd", []obj{fwd}).set("id", c.Alias).String())
			continue
		}
		o, err := b.virtioSerialProps(obj{}.set("driver", "virtserialport"), c)
		if err != nil {
			return err
		}
		name := c.TargetName
		if name == "" && c.Type == "spicevmc" {
			name = spiceAgent
		}
		o = o.set("chardev", "char"+c.Alias).set("id", c.Alias)
		if name != "" {
			o = o.set("name", name)
		}
		b.device(o)
	}
	return nil
}

// virtioSerialProps appends the bus and port of a virtio-serial address.
func (b *builder) virtioSerialProps(o obj, c *conf.Chardev) (obj, error) {
	a := conf.DeviceAddress(c)
	switch a.Type {
	case "":
		return o, nil
	case "virtio-serial":
	default:
		return nil, unsupported("virtio serial device has invalid address type")
	}
	ctl := b.controller("virtio-serial", int(a.Controller))
	if ctl == nil {
		return nil, unsupported("virtio-serial controller %d of %s does not exist", a.Controller, c.Alias)
	}
	nr, _ := strconv.Atoi(a.Port)
	return o.set("bus", fmt.Sprintf("%s.%d", ctl.Alias, a.Bus)).set("nr", nr), nil
}

// emitConsoles writes the consoles that are devices of their own: virtio
// consoles. A serial console is its serial port, written with the serials.
func (b *builder) emitConsoles() error {
	for i, c := range b.def.Devices.Consoles {
		switch c.TargetType {
		case "serial":
			if i > 0 {
				return unsupported("Only the first console can be a serial port")
			}
			if !slices.ContainsFunc(b.def.Devices.Serials, func(s *conf.Chardev) bool { return s.Alias == c.Alias }) {
				return unsupported("console %s matches no serial port", c.Alias)
			}
			continue
		case "virtio":
		default:
			return unsupported("unsupported console target type %s", c.TargetType)
		}
		e := conf.DeviceElement(c)
		src, err := b.chrSourceOf(e, c.Type, false)
		if err != nil {
			return err
		}
		if err := b.addChardev(src, c.Alias, chardevOpts{}); err != nil {
			return err
		}
		o, err := b.virtioSerialProps(obj{}.set("driver", "virtconsole"), c)
		if err != nil {
			return err
		}
		b.device(o.set("chardev", "char"+c.Alias).set("id", c.Alias))
	}
	return nil
}

// prepareChardevs applies libvirt's post-parse rules for serials and
// consoles: a serial's default target type and port, the first console
// standing for the first serial port (and creating it when the domain has
// none, virDomainDefAddConsoleCompat), and console port numbers.
func (b *builder) prepareChardevs() error {
	ds := &b.def.Devices
	for i, c := range ds.Consoles {
		if c.TargetType == "" {
			c.TargetType = "serial"
		}
		if i > 0 && c.TargetType == "serial" {
			return unsupported("Only the first console can be a serial port")
		}
		c.TargetPort = i
	}
	if len(ds.Consoles) > 0 && ds.Consoles[0].TargetType == "serial" && len(ds.Serials) == 0 {
		s := *ds.Consoles[0]
		s.TargetType, s.TargetPort, s.Alias = "", 0, ""
		ds.Serials = append(ds.Serials, &s)
		ds.Consoles[0].Alias = ""
	}
	for i, s := range ds.Serials {
		if s.TargetType == "" {
			s.TargetType = "isa-serial"
			if t := child(conf.DeviceElement(s), "target", "model"); t != nil {
				for typ, m := range serialModels {
					if m == attr(t, "name") {
						s.TargetType = typ
					}
				}
			}
		}
		// conf reads an absent port as 0 (and writes port 0 as
		// absent), so a second port 0 of a target type is one
		// libvirt would have numbered: the next after the highest.
		port, dup := -1, false
		for _, o := range ds.Serials[:i] {
			if o.TargetType == s.TargetType {
				port = max(port, o.TargetPort)
				dup = dup || o.TargetPort == s.TargetPort
			}
		}
		if dup && s.TargetPort == 0 {
			s.TargetPort = port + 1
		}
	}
	return nil
}

// domainFile is a file named name in the domain's private directory;
// name comes from the client and must not lead out of it.
func (b *builder) domainFile(name string) (string, error) {
	return safepath.Join(b.p.DomainDir, name, "")
}

// inChannelRoot reports whether path lies in the driver's channel
// directories (the parent of this run's): a definition carried from an
// earlier run (a snapshot's, an image saved before its path was dropped)
// names that run's directory, which is gone, so the socket is placed
// again as if no path were given.
func (b *builder) inChannelRoot(path string) bool {
	if b.p.ChannelDir == "" {
		return false
	}
	rel, err := filepath.Rel(filepath.Dir(b.p.ChannelDir), filepath.Clean(path))
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}
