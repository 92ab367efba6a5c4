package postparse

import (
	"fmt"
	"slices"
	"strconv"

	"govirt/conf"
)

// pciDev is one device that may want a PCI address.
type pciDev struct {
	name  string
	flags int
	get   func() conf.Address
	set   func(conf.Address)
	fn    uint // function to use when placing (USB2 companions)
	multi string
	below int // a PCI controller's own index: it plugs into a lower bus; -1 otherwise
	// share, for USB2 companions, finds a controller of the group that
	// has its address already: the device takes another function of it.
	share func() (conf.Address, bool)
}

func typedAddr(a *conf.Address) (func() conf.Address, func(conf.Address)) {
	return func() conf.Address { return *a }, func(v conf.Address) { *a = v }
}

func rawAddr(dev any) (func() conf.Address, func(conf.Address)) {
	return func() conf.Address { return conf.DeviceAddress(dev) },
		func(v conf.Address) { conf.SetDeviceAddress(dev, v) }
}

// wanted is virDeviceInfoPCIAddressIsWanted: no address yet, or a PCI
// one left all zero.
func wanted(a conf.Address) bool {
	return a.Type == "" || (a.Type == "pci" && a.Domain == 0 && a.Bus == 0 && a.Slot == 0 && a.Function == 0)
}

func present(a conf.Address) bool { return a.Type == "pci" && !wanted(a) }

func (p *pp) pciFlags() int { return fPCI | fAuto }

func (p *pp) pcieFlags() int {
	if p.q35 {
		return fPCIe | fAuto
	}
	return fPCI | fAuto
}

// virtioFlags: virtio devices are PCIe on q35 unless their model asks
// for the transitional (conventional PCI) variant.
func (p *pp) virtioFlags(model string) int {
	if model == "virtio-transitional" {
		return p.pciFlags()
	}
	return p.pcieFlags()
}

func rawAttr(dev any, path ...string) string {
	e := conf.DeviceElement(dev)
	for _, c := range path[:len(path)-1] {
		if e == nil {
			return ""
		}
		e = e.Child(c)
	}
	if e == nil {
		return ""
	}
	v, _ := e.Attr(path[len(path)-1])
	return v
}

