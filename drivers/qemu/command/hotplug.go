package command

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// Hotplug helpers: the QMP arguments for one disk, CD-ROM medium or NIC
// added to a running guest, built by the same code as the command line so
// a hot-plugged device looks exactly like one present at start (aliases,
// addresses, node names, property order).

// hotplugBuilder is a builder over a copy of the running definition: the
// address and alias code reads the whole definition, and working on a
// copy keeps the caller's (shared, read-only) live definition untouched.
func hotplugBuilder(def *conf.Domain, caps Caps) *builder {
	m := def.OS.Machine
	return &builder{def: def.Clone(), caps: caps, machine: m,
		q35: m == "q35" || strings.HasPrefix(m, "pc-q35-")}
}

func hotplugErr(code virerr.Code, format string, args ...any) error {
	return virerr.New(virerr.FromQemu, code, format, args...)
}

// DiskBusDefault is the bus libvirt's parser gives a disk whose <target>
// names none, from the prefix of its target name.
func DiskBusDefault(dev string) string {
	switch {
	case strings.HasPrefix(dev, "hd"):
		return "ide"
	case strings.HasPrefix(dev, "sd"):
		return "scsi"
	case strings.HasPrefix(dev, "vd"):
		return "virtio"
	case strings.HasPrefix(dev, "fd"):
		return "fdc"
	}
	return ""
}

// PrepareHotplugDisk gives disk, about to be added to the running guest
// def, what Build gives a disk at start: its drive address (SCSI), alias,
// PCI address (virtio) and a pair of node names per image layer, numbered
// with next (the guest's node-name counter, which never goes back).
// Buses QEMU cannot hot-plug on are refused with libvirt's messages.
func PrepareHotplugDisk(def *conf.Domain, disk *conf.Disk, caps Caps, next func() int) error {
	if disk.Device == "floppy" {
		return hotplugErr(virerr.ErrOperationUnsupported, "floppy device hotplug isn't supported")
	}
	if err := checkDiskSource(disk); err != nil {
		return err
	}
	if err := checkHotplugSource(disk, true); err != nil {
		return err
	}
	if err := checkIotunes(append(slices.Clone(def.Devices.Disks), disk)); err != nil {
		return err
	}
	b := hotplugBuilder(def, caps)
	switch disk.TargetBus {
	case "virtio":
		if disk.Device == "cdrom" {
			return hotplugErr(virerr.ErrOperationUnsupported, "cdrom device with virtio bus isn't supported")
		}
		idx, ok := diskIndex(disk.TargetDev)
		if !ok {
			return unsupported("invalid disk target '%s'", disk.TargetDev)
		}
		if disk.Address.Type == "" {
			a, err := b.hotplugPCI("disk "+disk.TargetDev, true)
			if err != nil {
				return err
			}
			disk.Address = a
		} else if err := b.checkHotplugPCI(disk.Address); err != nil {
			return err
		}
		disk.Alias = alias(disk.Alias, fmt.Sprintf("virtio-disk%d", idx))
	case "scsi":
		if disk.Address.Type == "" {
			idx, ok := diskIndex(disk.TargetDev)
			if !ok {
				return unsupported("invalid disk target '%s'", disk.TargetDev)
			}
			disk.Address = conf.Address{Type: "drive", Controller: uint(idx / 7), Unit: uint(idx % 7)}
		}
		a := disk.Address
		if a.Type != "drive" {
			return hotplugErr(virerr.ErrInternalError, "unexpected disk address type %s", a.Type)
		}
		for _, d := range def.Devices.Disks {
			if d.TargetBus == "scsi" && d.Address == a {
				return hotplugErr(virerr.ErrOperationInvalid, "Domain already contains a disk with that address")
			}
		}
		c := b.controller("scsi", int(a.Controller))
		if c == nil || c.Alias == "" {
			// libvirt would hot-plug the controller first; govirt
			// only plugs disks onto controllers the guest has.
			return unsupported("hot-plugging SCSI controller %d for disk %s is not supported by govirt's QEMU driver; define the controller first", a.Controller, disk.TargetDev)
		}
		g := fmt.Sprintf("scsi%d-%d-%d-%d", a.Controller, a.Bus, a.Target, a.Unit)
		if c.Model == "lsilogic" {
			g = fmt.Sprintf("scsi%d-%d-%d", a.Controller, a.Bus, a.Unit)
		}
		disk.Alias = alias(disk.Alias, g)
	default:
		bus := disk.TargetBus
		return hotplugErr(virerr.ErrOperationUnsupported, "disk bus '%s' cannot be hotplugged.", bus)
	}
	NameNodes(disk, next)
	return nil
}

