package conf

func parseAddress(dev *node) Address {
	a := dev.child("address")
	if a == nil {
		return Address{}
	}
	return Address{
		Type:       a.attr("type"),
		Domain:     uint(a.uintAt("@domain")),
		Bus:        uint(a.uintAt("@bus")),
		Slot:       uint(a.uintAt("@slot")),
		Function:   uint(a.uintAt("@function")),
		Multifunc:  a.attr("multifunction"),
		Controller: uint(a.uintAt("@controller")),
		Target:     uint(a.uintAt("@target")),
		Unit:       uint(a.uintAt("@unit")),
		Port:       a.attr("port"),
	}
}

// writeAddress updates the device's <address>. Only attributes whose value
// changed are touched; a newly created PCI or drive address spells out all
// its coordinates as libvirt does.
func writeAddress(dev *node, a Address) {
	el := dev.child("address")
	if a == (Address{}) {
		if el != nil && el.attr("type") != "" {
			dev.removeChild(el)
		}
		return
	}
	created := el == nil
	if created {
		el = newElem("address")
		dev.insertChild(el)
	}
	el.put("@type", a.Type)
	fmtBus, fmtSlot, fmtFn, fmtDom := hex2, hex2, hex1, hex4
	if a.Type != "pci" {
		fmtBus, fmtSlot, fmtFn, fmtDom = nil, nil, nil, nil
	}
	switch {
	case created && a.Type == "pci":
		el.put("@domain", hex4(uint64(a.Domain)))
		el.put("@bus", hex2(uint64(a.Bus)))
		el.put("@slot", hex2(uint64(a.Slot)))
		el.put("@function", hex1(uint64(a.Function)))
	case created && a.Type == "usb":
		// virDomainDeviceUSBAddressFormat writes the bus, 0 too.
		el.put("@bus", itoa(int(a.Bus)))
	case created && a.Type == "drive":
		el.put("@controller", itoa(int(a.Controller)))
		el.put("@bus", itoa(int(a.Bus)))
		el.put("@target", itoa(int(a.Target)))
		el.put("@unit", itoa(int(a.Unit)))
	}
	el.putUint("@domain", uint64(a.Domain), fmtDom)
	el.putUint("@bus", uint64(a.Bus), fmtBus)
	el.putUint("@slot", uint64(a.Slot), fmtSlot)
	el.putUint("@function", uint64(a.Function), fmtFn)
	el.put("@multifunction", a.Multifunc)
	el.putUint("@controller", uint64(a.Controller), nil)
	el.putUint("@target", uint64(a.Target), nil)
	el.putUint("@unit", uint64(a.Unit), nil)
	el.put("@port", a.Port)
}

func controllerFromNode(n *node) *Controller {
	return &Controller{Type: n.attr("type"), Index: n.intAt("@index", -1),
		Model: n.attr("model"), Alias: n.str("alias/@name"), Address: parseAddress(n), x: n}
}

func (c *Controller) toNode() *node {
	n := cloneOr(c.x, "controller")
	n.put("@type", c.Type)
	n.putInt("@index", c.Index, -1)
	n.put("@model", c.Model)
	n.put("alias/@name", c.Alias)
	writeAddress(n, c.Address)
	return n
}

func interfaceFromNode(n *node) *Interface {
	dropForeignFilterRef(n)
	return &Interface{
		Type:      n.attr("type"),
		MAC:       n.str("mac/@address"),
		Network:   n.str("source/@network"),
		Bridge:    n.str("source/@bridge"),
		SourceDev: n.str("source/@dev"),
		Model:     n.str("model/@type"),
		TargetDev: n.str("target/@dev"),
		Alias:     n.str("alias/@name"),
		Address:   parseAddress(n),
		x:         n,
	}
}

func (i *Interface) toNode() *node {
	n := cloneOr(i.x, "interface")
	n.put("@type", i.Type)
	n.put("mac/@address", i.MAC)
	n.put("source/@network", i.Network)
	n.put("source/@bridge", i.Bridge)
	n.put("source/@dev", i.SourceDev)
	n.put("model/@type", i.Model)
	n.put("target/@dev", i.TargetDev)
	n.put("alias/@name", i.Alias)
	writeAddress(n, i.Address)
	return n
}