// pciDevices lists the devices that live on PCI in the order
// qemuDomainAssignDevicePCISlots assigns them, with their connect flags.
// Devices this package cannot place are refused.
func (p *pp) pciDevices() ([]pciDev, error) {
	ds := &p.def.Devices
	var out []pciDev
	add := func(name string, flags int, g func() conf.Address, s func(conf.Address)) {
		out = append(out, pciDev{name: name, flags: flags, get: g, set: s, below: -1})
	}
	raws := p.def.RawDevices()
	rawOf := func(kind string) []*conf.RawDevice {
		var r []*conf.RawDevice
		for _, d := range raws {
			if d.Kind == kind {
				r = append(r, d)
			}
		}
		return r
	}
	for _, c := range ds.Controllers {
		if c.Type != "pci" || c.Model == "pci-root" || c.Model == "pcie-root" {
			continue
		}
		var f int
		switch c.Model {
		case "pcie-root-port":
			f = fRootPort | fAggregate
		case "pcie-to-pci-bridge":
			f = fPCIeToPCI
		case "pci-bridge":
			f = fPCIBridge
		case "dmi-to-pci-bridge":
			f = fDMI
		case "pcie-switch-upstream-port":
			f = fSwitchUp
		case "pcie-switch-downstream-port":
			f = fSwitchDown
		case "pci-expander-bus":
			f = fPXB
		case "pcie-expander-bus":
			f = fPXBPCIe
		default:
			return nil, unsupported("PCI controller model '%s' is not handled by govirt's address assignment", c.Model)
		}
		g, s := typedAddr(&c.Address)
		out = append(out, pciDev{name: fmt.Sprintf("controller pci %d", c.Index), flags: f, get: g, set: s, below: c.Index})
	}
	for _, fs := range rawOf("filesystem") {
		g, s := rawAddr(fs)
		add("filesystem", p.virtioFlags(rawAttr(fs, "model")), g, s)
	}
	for _, n := range ds.Interfaces {
		if n.Type == "hostdev" {
			continue
		}
		f := p.pciFlags()
		switch n.Model {
		case "virtio", "virtio-non-transitional":
			f = p.virtioFlags("")
		case "virtio-transitional":
			f = p.pciFlags()
		case "e1000e":
			f = p.pcieFlags()
		}
		g, s := typedAddr(&n.Address)
		add("interface", f, g, s)
	}
	for _, snd := range ds.Sounds {
		switch snd.Model {
		case "sb16", "pcspk", "usb":
			continue
		case "ich9":
			g, s := rawAddr(snd)
			add("sound", p.pcieFlags(), g, s)
		default:
			g, s := rawAddr(snd)
			add("sound", p.pciFlags(), g, s)
		}
	}
	for _, c := range ds.Controllers {
		switch {
		case c.Type == "pci", c.Type == "usb" && c.Model == "none", c.Type == "fdc", c.Type == "ccid",
			c.Type == "ide" && c.Index == 0, c.Type == "scsi" && c.Model == "ncr53c90":
			continue
		case c.Type == "scsi" && c.Model == "ibmvscsi":
			continue // on the spapr-vio bus (assignSpaprVIO)
		case c.Type == "isa", c.Type == "xenbus":
			continue
		}
		f := p.pciFlags()
		switch {
		case c.Type == "usb" && (c.Model == "qemu-xhci" || c.Model == "nec-xhci"):
			f = p.pcieFlags()
		case c.Type == "virtio-serial", c.Type == "scsi" && (c.Model == "virtio-scsi" || c.Model == "virtio-non-transitional"):
			f = p.virtioFlags("")
		case c.Type == "scsi" && c.Model == "virtio-transitional", c.Type == "virtio-serial" && c.Model == "virtio-transitional":
			f = p.pciFlags()
		case c.Type == "sata":
			f = p.pcieFlags()
		}
		if c.Type == "virtio-serial" {
			f = p.virtioFlags(c.Model)
		}
		g, s := typedAddr(&c.Address)
		d := pciDev{name: fmt.Sprintf("controller %s %d", c.Type, c.Index), flags: f, get: g, set: s, below: -1}
		if usb2(c) {
			c := c
			d.share = func() (conf.Address, bool) {
				for _, o := range ds.Controllers {
					if usb2(o) && o.Index == c.Index && present(o.Address) {
						return o.Address, true
					}
				}
				return conf.Address{}, false
			}
			switch c.Model {
			case "ich9-ehci1":
				d.fn = 7
			case "ich9-uhci1":
				d.fn, d.multi = 0, "on"
			case "ich9-uhci2":
				d.fn = 1
			case "ich9-uhci3":
				d.fn = 2
			}
		}
		out = append(out, d)
	}
	for _, d := range ds.Disks {
		if d.TargetBus != "virtio" {
			continue
		}
		switch d.Address.Type {
		case "", "pci":
		case "ccw", "virtio-mmio":
			continue
		default:
			return nil, unsupported("virtio disk cannot have an address of type '%s'", d.Address.Type)
		}
		g, s := typedAddr(&d.Address)
		add("disk "+d.TargetDev, p.virtioFlags(rawAttr(d, "model")), g, s)
	}
	for i, h := range rawOf("hostdev") {
		if m := rawAttr(h, "mode"); m != "" && m != "subsystem" {
			continue
		}
		a := conf.DeviceAddress(h)
		if a.Type == "unassigned" {
			continue
		}
		var f int
		switch rawAttr(h, "type") {
		case "pci":
			f = p.hostPCIFlags(h, a)
		case "mdev":
			if rawAttr(h, "model") != "vfio-pci" {
				continue
			}
			// mdevs have no config space to look at; all current
			// mdev-capable devices are PCIe, as libvirt assumes.
			f = p.pcieFlags()
		case "scsi_host":
			f = p.virtioFlags(rawAttr(h, "model"))
		default:
			continue
		}
		g, s := rawAddr(h)
		add(fmt.Sprintf("hostdev %d", i), f, g, s)
	}
	if m := ds.MemBalloon; m != nil && m.Model != "none" {
		g, s := typedAddr(&m.Address)
		add("memballoon", p.virtioFlags(m.Model), g, s)
	}
	for _, r := range ds.RNGs {
		g, s := rawAddr(r)
		add("rng", p.virtioFlags(r.Model), g, s)
	}
	for _, w := range ds.Watchdogs {
		if w.Model == "i6300esb" {
			g, s := rawAddr(w)
			add("watchdog", p.pciFlags(), g, s)
		}
	}
	for _, v := range ds.Videos {
		if v.Model == "none" || v.Model == "ramfb" {
			continue
		}
		f := p.pciFlags()
		if v.Model == "virtio" {
			f = p.virtioFlags(rawAttr(v, "model"))
		}
		g, s := rawAddr(v)
		add("video", f, g, s)
	}
	for _, sh := range rawOf("shmem") {
		g, s := rawAddr(sh)
		add("shmem", p.pciFlags(), g, s)
	}
	for _, in := range ds.Inputs {
		if in.Bus == "virtio" {
			g, s := rawAddr(in)
			add("input", p.virtioFlags(rawAttr(in, "model")), g, s)
		}
	}
	for _, sr := range ds.Serials {
		if sr.TargetType == "pci-serial" {
			g, s := rawAddr(sr)
			add("serial", p.pciFlags(), g, s)
		}
	}
	for _, io := range rawOf("iommu") {
		if rawAttr(io, "model") == "virtio" {
			// An integrated device: on q35 it sits on pcie-root itself.
			f := p.pcieFlags() | fIntegrated
			g, s := rawAddr(io)
			add("iommu", f, g, s)
		}
	}
	for _, vs := range rawOf("vsock") {
		g, s := rawAddr(vs)
		add("vsock", p.virtioFlags(rawAttr(vs, "model")), g, s)
	}
	for _, m := range rawOf("memory") {
		switch rawAttr(m, "model") {
		case "virtio-pmem", "virtio-mem":
			g, s := rawAddr(m)
			add("memory", p.virtioFlags(""), g, s)
		}
	}
	return out, nil
}

