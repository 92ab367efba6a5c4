package command

import (
	"fmt"
	"slices"
	"strings"

	"govirt/conf"
)

// prepareDefaults adds what libvirt's post-parse and start-up code add to
// a definition that leaves it out: the implicit controllers of the
// machine, the default USB controller, balloon and video, the serial a
// serial console stands for, MAC addresses and NIC models.
func (b *builder) prepareDefaults() error {
	ds := &b.def.Devices
	// Added in the order of qemuDomainDefAddDefaultDevices: USB, the
	// chipset's disk controller, the PCI root.
	if !slices.ContainsFunc(ds.Controllers, func(c *conf.Controller) bool { return c.Type == "usb" }) {
		b.addController(&conf.Controller{Type: "usb", Index: 0})
	}
	for _, c := range ds.Controllers {
		if c.Type == "usb" && c.Model == "" {
			c.Model = "piix3-uhci"
			if b.q35 {
				c.Model = "qemu-xhci"
			}
		}
	}
	if err := b.sortUSBControllers(); err != nil {
		return err
	}
	// The chipset's own disk controller: q35's SATA is listed (the
	// post-parse step added it); i440fx's IDE only when a disk uses it,
	// as libvirt lists it.
	if b.q35 && b.controller("sata", 0) == nil {
		b.addController(&conf.Controller{Type: "sata", Index: 0})
	}
	root := "pci-root"
	if b.q35 {
		root = "pcie-root"
	}
	if c := b.controller("pci", 0); c != nil {
		if c.Model != root {
			return unsupported("a %s machine needs controller pci index 0 model '%s'", b.machine, root)
		}
	} else {
		b.addController(&conf.Controller{Type: "pci", Index: 0, Model: root})
	}
	// virDomainDefMaybeAddVirtioSerialController: the controller a
	// virtio channel or console names (0 when it names none).
	for _, list := range [][]*conf.Chardev{ds.Channels, ds.Consoles} {
		for _, c := range list {
			if c.TargetType != "virtio" {
				continue
			}
			idx := 0
			if a := conf.DeviceAddress(c); a.Type == "virtio-serial" {
				idx = int(a.Controller)
			}
			if b.controller("virtio-serial", idx) == nil {
				b.addController(&conf.Controller{Type: "virtio-serial", Index: idx})
			}
		}
	}
	if err := b.prepareChardevs(); err != nil {
		return err
	}
	if ds.MemBalloon == nil {
		ds.MemBalloon = &conf.MemBalloon{Model: "virtio"}
	}
	if len(ds.Graphics) > 0 && len(ds.Videos) == 0 {
		model := "vga"
		if !b.knowsTypes() || b.caps.HasType("cirrus-vga") {
			model = "cirrus"
		}
		ds.Videos = append(ds.Videos, &conf.Video{Model: model})
	}
	for _, v := range ds.Videos {
		if v.Model == "" {
			v.Model = "cirrus"
		}
	}
	hasInput := func(typ string) bool {
		return slices.ContainsFunc(ds.Inputs, func(i *conf.Input) bool { return i.Type == typ && i.Bus == "ps2" })
	}
	// The PS/2 mouse and keyboard of a PC always exist; libvirt lists them.
	if !hasInput("mouse") {
		ds.Inputs = append(ds.Inputs, &conf.Input{Type: "mouse", Bus: "ps2"})
	}
	if !hasInput("keyboard") {
		ds.Inputs = append(ds.Inputs, &conf.Input{Type: "keyboard", Bus: "ps2"})
	}
	for _, n := range ds.Interfaces {
		if n.MAC == "" {
			n.MAC = conf.GenerateMAC()
		}
		if n.Model == "" {
			n.Model = "rtl8139"
		}
	}
	return nil
}

// controller returns the controller of type typ and index idx, or nil.
func (b *builder) controller(typ string, idx int) *conf.Controller {
	for _, c := range b.def.Devices.Controllers {
		if c.Type == typ && c.Index == idx {
			return c
		}
	}
	return nil
}

// addController inserts c where libvirt's virDomainControllerInsert
// does: among the controllers of its type by index, or at the end when it
// is the first of its type.
func (b *builder) addController(c *conf.Controller) {
	list := b.def.Devices.Controllers
	at := -1
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Type != c.Type {
			continue
		}
		if list[i].Index > c.Index {
			at = i
		} else if at == -1 {
			at = i + 1
			break
		}
	}
	if at == -1 {
		at = len(list)
	}
	b.def.Devices.Controllers = slices.Insert(slices.Clip(list), at, c)
}