// NameNodes names the -blockdev nodes of every layer of disk's image
// chain top down, taking numbers from next as libvirt's node-name index.
func NameNodes(disk *conf.Disk, next func() int) {
	for _, s := range layers(disk) {
		n := next()
		s.NodeName = fmt.Sprintf("libvirt-%d-storage", n)
		s.NodeNameFormat = fmt.Sprintf("libvirt-%d-format", n)
		// Image indexes follow node numbers, as at start.
		s.Index = n
	}
}

// checkHotplugSource refuses sources hot-plug does not implement yet:
// anything but local images, sliced images, and encrypted ones unless
// encrypted is set (a disk's attach adds their secret objects, a
// medium change does not).
func checkHotplugSource(disk *conf.Disk, encrypted bool) error {
	for _, l := range chain(disk) {
		switch l.src.Type {
		case "file", "block":
		default:
			return unsupported("hot-plugging a disk of type '%s' is not supported by govirt's QEMU driver", l.src.Type)
		}
		if (!encrypted && encryptionElem(l) != nil) || storageSlice(l.el) != nil {
			return unsupported("hot-plugging an encrypted or sliced disk is not supported by govirt's QEMU driver")
		}
		if fdGroupOf(l.src, l.el) != "" {
			// libvirt passes the group with add-fd; govirt only at start.
			return unsupported("hot-plugging a disk with <source fdgroup> is not supported by govirt's QEMU driver")
		}
	}
	return nil
}

// CheckMedium refuses an image a CD-ROM or floppy cannot take, with the
// same rules as a disk at start.
func CheckMedium(disk *conf.Disk) error {
	if err := checkDiskSource(disk); err != nil {
		return err
	}
	return checkHotplugSource(disk, false)
}

// DiskBlockdevs returns the blockdev-add arguments of disk's named nodes
// in the order QEMU needs them: bottom layer first, storage before format.
func DiskBlockdevs(disk *conf.Disk) []json.RawMessage {
	// The secret objects diskNodes makes are dropped (DiskSecretObjects
	// gives them): a placeholder key and value let it name them.
	b := &builder{p: Paths{MasterKeyData: make([]byte, 32)}}
	_, nodes, err := b.diskNodes(disk, hostEnv{isCDROM: IsCDROM, secrets: func(SecretRef) ([]byte, error) { return nil, nil }})
	if err != nil {
		// checkDiskSource admits only sources diskNodes builds.
		return nil
	}
	var out []json.RawMessage
	for _, n := range nodes {
		out = append(out, json.RawMessage(n.String()))
	}
	return out
}

// DiskNodes returns the node names of disk's chain in the order they are
// deleted: top layer first, format before storage.
func DiskNodes(disk *conf.Disk) []string {
	var out []string
	if attr(child(conf.DeviceElement(disk), "driver"), "copy_on_read") == "on" && !sourceEmpty(&disk.Source) {
		out = append(out, "libvirt-CoR-"+disk.TargetDev)
	}
	for _, s := range layers(disk) {
		if s.NodeNameFormat != "" {
			out = append(out, s.NodeNameFormat)
		}
		if s.NodeName != "" {
			out = append(out, s.NodeName)
		}
	}
	return out
}