// newAddrSet builds the buses of the PCI controllers and reserves every
// address already given (qemuDomainPCIAddressSetCreate).
func (p *pp) newAddrSet(nbuses int, dry bool, devs []pciDev) (*addrSet, error) {
	s := &addrSet{dryRun: dry, q35: p.q35, buses: make([]*pciBus, nbuses)}
	for _, c := range p.def.Devices.Controllers {
		if c.Type == "pci" && c.Index >= 0 && c.Index < nbuses {
			s.buses[c.Index] = newBus(c.Model)
		}
	}
	// Buses without a controller (gaps in the indexes) get the model
	// libvirt gives them, and the dry run adds that controller.
	def := "pci-bridge"
	if p.q35 {
		def = "pcie-root-port"
	}
	for i := 1; i < nbuses; i++ {
		if s.buses[i] == nil {
			s.buses[i] = newBus(def)
		}
	}
	for _, d := range devs {
		if a := d.get(); present(a) {
			// A dry run grows the set up to a bus an address names
			// (virDomainPCIAddressReserveAddrInternal).
			for dry && int(a.Bus) >= len(s.buses) && s.growFor(d.flags) {
			}
			// virDomainPCIAddressValidate's check, for the expander
			// buses (other kinds are not checked here yet).
			if x := d.flags & (fPXB | fPXBPCIe); x != 0 && int(a.Bus) < len(s.buses) && s.buses[a.Bus] != nil && s.buses[a.Bus].flags&x == 0 {
				what := "pci-expander-bus"
				if x == fPXBPCIe {
					what = "pcie-expander-bus"
				}
				return nil, xmlError("The device at PCI address %s cannot be plugged into the PCI controller with index='%d'. It requires a controller that accepts a %s.",
					pciAddr{a.Bus, a.Slot, a.Function}, a.Bus, what)
			}
			if d.flags&fIntegrated != 0 && a.Bus != 0 {
				return nil, xmlError("The device at PCI address %s needs to be an integrated device (bus=0)", pciAddr{a.Bus, a.Slot, a.Function})
			}
			if err := s.reserve(pciAddr{a.Bus, a.Slot, a.Function}); err != nil {
				return nil, err
			}
			// A slot holding root ports takes more root ports.
			if d.flags&fAggregate != 0 {
				s.buses[a.Bus].aggregate[a.Slot] = true
			}
		}
	}
	return s, nil
}