func graphicsFromNode(n *node) *Graphics {
	g := &Graphics{
		Type:     n.attr("type"),
		AutoPort: n.attr("autoport") == "yes",
		TLSPort:  n.intAt("@tlsPort", 0),
		Listen:   n.attr("listen"),
		Passwd:   n.attr("passwd"),
		Socket:   n.attr("socket"),
		x:        n,
	}
	g.Port = n.intAt("@port", g.portAbsent())
	return g
}

// portAbsent is what a missing port attribute means: libvirt reports an
// automatically allocated port as -1.
func (g *Graphics) portAbsent() int {
	if g.AutoPort {
		return -1
	}
	return 0
}

func (g *Graphics) toNode(flags FormatFlags) *node {
	n := cloneOr(g.x, "graphics")
	n.put("@type", g.Type)
	n.putYesNo("@autoport", g.AutoPort, false)
	n.putInt("@port", g.Port, g.portAbsent())
	n.putInt("@tlsPort", g.TLSPort, 0)
	n.put("@listen", g.Listen)
	n.put("@socket", g.Socket)
	if flags&FormatSecure != 0 {
		n.put("@passwd", g.Passwd)
	} else {
		n.delAttr("passwd")
	}
	// A VNC or SPICE display on a socket or on no listen has no port to
	// show (virDomainGraphicsDefFormat writes them for address and
	// network listens only).
	if l := n.child("listen"); (g.Type == "vnc" || g.Type == "spice") && l != nil && (l.attr("type") == "socket" || l.attr("type") == "none") {
		n.delAttr("port")
		n.delAttr("autoport")
		if g.Type == "spice" {
			n.delAttr("tlsPort")
		}
	}
	// libvirt's order (virDomainGraphicsDefFormat), whatever the input's.
	orderAttrs(n, "type", "socket", "port", "tlsPort", "autoport", "websocket", "websocketGenerated",
		"listen", "keymap", "defaultMode", "sharePolicy", "powerControl", "passwd", "passwdValidTo", "connected")
	return n
}

func chardevFromNode(n *node) *Chardev {
	return &Chardev{
		Type:       n.attr("type"),
		SourcePath: n.str("source/@path"),
		SourceMode: n.str("source/@mode"),
		TargetType: n.str("target/@type"),
		TargetPort: n.intAt("target/@port", 0),
		TargetName: n.str("target/@name"),
		Alias:      n.str("alias/@name"),
		x:          n,
	}
}

// kind is the element the chardev was read from; "serial" for new ones.
func (c *Chardev) kind() string {
	if c.x != nil {
		return c.x.name
	}
	return "serial"
}

func (c *Chardev) toNode(elem string) *node {
	n := cloneOr(c.x, elem)
	n.name = elem
	n.put("@type", c.Type)
	// libvirt writes a unix or tcp source's mode before its path.
	n.put("source/@mode", c.SourceMode)
	n.put("source/@path", c.SourcePath)
	n.put("target/@type", c.TargetType)
	n.putInt("target/@port", c.TargetPort, 0)
	n.put("target/@name", c.TargetName)
	n.put("alias/@name", c.Alias)
	return n
}

func (v *Input) toNode() *node {
	n := cloneOr(v.x, "input")
	n.put("@type", v.Type)
	n.put("@bus", v.Bus)
	return n
}

func (v *Sound) toNode() *node {
	n := cloneOr(v.x, "sound")
	n.put("@model", v.Model)
	return n
}

func (v *Audio) toNode() *node {
	n := cloneOr(v.x, "audio")
	n.putInt("@id", v.ID, 0)
	n.put("@type", v.Type)
	orderAttrs(n, "id", "type")
	return n
}

func (v *Video) toNode() *node {
	n := cloneOr(v.x, "video")
	n.put("model/@type", v.Model)
	return n
}

func (v *MemBalloon) toNode() *node {
	n := cloneOr(v.x, "memballoon")
	n.put("@model", v.Model)
	n.putInt("stats/@period", v.Period, 0)
	n.put("alias/@name", v.Alias)
	writeAddress(n, v.Address)
	return n
}

func (v *Watchdog) toNode() *node {
	n := cloneOr(v.x, "watchdog")
	n.put("@model", v.Model)
	n.put("@action", v.Action)
	return n
}

func (v *RNG) toNode() *node {
	n := cloneOr(v.x, "rng")
	n.put("@model", v.Model)
	n.put("backend/@model", v.Backend)
	return n
}

func (v *Panic) toNode() *node {
	n := cloneOr(v.x, "panic")
	n.put("@model", v.Model)
	return n
}
