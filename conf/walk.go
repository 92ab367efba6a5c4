package conf

// This file gives drivers read access to the whole document (not only the
// typed fields) and a way to record live state on devices whose types have
// no field for it. A hypervisor driver must refuse configuration it does
// not implement rather than silently drop it, and to do that it has to see
// every element and attribute present, including the ones conf keeps
// untyped.

// Tree returns a read-only view of the document exactly as Format would
// write it now (passwords included): typed fields merged into everything
// else that was read.
func (d *Domain) Tree() *Element { return &Element{d.toTree(FormatSecure)} }

// ElementPaths lists every element present below <domain> as a
// slash-separated path ("devices/disk/source"), each path once, in
// document order. The content of <metadata> is the application's own and
// is not descended into.
func (d *Domain) ElementPaths() []string {
	seen := map[string]bool{}
	var out []string
	var walk func(n *node, prefix string)
	walk = func(n *node, prefix string) {
		for _, k := range n.elems() {
			p := prefix + k.name
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			if p != "metadata" {
				walk(k, p+"/")
			}
		}
	}
	walk(d.toTree(FormatSecure), "")
	return out
}

// Attrs returns the names of the element's attributes in document order.
func (e *Element) Attrs() []string {
	out := make([]string, len(e.n.attrs))
	for i, a := range e.n.attrs {
		out[i] = a.name
	}
	return out
}

// DeviceElement returns a read-only view of a typed device's element as
// Format would write it now; nil for a value that is not a typed device.
func DeviceElement(dev any) *Element {
	var n *node
	switch v := dev.(type) {
	case *Disk:
		n = v.toNode()
	case *Controller:
		n = v.toNode()
	case *Interface:
		n = v.toNode()
	case *Graphics:
		n = v.toNode(FormatSecure)
	case *Chardev:
		n = v.toNode(v.kind())
	case *Input:
		n = v.toNode()
	case *Sound:
		n = v.toNode()
	case *Audio:
		n = v.toNode()
	case *Video:
		n = v.toNode()
	case *MemBalloon:
		n = v.toNode()
	case *Watchdog:
		n = v.toNode()
	case *RNG:
		n = v.toNode()
	case *Panic:
		n = v.toNode()
	case *RawDevice:
		n = v.x
	default:
		return nil
	}
	return &Element{n}
}

// deviceNode returns where a typed device keeps its untyped content and
// the element name to create it with.
func deviceNode(dev any) (**node, string) {
	switch v := dev.(type) {
	case *Disk:
		return &v.x, "disk"
	case *Controller:
		return &v.x, "controller"
	case *Interface:
		return &v.x, "interface"
	case *Graphics:
		return &v.x, "graphics"
	case *Chardev:
		return &v.x, v.kind()
	case *Input:
		return &v.x, "input"
	case *Sound:
		return &v.x, "sound"
	case *Audio:
		return &v.x, "audio"
	case *Video:
		return &v.x, "video"
	case *MemBalloon:
		return &v.x, "memballoon"
	case *Watchdog:
		return &v.x, "watchdog"
	case *RNG:
		return &v.x, "rng"
	case *Panic:
		return &v.x, "panic"
	case *RawDevice:
		return &v.x, v.Kind
	}
	return nil, ""
}

// SetDeviceValue writes v at path ("alias/@name", "target/@chassis",
// "model/@name") in a typed device's element, for settings its type has
// no field for; "" removes it. Where a typed field covers the same
// setting, the field is what Format writes. It reports false for a value
// that is not a typed device.
func SetDeviceValue(dev any, path, v string) bool {
	p, name := deviceNode(dev)
	if p == nil {
		return false
	}
	if *p == nil {
		*p = newElem(name)
	}
	(*p).put(path, v)
	return true
}

// DeviceAddress returns a typed device's <address>, also for types
// without an Address field.
func DeviceAddress(dev any) Address {
	if e := DeviceElement(dev); e != nil {
		return parseAddress(e.n)
	}
	return Address{}
}

// SetDeviceAddress records a device's <address> for types without an
// Address field (video, watchdog, rng, panic, input, ...). For types that
// have one, set the field instead: it is what Format writes.
func SetDeviceAddress(dev any, a Address) bool {
	p, name := deviceNode(dev)
	if p == nil {
		return false
	}
	if *p == nil {
		*p = newElem(name)
	}
	writeAddress(*p, a)
	return true
}