// chipset pins the devices the machine has at fixed places and gives
// the primary video its traditional slot
// (qemuDomainValidateDevicePCISlotsPIIX3 / ...Q35).
func (p *pp) chipset(s *addrSet) error {
	ds := &p.def.Devices
	pin := func(c *conf.Controller, want pciAddr, what string) error {
		if present(c.Address) {
			if c.Address.Bus != want.bus || c.Address.Slot != want.slot || c.Address.Function != want.fn {
				return internalError("%s must have PCI address 0:0:%x.%x", what, want.slot, want.fn)
			}
			s.buses[0].used[want.slot][want.fn] = true
			return nil
		}
		c.Address = conf.Address{Type: "pci", Slot: want.slot, Function: want.fn}
		return s.reserve(want)
	}
	video := uint(2)
	if p.q35 {
		video = 1
		for _, c := range ds.Controllers {
			if c.Type == "sata" && c.Index == 0 {
				if err := pin(c, pciAddr{0, 0x1f, 2}, "Primary SATA controller"); err != nil {
					return err
				}
			}
		}
		for _, c := range ds.Controllers {
			a := pciAddr{0, 0x1d, 0}
			switch {
			case c.Type == "usb" && c.Model == "ich9-uhci1" && c.Address.Type == "":
				if !s.buses[0].slotFree(0x1d) {
					a.slot = 0x1a
				}
				if s.buses[0].slotFree(a.slot) {
					s.buses[0].used[a.slot][0] = true
					c.Address = conf.Address{Type: "pci", Slot: a.slot, Multifunc: "on"}
				}
			case c.Type == "pci" && c.Model == "dmi-to-pci-bridge" && c.Address.Type == "":
				if s.buses[0].slotFree(0x1e) {
					s.buses[0].used[0x1e][0] = true
					c.Address = conf.Address{Type: "pci", Slot: 0x1e}
				}
			}
		}
		s.buses[0].used[0x1f][0] = true
		s.buses[0].used[0x1f][3] = true
	} else {
		for _, c := range ds.Controllers {
			switch {
			case c.Type == "ide" && c.Index == 0:
				if err := pin(c, pciAddr{0, 1, 1}, "Primary IDE controller"); err != nil {
					return err
				}
			case c.Type == "usb" && c.Index == 0 && (c.Model == "piix3-uhci" || c.Model == ""):
				if err := pin(c, pciAddr{0, 1, 2}, "PIIX3 USB controller at index 0"); err != nil {
					return err
				}
			}
		}
		s.buses[0].used[1][0] = true
		s.buses[0].used[1][3] = true
	}
	defer func() {
		// The first ich9 sound device sits at the chipset's slot 0x1b.
		if !p.q35 || !s.buses[0].slotFree(0x1b) {
			return
		}
		for _, r := range p.def.Devices.Sounds {
			if r.Model == "ich9" && wanted(conf.DeviceAddress(r)) {
				s.buses[0].used[0x1b][0] = true
				conf.SetDeviceAddress(r, conf.Address{Type: "pci", Slot: 0x1b})
				return
			}
		}
	}()
	if len(ds.Videos) > 0 && ds.Videos[0].Model != "none" && ds.Videos[0].Model != "ramfb" {
		v := ds.Videos[0]
		if wanted(conf.DeviceAddress(v)) {
			var a pciAddr
			if s.buses[0].slotFree(video) {
				a = pciAddr{0, video, 0}
				s.buses[0].used[video][0] = true
			} else {
				var err error
				if a, err = s.next(p.pciFlags(), 0); err != nil {
					return err
				}
			}
			conf.SetDeviceAddress(v, conf.Address{Type: "pci", Bus: a.bus, Slot: a.slot, Function: a.fn})
		}
	}
	return nil
}

// assignSlots is qemuDomainAssignDevicePCISlots over the listed devices.
func (p *pp) assignSlots(s *addrSet, devs []pciDev) error {
	for _, d := range devs {
		if !wanted(d.get()) {
			continue
		}
		if d.share != nil {
			if o, ok := d.share(); ok {
				a := pciAddr{o.Bus, o.Slot, d.fn}
				if err := s.reserve(a); err != nil {
					return err
				}
				if !s.dryRun {
					d.set(conf.Address{Type: "pci", Bus: a.bus, Slot: a.slot, Function: a.fn, Multifunc: d.multi})
				}
				continue
			}
		}
		a, err := s.nextBelow(d.flags, d.fn, d.below)
		if err != nil {
			return err
		}
		if !s.dryRun {
			d.set(conf.Address{Type: "pci", Bus: a.bus, Slot: a.slot, Function: a.fn, Multifunc: d.multi})
		}
	}
	return nil
}