// DiskDeviceAdd returns the device_add arguments of disk in the running
// guest def (which need not contain disk yet).
func DiskDeviceAdd(def *conf.Domain, disk *conf.Disk, caps Caps) (json.RawMessage, error) {
	b := hotplugBuilder(def, caps)
	o, err := b.diskDevice(disk, 0)
	if err != nil {
		return nil, err
	}
	if o, err = b.hotplugACPIIndex(o, disk); err != nil {
		return nil, err
	}
	return json.RawMessage(o.String()), nil
}

// PrepareHotplugNet gives n, about to be added to the running guest def,
// its MAC, model, alias (one past the highest netN, as libvirt's hotplug
// numbering), host tap name and PCI address.
func PrepareHotplugNet(def *conf.Domain, n *conf.Interface, caps Caps) error {
	switch n.Type {
	case "user", "ethernet", "bridge", "network":
	default:
		return unsupportedValue("devices/interface", "type", n.Type)
	}
	if (n.Type == "bridge" || n.Type == "network") && n.Bridge == "" {
		return unsupported("interface of type %s has no <source bridge>", n.Type)
	}
	if n.MAC == "" {
		n.MAC = conf.GenerateMAC()
	}
	if n.Model == "" {
		n.Model = "rtl8139"
	}
	drv, ok := netDriver(n.Model)
	if !ok {
		return unsupportedValue("devices/interface/model", "type", n.Model)
	}
	b := hotplugBuilder(def, caps)
	if err := b.checkNet(n, conf.DeviceElement(n)); err != nil {
		return err
	}
	if b.knowsTypes() && !caps.HasType(drv) {
		return unsupported("this QEMU binary does not support '%s'", drv)
	}
	num := 0
	for _, x := range def.Devices.Interfaces {
		if k, err := strconv.Atoi(strings.TrimPrefix(x.Alias, "net")); err == nil && strings.HasPrefix(x.Alias, "net") {
			num = max(num, k+1)
		}
	}
	n.Alias = alias(n.Alias, fmt.Sprintf("net%d", num))
	if n.Type != "user" && n.TargetDev == "" {
		n.TargetDev = fmt.Sprintf("vn%s-%d", strings.ReplaceAll(def.UUID.String(), "-", "")[:8], num)
	}
	pcie := netIsPCIe(n.Model)
	if n.Address.Type == "" {
		a, err := b.hotplugPCI("interface "+n.Alias, pcie)
		if err != nil {
			return err
		}
		n.Address = a
	} else if err := b.checkHotplugPCI(n.Address); err != nil {
		return err
	}
	// NetdevAdd cannot fail on what passes here.
	_, err := hostNetProps(n, conf.DeviceElement(n))
	return err
}

// NetdevAdd returns the netdev_add arguments of n.
func NetdevAdd(n *conf.Interface) json.RawMessage {
	nd, err := hostNetProps(n, conf.DeviceElement(n))
	if err != nil {
		// Unreachable: PrepareHotplugNet built these props already.
		nd = obj{}.set("id", "host"+n.Alias)
	}
	return json.RawMessage(nd.String())
}

// NetDeviceAdd returns the device_add arguments of n in the running guest
// def.
func NetDeviceAdd(def *conf.Domain, n *conf.Interface, caps Caps) (json.RawMessage, error) {
	b := hotplugBuilder(def, caps)
	o, err := b.nicDevice(n, conf.DeviceElement(n), 0)
	if err != nil {
		return nil, err
	}
	if o, err = b.hotplugACPIIndex(o, n); err != nil {
		return nil, err
	}
	return json.RawMessage(o.String()), nil
}