// diskIndex is the position a target name stands for: vda=0, sdb=1,
// hdaa=26, as virDiskNameToIndex computes it.
func diskIndex(dev string) (int, bool) {
	var rest string
	for _, p := range []string{"vd", "sd", "hd", "fd", "xvd", "ubd"} {
		if strings.HasPrefix(dev, p) {
			rest = dev[len(p):]
			break
		}
	}
	if rest == "" {
		return 0, false
	}
	idx := 0
	for i, r := range rest {
		if r < 'a' || r > 'z' {
			return 0, false
		}
		if i > 0 {
			idx = (idx + 1) * 26
		}
		idx += int(r - 'a')
	}
	return idx, true
}

// assignDriveAddresses gives disks on drive buses the address libvirt
// derives from their target name (see diskaddr.go).
func (b *builder) assignDriveAddresses() error { return b.assignDiskAddresses() }

// alias returns cur when it is a user alias (ua-), which libvirt keeps,
// and generated otherwise.
func alias(cur, generated string) string {
	if strings.HasPrefix(cur, "ua-") {
		return cur
	}
	return generated
}

// assignAliases names every device as libvirt does (qemuAssignDeviceAliases).
func (b *builder) assignAliases() error {
	ds := &b.def.Devices
	for _, d := range ds.Disks {
		a := d.Address
		var g string
		switch d.TargetBus {
		case "virtio":
			idx, ok := diskIndex(d.TargetDev)
			if !ok {
				return unsupported("invalid disk target '%s'", d.TargetDev)
			}
			g = fmt.Sprintf("virtio-disk%d", idx)
		case "ide":
			g = fmt.Sprintf("ide%d-%d-%d", a.Controller, a.Bus, a.Unit)
		case "sata":
			g = fmt.Sprintf("sata%d-%d-%d", a.Controller, a.Bus, a.Unit)
		case "scsi":
			if c := b.controller("scsi", int(a.Controller)); c != nil && c.Model == "lsilogic" {
				g = fmt.Sprintf("scsi%d-%d-%d", a.Controller, a.Bus, a.Unit)
			} else {
				g = fmt.Sprintf("scsi%d-%d-%d-%d", a.Controller, a.Bus, a.Target, a.Unit)
			}
		case "fdc":
			g = fmt.Sprintf("fdc%d-%d-%d", a.Controller, a.Bus, a.Unit)
		default:
			idx, _ := diskIndex(d.TargetDev)
			g = fmt.Sprintf("%s-disk%d", d.TargetBus, idx)
		}
		d.Alias = alias(d.Alias, g)
	}
	for _, c := range ds.Controllers {
		var g string
		switch {
		case c.Type == "pci" && c.Model == "pcie-root":
			g = "pcie.0"
		case c.Type == "pci":
			g = fmt.Sprintf("pci.%d", c.Index)
		case c.Type == "ide" && c.Index == 0, c.Type == "sata" && c.Index == 0 && b.q35:
			// The chipset's controller; QEMU calls its buses ide.N.
			g = "ide"
		case c.Type == "usb" && c.Index == 0:
			g = "usb"
		default:
			g = fmt.Sprintf("%s%d", c.Type, c.Index)
		}
		c.Alias = alias(c.Alias, g)
	}
	for i, n := range ds.Interfaces {
		n.Alias = alias(n.Alias, fmt.Sprintf("net%d", i))
	}
	b.assignFSAliases()
	b.assignHostdevAliases()
	if v, _ := b.vsock(); v != nil {
		conf.SetDeviceValue(v, "alias/@name", alias(attr(child(conf.DeviceElement(v), "alias"), "name"), "vsock0"))
	}
	for i, s := range ds.Serials {
		s.Alias = alias(s.Alias, fmt.Sprintf("serial%d", i))
	}
	for i, c := range ds.Consoles {
		// A serial console is the first serial device.
		c.Alias = fmt.Sprintf("console%d", i)
		if i == 0 && c.TargetType == "serial" && len(ds.Serials) > 0 {
			c.Alias = ds.Serials[0].Alias
		}
	}
	for i, c := range ds.Channels {
		c.Alias = alias(c.Alias, fmt.Sprintf("channel%d", i))
	}
	setAlias := func(dev any, g string) {
		name := attr(child(conf.DeviceElement(dev), "alias"), "name")
		conf.SetDeviceValue(dev, "alias/@name", alias(name, g))
	}
	for i, in := range ds.Inputs {
		setAlias(in, fmt.Sprintf("input%d", i))
	}
	for i, v := range ds.Videos {
		setAlias(v, fmt.Sprintf("video%d", i))
	}
	for i, w := range ds.Watchdogs {
		setAlias(w, fmt.Sprintf("watchdog%d", i))
	}
	if m := ds.MemBalloon; m != nil && m.Model != "none" {
		m.Alias = alias(m.Alias, "balloon0")
	}
	for i, r := range ds.RNGs {
		setAlias(r, fmt.Sprintf("rng%d", i))
	}
	for i, s := range ds.Sounds {
		setAlias(s, fmt.Sprintf("sound%d", i))
	}
	return nil
}
