package command

import (
	"fmt"
	"slices"
	"strings"

	"govirt/conf"
)

// pciDev is one device that lives on PCI, in the order libvirt assigns
// addresses (qemuDomainAssignDevicePCISlots).
type pciDev struct {
	name string // for errors
	get  func() conf.Address
	set  func(conf.Address)
	// pcie is true for PCI Express endpoints (on q35 they go on
	// pcie-root-ports); legacy PCI devices need a pci-root slot.
	pcie bool
}

func typedAddr(a *conf.Address) (func() conf.Address, func(conf.Address)) {
	return func() conf.Address { return *a }, func(v conf.Address) { *a = v }
}

func rawAddr(dev any) (func() conf.Address, func(conf.Address)) {
	return func() conf.Address { return conf.DeviceAddress(dev) },
		func(v conf.Address) { conf.SetDeviceAddress(dev, v) }
}

// pciDevices lists the devices needing a PCI address other than the
// primary video, in libvirt's assignment order: network interfaces,
// controllers, virtio disks, balloon, RNGs, watchdog, other videos.
func (b *builder) pciDevices() ([]pciDev, error) {
	ds := &b.def.Devices
	out := b.fsPCIDevs()
	for _, n := range ds.Interfaces {
		g, s := typedAddr(&n.Address)
		out = append(out, pciDev{"interface " + n.Alias, g, s, netIsPCIe(n.Model)})
	}
	out = append(out, b.soundPCIDevices()...)
	for _, c := range ds.Controllers {
		switch {
		case c.Type == "pci", c.Type == "fdc", c.Type == "ccid":
			continue
		case c.Type == "ide" && c.Index == 0, c.Type == "sata" && c.Index == 0 && b.q35:
			continue // the chipset's, addressed by pinChipset
		case c.Type == "usb" && (c.Model == "none" || (c.Index == 0 && c.Model == "piix3-uhci" && !b.q35)):
			continue
		}
		g, s := typedAddr(&c.Address)
		pcie := c.Model == "qemu-xhci" || c.Model == "nec-xhci" || c.Type == "virtio-serial" ||
			(c.Type == "scsi" && c.Model == "virtio-scsi")
		out = append(out, pciDev{"controller " + c.Alias, g, s, pcie})
	}
	for _, d := range ds.Disks {
		if d.TargetBus == "virtio" {
			g, s := typedAddr(&d.Address)
			out = append(out, pciDev{"disk " + d.TargetDev, g, s, true})
		}
	}
	out = append(out, b.hostdevPCIDevs()...)
	if m := ds.MemBalloon; m != nil && m.Model != "none" {
		g, s := typedAddr(&m.Address)
		out = append(out, pciDev{"memballoon", g, s, true})
	}
	for _, r := range ds.RNGs {
		g, s := rawAddr(r)
		out = append(out, pciDev{"rng", g, s, true})
	}
	for _, w := range ds.Watchdogs {
		if w.Model == "i6300esb" {
			g, s := rawAddr(w)
			out = append(out, pciDev{"watchdog", g, s, false})
		}
	}
	for i, v := range ds.Videos {
		if i == 0 || v.Model == "none" || v.Model == "ramfb" {
			continue
		}
		g, s := rawAddr(v)
		out = append(out, pciDev{"video", g, s, v.Model == "virtio"})
	}
	out = append(out, b.virtioInputPCIDevs()...)
	out = append(out, b.vsockPCIDevs()...)
	return append(out, b.chrPCIDevices()...), nil
}

// pciSpace tracks the slots taken on bus 0 and which root ports are used.
type pciSpace struct {
	slots     map[[2]uint]bool // (slot, function) on bus 0 in use
	portsUsed map[uint]bool    // controller index of root ports with a device
	below     map[[3]uint]bool // (bus, slot, function) in use on buses other than 0
}

func (s *pciSpace) take(slot, fn uint) { s.slots[[2]uint{slot, fn}] = true }

func (s *pciSpace) slotFree(slot uint) bool {
	for fn := uint(0); fn < 8; fn++ {
		if s.slots[[2]uint{slot, fn}] {
			return false
		}
	}
	return true
}

// nextSlot returns the first wholly free slot on bus 0 from 1 up.
func (s *pciSpace) nextSlot() (uint, bool) {
	for slot := uint(1); slot < 32; slot++ {
		if s.slotFree(slot) {
			return slot, true
		}
	}
	return 0, false
}