// usedPCI collects the PCI space the running definition occupies.
func (b *builder) usedPCI() (*pciSpace, []*conf.Controller, error) {
	sp := &pciSpace{slots: map[[2]uint]bool{}, portsUsed: map[uint]bool{}, below: map[[3]uint]bool{}}
	if err := b.pinChipset(sp); err != nil {
		return nil, nil, err
	}
	devs, err := b.pciDevices()
	if err != nil {
		return nil, nil, err
	}
	ports := b.rootPorts()
	for _, d := range append(devs, b.portDevs()...) {
		a := d.get()
		if a.Type != "pci" {
			continue
		}
		if a.Bus == 0 {
			sp.take(a.Slot, a.Function)
		} else {
			sp.below[[3]uint{a.Bus, a.Slot, a.Function}] = true
			sp.portsUsed[a.Bus] = true
		}
	}
	return sp, ports, nil
}

// hotplugPCI finds the address of a new device as libvirt's
// qemuDomainEnsurePCIAddress does: a PCIe device on q35 takes a free
// pcie-root-port (libvirt leaves one spare at start for this); a
// conventional one takes a free slot of pci.0 on i440fx, else of the
// first pci-bridge or pcie-to-pci-bridge (by index) with one.
func (b *builder) hotplugPCI(name string, pcie bool) (conf.Address, error) {
	sp, ports, err := b.usedPCI()
	if err != nil {
		return conf.Address{}, err
	}
	if b.q35 && pcie {
		for _, p := range ports {
			if !sp.portsUsed[uint(p.Index)] && p.Model == "pcie-root-port" {
				return conf.Address{Type: "pci", Bus: uint(p.Index)}, nil
			}
		}
		return conf.Address{}, hotplugErr(virerr.ErrInternalError, "No more available PCI slots")
	}
	if !b.q35 {
		if slot, ok := sp.nextSlot(); ok {
			return conf.Address{Type: "pci", Slot: slot}, nil
		}
	}
	ctls := slices.Clone(b.def.Devices.Controllers)
	slices.SortStableFunc(ctls, func(x, y *conf.Controller) int { return x.Index - y.Index })
	for _, c := range ctls {
		if c.Type != "pci" || (c.Model != "pci-bridge" && c.Model != "pcie-to-pci-bridge") {
			continue
		}
		// Slot 0 of a bridge's bus is not hot-pluggable (libvirt's
		// minSlot 1 for these buses).
		for slot := uint(1); slot < 32; slot++ {
			free := true
			for fn := uint(0); fn < 8; fn++ {
				free = free && !sp.below[[3]uint{uint(c.Index), slot, fn}]
			}
			if free {
				return conf.Address{Type: "pci", Bus: uint(c.Index), Slot: slot}, nil
			}
		}
	}
	if b.q35 {
		return conf.Address{}, unsupported("%s is a conventional PCI device and the guest has no pci-bridge or pcie-to-pci-bridge with a free slot", name)
	}
	return conf.Address{}, hotplugErr(virerr.ErrInternalError, "No more available PCI slots")
}

// checkHotplugPCI accepts an address the user gave when it is free.
func (b *builder) checkHotplugPCI(a conf.Address) error {
	if a.Type != "pci" {
		return unsupported("a hot-plugged PCI device cannot have an address of type '%s'", a.Type)
	}
	sp, ports, err := b.usedPCI()
	if err != nil {
		return err
	}
	taken := sp.slots[[2]uint{a.Slot, a.Function}]
	if a.Bus != 0 {
		bus := b.controller("pci", int(a.Bus))
		switch {
		case bus == nil:
			return unsupported("PCI bus %d is not a bus govirt's QEMU driver manages", a.Bus)
		case slices.Contains(ports, bus) || bus.Model == "pcie-switch-downstream-port":
			taken = sp.portsUsed[a.Bus] || a.Slot != 0
		default:
			taken = sp.below[[3]uint{a.Bus, a.Slot, a.Function}]
		}
	}
	if taken {
		return hotplugErr(virerr.ErrOperationFailed, "PCI address %04x:%02x:%02x.%x is already in use", a.Domain, a.Bus, a.Slot, a.Function)
	}
	return nil
}

// DiskIndex is the position a target name stands for (vda=0, sdb=1), as
// virDiskNameToIndex computes it.
func DiskIndex(dev string) (int, bool) { return diskIndex(dev) }