// assignPCI is qemuDomainAssignPCIAddresses for pci-root and pcie-root
// machines: a dry run finds the buses (root ports, bridges) the devices
// need and adds them as controllers, then the real pass places every
// device and controller, and the controllers get their model names and
// chassis/port numbers.
func (p *pp) assignPCI() error {
	if err := p.checkExpanders(); err != nil {
		return err
	}
	maxIdx := -1
	for _, c := range p.def.Devices.Controllers {
		if c.Type == "pci" {
			maxIdx = max(maxIdx, c.Index)
		}
	}
	// PCI bus numbers are 8 bits.
	if maxIdx > 255 {
		return unsupported("PCI controller index %d is out of range", maxIdx)
	}
	nbuses := maxIdx + 1
	if nbuses > 0 {
		devs, err := p.pciDevices()
		if err != nil {
			return err
		}
		s, err := p.newAddrSet(nbuses, true, devs)
		if err != nil {
			return err
		}
		if err := p.chipset(s); err != nil {
			return err
		}
		// The dry run must not leave the video's address behind if it
		// would move; it is recomputed in the real pass the same way.
		if !p.q35 {
			full := true
			for _, b := range s.buses {
				if b == nil {
					continue
				}
				for slot := b.minSlot; slot <= b.maxSlot; slot++ {
					if b.slotFree(slot) {
						full = false
					}
				}
			}
			if !full {
				if _, err := s.next(fPCI|fAuto, 0); err != nil {
					return err
				}
			}
		}
		if err := p.assignSlots(s, devs); err != nil {
			return err
		}
		if maxIdx <= 0 && len(s.buses) > maxIdx+1 && p.q35 {
			if _, err := s.next(fPCIe|fAuto, 0); err != nil {
				return err
			}
		}
		for i := 1; i < len(s.buses); i++ {
			b := s.buses[i]
			if b == nil || p.controller("pci", i) != nil {
				continue
			}
			p.addController("pci", i, b.model)
			var f int
			switch b.model {
			case "pcie-root-port":
				f = fRootPort | fAggregate
			case "pcie-to-pci-bridge":
				f = fPCIeToPCI
			case "pci-bridge":
				f = fPCIBridge
			case "dmi-to-pci-bridge":
				f = fDMI
			}
			// The dry run only counts buses: like libvirt's, it lets a
			// bridge take any slot for it, the real pass puts it below
			// its own index.
			if _, err := s.nextBelow(f, 0, -1); err != nil {
				return err
			}
		}
		nbuses = len(s.buses)
	}
	devs, err := p.pciDevices()
	if err != nil {
		return err
	}
	s, err := p.newAddrSet(nbuses, false, devs)
	if err != nil {
		return err
	}
	if slices.Contains(s.buses, nil) {
		return unsupported("the PCI controllers of the domain leave a gap in their indexes")
	}
	if err := p.chipset(s); err != nil {
		return err
	}
	if err := p.assignSlots(s, devs); err != nil {
		return err
	}
	p.setAllMulti(s, devs)
	return p.pciControllerDefaults()
}

// setAllMulti marks function 0 of every slot with other functions in use
// multifunction='on' (virDomainPCIAddressSetAllMulti).
func (p *pp) setAllMulti(s *addrSet, devs []pciDev) {
	for _, d := range devs {
		a := d.get()
		if a.Type != "pci" || a.Function != 0 || a.Multifunc != "" || int(a.Bus) >= len(s.buses) {
			continue
		}
		b := s.buses[a.Bus]
		for f := 1; f < 8; f++ {
			if b.used[a.Slot][f] {
				a.Multifunc = "on"
				d.set(a)
				break
			}
		}
	}
}

