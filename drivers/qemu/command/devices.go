package command

import (
	"fmt"
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
		case "pci", "usb", "scsi", "ide", "sata", "virtio-serial", "ccid":
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
			if typ == "usb" {
				o, err := b.usbControllerObj(c)
				if err != nil {
					return err
				}
				if o != nil {
					b.device(o)
				}
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
			if p := attr(conf.DeviceElement(c), "ports"); p != "" {
				n, err := strconv.Atoi(p)
				if err != nil {
					return unsupportedValue("devices/controller", "ports", p)
				}
				o = o.set("max_ports", n)
			}
			if v := attr(conf.DeviceElement(c), "vectors"); v != "" && c.Type == "virtio-serial" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return unsupportedValue("devices/controller", "vectors", v)
				}
				o = o.set("vectors", n)
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

// emitAudio adds the one audio backend libvirt always gives QEMU: none,
// so that a display or sound device never opens host audio.
func (b *builder) emitAudio() error {
	for _, a := range b.def.Tree().Children("devices") {
		for _, au := range a.Children("audio") {
			if attr(au, "type") != "none" || attr(au, "id") != "1" {
				return unsupported("only <audio id='1' type='none'/> is supported by govirt's QEMU driver")
			}
		}
	}
	b.add("-audiodev", obj{}.set("id", "audio1").set("driver", "none").String())
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
			host := laddr
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			switch {
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
				return unsupported("vnc port %d is out of range (5900-65535)", g.Port)
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
		if heads != "" && heads != "1" && v.Model != "virtio" {
			return unsupportedValue("devices/video/model", "heads", heads)
		}
		vram := 16384
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
