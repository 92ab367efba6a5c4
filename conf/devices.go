package conf

import (
	"slices"
	"strings"
)

// typedKinds are the <devices> children that have a typed list; all other
// device elements stay in the kept document as they were.
var typedKinds = []string{"disk", "controller", "interface", "graphics",
	"serial", "console", "channel", "input", "sound", "audio", "video", "memballoon",
	"watchdog", "rng", "panic"}

// deviceFromNode builds the typed device for a <devices> child; nil for
// kinds without a typed list.
func deviceFromNode(n *node) any {
	switch n.name {
	case "disk":
		return diskFromNode(n)
	case "controller":
		return controllerFromNode(n)
	case "interface":
		return interfaceFromNode(n)
	case "graphics":
		return graphicsFromNode(n)
	case "serial", "console", "channel":
		return chardevFromNode(n)
	case "input":
		return &Input{Type: n.attr("type"), Bus: n.attr("bus"), x: n}
	case "sound":
		return &Sound{Model: n.attr("model"), x: n}
	case "audio":
		return &Audio{ID: n.intAt("@id", 0), Type: n.attr("type"), x: n}
	case "video":
		return &Video{Model: n.str("model/@type"), x: n}
	case "memballoon":
		return &MemBalloon{Model: n.attr("model"), Period: n.intAt("stats/@period", 0),
			Alias: n.str("alias/@name"), Address: parseAddress(n), x: n}
	case "watchdog":
		return &Watchdog{Model: n.attr("model"), Action: n.attr("action"), x: n}
	case "rng":
		return &RNG{Model: n.attr("model"), Backend: n.str("backend/@model"), x: n}
	case "panic":
		return &Panic{Model: n.attr("model"), x: n}
	}
	return nil
}

// add appends a parsed device to its list; chardevs go by element name.
func (ds *Devices) add(dev any) {
	switch v := dev.(type) {
	case *Disk:
		ds.Disks = append(ds.Disks, v)
	case *Controller:
		ds.Controllers = append(ds.Controllers, v)
	case *Interface:
		ds.Interfaces = append(ds.Interfaces, v)
	case *Graphics:
		ds.Graphics = append(ds.Graphics, v)
	case *Chardev:
		switch v.kind() {
		case "console":
			ds.Consoles = append(ds.Consoles, v)
		case "channel":
			ds.Channels = append(ds.Channels, v)
		default:
			ds.Serials = append(ds.Serials, v)
		}
	case *Input:
		ds.Inputs = append(ds.Inputs, v)
	case *Sound:
		ds.Sounds = append(ds.Sounds, v)
	case *Audio:
		ds.Audios = append(ds.Audios, v)
	case *Video:
		ds.Videos = append(ds.Videos, v)
	case *MemBalloon:
		ds.MemBalloon = v
	case *Watchdog:
		ds.Watchdogs = append(ds.Watchdogs, v)
	case *RNG:
		ds.RNGs = append(ds.RNGs, v)
	case *Panic:
		ds.Panics = append(ds.Panics, v)
	}
}

// formatted returns the element of every typed device, by kind, in list
// order.
func (ds *Devices) formatted(flags FormatFlags) map[string][]*node {
	m := map[string][]*node{}
	for _, v := range ds.Disks {
		m["disk"] = append(m["disk"], v.toNode())
	}
	for _, v := range ds.Controllers {
		m["controller"] = append(m["controller"], v.toNode())
	}
	for _, v := range ds.Interfaces {
		m["interface"] = append(m["interface"], v.toNode())
	}
	for _, v := range ds.Graphics {
		m["graphics"] = append(m["graphics"], v.toNode(flags))
	}
	for _, v := range ds.Serials {
		m["serial"] = append(m["serial"], v.toNode("serial"))
	}
	for _, v := range ds.Consoles {
		m["console"] = append(m["console"], v.toNode("console"))
	}
	for _, v := range ds.Channels {
		m["channel"] = append(m["channel"], v.toNode("channel"))
	}
	for _, v := range ds.Inputs {
		m["input"] = append(m["input"], v.toNode())
	}
	for _, v := range ds.Sounds {
		m["sound"] = append(m["sound"], v.toNode())
	}
	for _, v := range ds.Audios {
		m["audio"] = append(m["audio"], v.toNode())
	}
	for _, v := range ds.Videos {
		m["video"] = append(m["video"], v.toNode())
	}
	if ds.MemBalloon != nil {
		m["memballoon"] = append(m["memballoon"], ds.MemBalloon.toNode())
	}
	for _, v := range ds.Watchdogs {
		m["watchdog"] = append(m["watchdog"], v.toNode())
	}
	for _, v := range ds.RNGs {
		m["rng"] = append(m["rng"], v.toNode())
	}
	for _, v := range ds.Panics {
		m["panic"] = append(m["panic"], v.toNode())
	}
	return m
}

// writeDevices fills the places typed devices had in the document with the
// current lists: the n-th element of a kind becomes the n-th list entry,
// surplus places are dropped and extra entries go after the last one of
// their kind. Untyped devices keep their positions.
func (d *Domain) writeDevices(root *node, flags FormatFlags) {
	ds := d.Devices
	addImplicitControllers(&ds)
	m := ds.formatted(flags)
	// libvirt always writes <devices>, opened even when empty.
	devs := root.ensureChild("devices")
	devs.open = true
	devs.put("emulator", d.Devices.Emulator)
	kids := make([]*node, 0, len(devs.kids))
	used := map[string]int{}
	for _, k := range devs.kids {
		if k.kind != elemNode || !slices.Contains(typedKinds, k.name) {
			kids = append(kids, k)
			continue
		}
		if i := used[k.name]; i < len(m[k.name]) {
			kids = append(kids, m[k.name][i])
			used[k.name] = i + 1
		}
	}
	devs.kids = kids
	for _, kind := range typedKinds {
		for _, n := range m[kind][used[kind]:] {
			devs.insertRaw(n)
		}
	}
	if flags&FormatInactive != 0 {
		dropLiveOnly(devs)
	}
	if flags&FormatStatus == 0 {
		dropPrivateData(devs)
	}
	for _, k := range devs.elems() {
		canonAddress(k.child("address"))
		canonHostAddresses(k)
	}
}

// dropLiveOnly removes what libvirt leaves out of inactive XML: device
// aliases it assigned (user aliases start with "ua-") and ports it
// allocated for graphics with autoport.
func dropLiveOnly(devs *node) {
	for _, k := range devs.elems() {
		if a := k.child("alias"); a != nil && !strings.HasPrefix(a.attr("name"), "ua-") {
			k.removeChild(a)
		}
		// The network port a NIC holds while running (virDomainNetDefFormat).
		if k.name == "interface" && k.attr("type") == "network" {
			if src := k.child("source"); src != nil {
				src.delAttr("portid")
			}
		}
		if k.name == "graphics" && k.attr("autoport") == "yes" {
			k.delAttr("port")
			k.delAttr("tlsPort")
			// libvirt writes an automatic VNC port as -1.
			if k.attr("type") == "vnc" {
				k.setAttr("port", "-1")
				orderAttrs(k, "type", "port", "autoport")
			}
		}
	}
}

func cloneOr(x *node, name string) *node {
	if x != nil {
		return x.clone()
	}
	return newElem(name)
}