// pciControllerDefaults gives PCI controllers QEMU's device name and
// their chassis and port numbers.
func (p *pp) pciControllerDefaults() error {
	for _, c := range p.def.Devices.Controllers {
		if c.Type != "pci" {
			continue
		}
		e := conf.DeviceElement(c)
		target := e.Child("target")
		tattr := func(n string) bool {
			if target == nil {
				return false
			}
			_, ok := target.Attr(n)
			return ok
		}
		name := map[string]string{"pcie-root-port": "pcie-root-port", "pcie-to-pci-bridge": "pcie-pci-bridge",
			"pci-bridge": "pci-bridge", "dmi-to-pci-bridge": "i82801b11-bridge",
			"pcie-switch-upstream-port": "x3130-upstream", "pcie-switch-downstream-port": "xio3130-downstream",
			"pci-expander-bus": "pxb", "pcie-expander-bus": "pxb-pcie"}[c.Model]
		if name != "" && e.Child("model") == nil {
			conf.SetDeviceValue(c, "model/@name", name)
		}
		switch c.Model {
		case "pci-bridge":
			if !tattr("chassisNr") {
				conf.SetDeviceValue(c, "target/@chassisNr", fmt.Sprint(c.Index))
			}
		case "pcie-root-port":
			if !tattr("chassis") {
				conf.SetDeviceValue(c, "target/@chassis", fmt.Sprint(c.Index))
			}
			if !tattr("port") {
				conf.SetDeviceValue(c, "target/@port", fmt.Sprintf("0x%x", c.Address.Slot<<3|c.Address.Function))
			}
		case "pcie-switch-downstream-port":
			if !tattr("chassis") {
				conf.SetDeviceValue(c, "target/@chassis", fmt.Sprint(c.Index))
			}
			if !tattr("port") {
				conf.SetDeviceValue(c, "target/@port", fmt.Sprintf("0x%x", c.Address.Slot))
			}
		case "pci-expander-bus", "pcie-expander-bus":
			if !tattr("busNr") {
				n := p.newBusNr()
				if n < 0 {
					return unsupported("No free busNr lower than current lowest busNr is available to auto-assign to bus %d. Must be manually assigned", c.Address.Bus)
				}
				conf.SetDeviceValue(c, "target/@busNr", fmt.Sprint(n))
			}
		}
		// virDomainControllerDefFormat's order of <target> attributes.
		conf.OrderDeviceAttrs(c, "target", "chassisNr", "chassis", "port", "busNr", "index", "hotplug")
	}
	return nil
}

// newBusNr is the bus number of an expander bus that names none, as
// qemuDomainAddressFindNewBusNr picks it: two below the lowest one given
// (the pxb and its built-in bridge each take one), -1 when none is left.
func (p *pp) newBusNr() int {
	lowest := 256
	for _, c := range p.def.Devices.Controllers {
		if c.Type != "pci" {
			continue
		}
		if t := conf.DeviceElement(c).Child("target"); t != nil {
			if v, ok := t.Attr("busNr"); ok {
				if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < lowest {
					lowest = n
				}
			}
		}
	}
	if lowest <= 2 {
		return -1
	}
	return lowest - 2
}

// checkExpanders is libvirt's parse-time validation of expander buses
// (qemuDomainDeviceDefValidateController): the machine must have the
// right root and a NUMA node they name must exist.
func (p *pp) checkExpanders() error {
	cells := 0
	if cpu := p.def.Tree().Child("cpu"); cpu != nil && cpu.Child("numa") != nil {
		cells = len(cpu.Child("numa").Children("cell"))
	}
	for _, c := range p.def.Devices.Controllers {
		if c.Type != "pci" {
			continue
		}
		switch {
		case c.Model == "pci-expander-bus" && p.q35:
			return unsupported("pci-expander-bus controllers are only supported on 440fx-based machinetypes")
		case c.Model == "pcie-expander-bus" && !p.q35:
			return unsupported("pcie-expander-bus controllers are not supported with this machine type")
		}
		t := conf.DeviceElement(c).Child("target")
		if t == nil || t.Child("node") == nil {
			continue
		}
		if n, err := strconv.Atoi(t.Child("node").Text()); err == nil && n >= cells {
			return xmlError("%s with index %d is configured for a NUMA node (%d) not present in the domain's <cpu><numa> array (%d)",
				c.Model, c.Index, n, cells)
		}
	}
	return nil
}