// assignPCI checks the PCI addresses the post-parse step
// (postparse.ApplyAtStart in Build) assigned as libvirt's
// qemuDomainAssignPCIAddresses does: each is on a PCI controller of the
// definition and used once. It only pins what the chipset fixes and
// places the IOMMU.
func (b *builder) assignPCI() error {
	sp := &pciSpace{slots: map[[2]uint]bool{}, portsUsed: map[uint]bool{}, below: map[[3]uint]bool{}}
	if err := b.pinChipset(sp); err != nil {
		return err
	}
	if err := b.reserveIOMMU(sp); err != nil {
		return err
	}
	devs, err := b.pciDevices()
	if err != nil {
		return err
	}
	ports := b.rootPorts()
	// Addresses given in the definition (or by post-parse) are reserved.
	for _, d := range append(devs, b.portDevs()...) {
		a := d.get()
		switch a.Type {
		case "":
			continue
		case "pci":
		default:
			return unsupported("%s cannot have an address of type '%s'", d.name, a.Type)
		}
		if a.Domain != 0 {
			return unsupported("%s: PCI domain %d is not supported", d.name, a.Domain)
		}
		if a.Bus == 0 {
			if sp.slots[[2]uint{a.Slot, a.Function}] {
				return unsupported("%s: PCI address 0000:00:%02x.%x is already in use", d.name, a.Slot, a.Function)
			}
			sp.take(a.Slot, a.Function)
			continue
		}
		bus := b.controller("pci", int(a.Bus))
		if bus == nil {
			return unsupported("%s: PCI bus %d is not a bus govirt's QEMU driver manages", d.name, a.Bus)
		}
		// Ports have one slot; bridges, switches and expander buses 32 (the
		// post-parse step placed devices on them).
		single := bus.Model == "pcie-root-port" || bus.Model == "pcie-switch-downstream-port"
		k := [3]uint{a.Bus, a.Slot, a.Function}
		if sp.below[k] || (single && a.Slot != 0) || (slices.Contains(ports, bus) && sp.portsUsed[a.Bus]) {
			return unsupported("%s: PCI address 0000:%02x:%02x.%x is not free", d.name, a.Bus, a.Slot, a.Function)
		}
		sp.below[k] = true
		sp.portsUsed[a.Bus] = true
	}
	// The post-parse step (run by Build before this) gave every device
	// its address, adding the root ports and bridges they need; the
	// builder does not place devices itself.
	for _, d := range devs {
		if d.get().Type == "" {
			return internalError("%s has no PCI address after the post-parse step", d.name)
		}
	}
	if err := b.placePorts(sp, ports); err != nil {
		return err
	}
	return b.placeIOMMU(sp)
}

// pinChipset reserves the chipset's own functions and gives the primary
// video its traditional slot.
func (b *builder) pinChipset(sp *pciSpace) error {
	ds := &b.def.Devices
	// fixed are controllers that are functions of the chipset itself.
	type pin struct {
		c        *conf.Controller
		slot, fn uint
	}
	var fixed []pin
	if b.q35 {
		sp.take(0x1f, 0) // ISA bridge
		sp.take(0x1f, 3) // SMBus
		if c := b.controller("sata", 0); c != nil {
			fixed = append(fixed, pin{c, 0x1f, 2})
		}
	} else {
		sp.take(1, 0) // ISA bridge
		sp.take(1, 3) // ACPI/PM
		if c := b.controller("ide", 0); c != nil {
			fixed = append(fixed, pin{c, 1, 1})
		}
		if c := b.controller("usb", 0); c != nil && c.Model == "piix3-uhci" {
			fixed = append(fixed, pin{c, 1, 2})
		}
	}
	for _, f := range fixed {
		want := conf.Address{Type: "pci", Slot: f.slot, Function: f.fn}
		if f.c.Address.Type != "" && f.c.Address != want {
			return unsupported("controller %s index %d must have PCI address 0:0:%x.%x", f.c.Type, f.c.Index, f.slot, f.fn)
		}
		f.c.Address = want
		sp.take(f.slot, f.fn)
	}
	if b.q35 {
		b.pinICH9Sound(sp)
	}
	if len(ds.Videos) > 0 && ds.Videos[0].Model != "none" && ds.Videos[0].Model != "ramfb" {
		v := ds.Videos[0]
		a := conf.DeviceAddress(v)
		if a.Type == "" {
			slot := uint(2)
			if b.q35 {
				slot = 1
			}
			if !sp.slotFree(slot) {
				s, ok := sp.nextSlot()
				if !ok {
					return unsupported("no free PCI slot for the video device")
				}
				slot = s
			}
			a = conf.Address{Type: "pci", Slot: slot}
			conf.SetDeviceAddress(v, a)
		} else if a.Type != "pci" || a.Bus != 0 {
			return unsupported("the primary video device must be on PCI bus 0")
		} else if sp.slots[[2]uint{a.Slot, a.Function}] {
			return unsupported("video: PCI address 0000:00:%02x.%x is already in use", a.Slot, a.Function)
		}
		sp.take(a.Slot, a.Function)
	}
	return nil
}

