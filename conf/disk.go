package conf

// sourcePathAttr is the <source> attribute that holds a disk's path for
// each disk type.
func sourcePathAttr(typ string) string {
	switch typ {
	case "block":
		return "dev"
	case "dir":
		return "dir"
	case "file", "":
		return "file"
	case "vhostuser":
		return "path"
	}
	return ""
}

func diskFromNode(n *node) *Disk {
	typ := n.attr("type")
	if typ == "" {
		typ = "file"
	}
	d := &Disk{
		Device:     n.attr("device"),
		DriverName: n.str("driver/@name"),
		Cache:      n.str("driver/@cache"),
		IO:         n.str("driver/@io"),
		Discard:    n.str("driver/@discard"),
		TargetDev:  n.str("target/@dev"),
		TargetBus:  n.str("target/@bus"),
		Tray:       n.str("target/@tray"),
		ReadOnly:   n.child("readonly") != nil,
		Shareable:  n.child("shareable") != nil,
		Serial:     n.str("serial"),
		BootOrder:  uint(n.uintAt("boot/@order")),
		Alias:      n.str("alias/@name"),
		Address:    parseAddress(n),
		x:          n,
	}
	if d.Device == "" {
		d.Device = "disk"
	}
	d.Source = sourceFromNode(n, typ, n.str("driver/@type"))
	d.Source.Index = n.intAt("source/@index", 0)
	if bs := n.child("backingStore"); bs != nil {
		d.Source.Backing = backingFromNode(bs)
	}
	d.Mirror = mirrorFromNode(n.child("mirror"))
	return d
}

// sourceFromNode reads the <source> child of parent, which is a <disk> or
// a <backingStore>.
func sourceFromNode(parent *node, typ, format string) DiskSource {
	s := DiskSource{Type: typ, Format: format}
	src := parent.child("source")
	if key := sourcePathAttr(typ); key != "" {
		s.Path = src.attr(key)
	}
	s.Protocol = src.attr("protocol")
	s.Name = src.attr("name")
	s.Pool = src.attr("pool")
	s.Volume = src.attr("volume")
	for _, nn := range src.child("privateData").child("nodenames").childrenNamed("nodename") {
		switch nn.attr("type") {
		case "storage":
			s.NodeName = nn.attr("name")
		case "format":
			s.NodeNameFormat = nn.attr("name")
		}
	}
	return s
}

func backingFromNode(bs *node) *DiskSource {
	s := sourceFromNode(bs, bs.attr("type"), bs.str("format/@type"))
	s.Index = bs.intAt("@index", 0)
	if next := bs.child("backingStore"); next != nil {
		s.Backing = backingFromNode(next)
	}
	return &s
}

func (d *Disk) toNode() *node {
	n := cloneOr(d.x, "disk")
	oldType := n.attr("type")
	if oldType == "" {
		oldType = "file"
	}
	if oldType != d.Source.Type {
		// The path lives in a different attribute for the new type.
		if key := sourcePathAttr(oldType); key != "" && key != sourcePathAttr(d.Source.Type) {
			n.put("source/@"+key, "")
		}
	}
	n.putDefault("@type", d.Source.Type, "file")
	n.putDefault("@device", d.Device, "disk")
	n.put("driver/@name", d.DriverName)
	n.put("driver/@type", d.Source.Format)
	n.put("driver/@cache", d.Cache)
	n.put("driver/@io", d.IO)
	n.put("driver/@discard", d.Discard)
	writeSource(n, &d.Source)
	n.putInt("source/@index", d.Source.Index, 0)
	writeBacking(n, d.Source.Backing)
	writeMirror(n, d.Mirror)
	n.put("target/@dev", d.TargetDev)
	n.put("target/@bus", d.TargetBus)
	n.put("target/@tray", d.Tray)
	n.putFlag("readonly", d.ReadOnly)
	n.putFlag("shareable", d.Shareable)
	n.put("serial", d.Serial)
	n.putUint("boot/@order", uint64(d.BootOrder), nil)
	n.put("alias/@name", d.Alias)
	writeAddress(n, d.Address)
	return n
}

func writeSource(parent *node, s *DiskSource) {
	if key := sourcePathAttr(s.Type); key != "" {
		parent.put("source/@"+key, s.Path)
	}
	parent.put("source/@protocol", s.Protocol)
	parent.put("source/@name", s.Name)
	parent.put("source/@pool", s.Pool)
	parent.put("source/@volume", s.Volume)
	writeNodeName(parent, "storage", s.NodeName)
	writeNodeName(parent, "format", s.NodeNameFormat)
}

func writeNodeName(parent *node, typ, name string) {
	nns := parent.child("source").child("privateData").child("nodenames")
	for _, nn := range nns.childrenNamed("nodename") {
		if nn.attr("type") == typ {
			if name == "" {
				nns.removeChild(nn)
			} else {
				nn.setAttr("name", name)
			}
			return
		}
	}
	if name == "" {
		return
	}
	nns, _ = parent.resolve("source/privateData/nodenames", true)
	nn := newElem("nodename")
	nn.attrs = []attr{{"type", typ}, {"name", name}}
	nns.kids = append(nns.kids, nn)
}

func writeBacking(parent *node, b *DiskSource) {
	el := parent.child("backingStore")
	if b == nil {
		if el != nil {
			parent.removeChild(el)
		}
		return
	}
	if el == nil {
		el = newElem("backingStore")
		parent.insertChild(el)
	}
	el.put("@type", b.Type)
	el.putInt("@index", b.Index, 0)
	el.put("format/@type", b.Format)
	writeSource(el, b)
	writeBacking(el, b.Backing)
}

func (s *DiskSource) clone() DiskSource {
	c := *s
	if s.Backing != nil {
		b := s.Backing.clone()
		c.Backing = &b
	}
	return c
}
