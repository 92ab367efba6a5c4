package conf

import (
	"slices"
	"strconv"
)

// Format writes the document; FormatInactive leaves out live-only data and
// passwords only appear with FormatSecure.
func (d *Domain) Format(flags FormatFlags) ([]byte, error) {
	return writeTree(d.toTree(flags)), nil
}

// toTree writes the typed fields into a copy of the kept document, so
// everything the typed fields do not model comes back as it was read.
func (d *Domain) toTree(flags FormatFlags) *node {
	root := d.x.clone()
	if root == nil {
		root = newElem("domain")
	}
	root.put("@type", d.Type)
	if d.ID >= 0 && flags&FormatInactive == 0 {
		root.putInt("@id", d.ID, -2)
	} else {
		root.delAttr("id")
	}
	root.put("name", d.Name)
	putUUID(root, d.UUID)
	root.put("genid", d.GenID)
	root.put("title", d.Title)
	root.put("description", d.Description)

	putMemory(root, "maxMemory", d.MaxMemory)
	root.putUint("maxMemory/@slots", uint64(d.MaxMemSlots), nil)
	putMemory(root, "memory", d.Memory)
	cur := d.CurrentMemory
	if cur == 0 {
		cur = d.Memory
	}
	putMemory(root, "currentMemory", cur)

	root.putUint("vcpu", uint64(d.VCPUs), nil)
	if _, ok := root.get("vcpu/@current"); ok || (d.CurrentVCPUs != d.VCPUs && d.CurrentVCPUs != 0) {
		root.putUint("vcpu/@current", uint64(d.CurrentVCPUs), nil)
	}
	root.put("vcpu/@placement", d.VCPUPlacement)
	root.put("vcpu/@cpuset", d.CPUSet)
	if v := root.child("vcpu"); v != nil {
		orderAttrs(v, "placement", "cpuset", "current")
	}

	d.writeOS(root)
	writeFeatures(root, d.Features)
	writeCPU(root, d.CPU)
	root.put("clock/@offset", d.ClockOffset)
	root.put("on_poweroff", d.OnPoweroff)
	root.put("on_reboot", d.OnReboot)
	root.put("on_crash", d.OnCrash)
	d.writeDevices(root, flags)
	return root
}

func (d *Domain) writeOS(root *node) {
	o := d.OS
	if o.Type == "" && root.child("os") == nil {
		return
	}
	os := root.ensureChild("os")
	os.put("type", o.Type)
	os.put("type/@arch", o.Arch)
	os.put("type/@machine", o.Machine)
	os.put("loader", o.Loader)
	os.put("kernel", o.Kernel)
	os.put("initrd", o.Initrd)
	os.put("cmdline", o.Cmdline)
	var cur []string
	for _, b := range os.childrenNamed("boot") {
		cur = append(cur, b.attr("dev"))
	}
	if slices.Equal(cur, o.Boot) {
		return
	}
	for _, b := range os.childrenNamed("boot") {
		os.removeChild(b)
	}
	for _, dev := range o.Boot {
		b := newElem("boot")
		b.setAttr("dev", dev)
		os.insertChild(b)
	}
}

// writeFeatures keeps existing feature elements (and their settings) that
// are still listed, drops the others and appends new ones as empty elements.
func writeFeatures(root *node, names []string) {
	f := root.child("features")
	var cur []string
	for _, e := range f.elems() {
		cur = append(cur, e.name)
	}
	if slices.Equal(cur, names) {
		return
	}
	if len(names) == 0 {
		root.removeChild(f)
		return
	}
	f = root.ensureChild("features")
	for _, e := range f.elems() {
		if !slices.Contains(names, e.name) {
			f.removeChild(e)
		}
	}
	for _, n := range names {
		if f.child(n) == nil {
			f.kids = append(f.kids, newElem(n))
		}
	}
}

func writeCPU(root *node, c *CPU) {
	el := root.child("cpu")
	if c == nil {
		if el != nil {
			root.removeChild(el)
		}
		return
	}
	el = root.ensureChild("cpu")
	el.put("@mode", c.Mode)
	el.put("@match", c.Match)
	el.put("model", c.Model)
	el.putUint("topology/@sockets", uint64(c.Sockets), nil)
	el.putUint("topology/@dies", uint64(c.Dies), nil)
	el.putUint("topology/@cores", uint64(c.Cores), nil)
	el.putUint("topology/@threads", uint64(c.Threads), nil)
}

// put writes value at path unless path is absent and value is the default
// libvirt assumes for an absent attribute.
func (n *node) putDefault(path, v, def string) {
	if _, ok := n.get(path); !ok && v == def {
		return
	}
	n.put(path, v)
}

// orderAttrs moves the named attributes, where present, to the front in
// the given order (libvirt's), so a default added to an element the user
// wrote sits where libvirt writes it; the rest keep their order.
func orderAttrs(n *node, names ...string) {
	var front, rest []attr
	for _, name := range names {
		if i := n.attrIndex(name); i >= 0 {
			front = append(front, n.attrs[i])
		}
	}
	for _, a := range n.attrs {
		if !slices.Contains(names, a.name) {
			rest = append(rest, a)
		}
	}
	n.attrs = append(front, rest...)
}

func itoa(v int) string { return strconv.Itoa(v) }