// rootPorts returns the pcie-root-port controllers of the definition
// the builder may put devices on and place itself.
func (b *builder) rootPorts() []*conf.Controller {
	var out []*conf.Controller
	for _, c := range b.def.Devices.Controllers {
		if c.Type == "pci" && c.Model == "pcie-root-port" && (c.Address.Type == "" || c.Address.Bus == 0) {
			out = append(out, c)
		}
	}
	return out
}

// portDevs wraps the PCI controllers other than the root so their given
// addresses are reserved too.
func (b *builder) portDevs() []pciDev {
	var out []pciDev
	for _, c := range b.def.Devices.Controllers {
		if c.Type != "pci" || c.Index == 0 {
			continue
		}
		g, s := typedAddr(&c.Address)
		out = append(out, pciDev{"controller " + c.Alias, g, s, true})
	}
	return out
}

// placePorts puts root ports without an address on pcie.0, filling the
// eight functions of the first free slot before moving on, and gives
// each its chassis and port numbers (chassis = index, port = slot<<3|fn).
func (b *builder) placePorts(sp *pciSpace, ports []*conf.Controller) error {
	if len(ports) > 0 && !b.q35 {
		return unsupported("PCI controller model '%s' is not supported on machine %s", ports[0].Model, b.machine)
	}
	slot, fn := uint(0), uint(8)
	for _, c := range ports {
		if c.Address.Type == "" {
			if fn == 8 {
				s, ok := sp.nextSlot()
				if !ok {
					return unsupported("no free slot on pcie.0 for another pcie-root-port")
				}
				slot, fn = s, 0
			}
			sp.take(slot, fn)
			c.Address = conf.Address{Type: "pci", Slot: slot, Function: fn}
			fn++
		}
		e := conf.DeviceElement(c)
		if e.Child("model") == nil {
			conf.SetDeviceValue(c, "model/@name", "pcie-root-port")
		}
		if attr(child(e, "target"), "chassis") == "" {
			conf.SetDeviceValue(c, "target/@chassis", fmt.Sprint(c.Index))
		}
		if attr(child(e, "target"), "port") == "" {
			conf.SetDeviceValue(c, "target/@port", fmt.Sprintf("0x%x", c.Address.Slot<<3|c.Address.Function))
		}
	}
	// Function 0 of a slot whose other functions are in use must say so.
	for _, c := range ports {
		a := &c.Address
		if a.Bus == 0 && a.Function == 0 && a.Multifunc == "" {
			for f := uint(1); f < 8; f++ {
				if sp.slots[[2]uint{a.Slot, f}] {
					a.Multifunc = "on"
					break
				}
			}
		}
	}
	return nil
}

// busName is the QEMU bus id of PCI bus n.
func (b *builder) busName(n uint) string {
	// The root bus is the machine's own, named by QEMU whatever alias
	// the definition gives it.
	if n == 0 {
		if b.q35 {
			return "pcie.0"
		}
		return "pci.0"
	}
	for _, c := range b.def.Devices.Controllers {
		if c.Type == "pci" && c.Index == int(n) {
			// The built-in root bus is not on the command line, so
			// a user alias cannot name it (qemuBuildDeviceAddressPCIGetBus).
			if strings.HasPrefix(c.Alias, "ua-") && (c.Model == "pci-root" || c.Model == "pcie-root") {
				return map[string]string{"pci-root": "pci.0", "pcie-root": "pcie.0"}[c.Model]
			}
			return c.Alias
		}
	}
	return fmt.Sprintf("pci.%d", n)
}

// pciProps appends libvirt's bus/addr properties of address a.
func (b *builder) pciProps(o obj, a conf.Address) obj {
	if a.Type != "pci" {
		return o
	}
	o = o.set("bus", b.busName(a.Bus))
	if a.Multifunc == "on" || a.Multifunc == "off" {
		o = o.set("multifunction", a.Multifunc == "on")
	}
	addr := fmt.Sprintf("0x%x", a.Slot)
	if a.Function != 0 {
		addr += fmt.Sprintf(".0x%x", a.Function)
	}
	return o.set("addr", addr)
}
