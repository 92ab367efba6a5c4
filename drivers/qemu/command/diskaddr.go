package command

import (
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// assignDiskAddresses gives every disk the address libvirt gives it
// (virDomainDiskDefAssignAddress, then the USB port allocation) and
// refuses the addresses qemuValidateDomainDeviceDefAddressDrive refuses.
func (b *builder) assignDiskAddresses() error {
	for _, d := range b.def.Devices.Disks {
		switch d.TargetBus {
		case "virtio":
			if t := d.Address.Type; t != "" && t != "pci" {
				return unsupported("virtio disk cannot have an address of type '%s'", t)
			}
			continue
		case "usb":
			// The port comes from the one USB assignment, in
			// libvirt's device order (assignUSB, usb.go).
			switch d.Address.Type {
			case "", "usb":
			default:
				return virerr.New(virerr.FromQemu, virerr.ErrInternalError, "unexpected address type for usb disk")
			}
			continue
		case "ide", "sata", "scsi", "fdc":
		default:
			return unsupportedValue("devices/disk/target", "bus", d.TargetBus)
		}
		if d.Address.Type != "" {
			if d.Address.Type != "drive" {
				return unsupported("Invalid address type '%s' for the disk '%s' with the bus type '%s'", d.Address.Type, d.TargetDev, d.TargetBus)
			}
		} else {
			idx, ok := diskIndex(d.TargetDev)
			if !ok {
				return unsupported("invalid disk target '%s'", d.TargetDev)
			}
			a := conf.Address{Type: "drive"}
			switch d.TargetBus {
			case "ide":
				a.Controller, a.Bus, a.Unit = uint(idx/4), uint(idx%4/2), uint(idx%2)
			case "sata":
				a.Controller, a.Unit = uint(idx/6), uint(idx%6)
			case "scsi":
				a.Controller, a.Unit = uint(idx/7), uint(idx%7)
			case "fdc":
				a.Controller, a.Unit = uint(idx/2), uint(idx%2)
			}
			d.Address = a
		}
		a := d.Address
		typ := d.TargetBus
		if b.controller(typ, int(a.Controller)) == nil {
			b.addController(&conf.Controller{Type: typ, Index: int(a.Controller)})
		}
		internal := func(msg string) error { return virerr.New(virerr.FromQemu, virerr.ErrInternalError, "%s", msg) }
		switch typ {
		case "ide":
			if b.q35 {
				return unsupported("IDE controllers are unsupported for this QEMU binary or machine type")
			}
			if a.Controller != 0 {
				return internal("Only 1 IDE controller is supported")
			}
			if a.Target != 0 {
				return unsupported("target must be 0 for ide controller")
			}
		case "sata":
			if a.Bus != 0 {
				return unsupported("bus must be 0 for sata controller")
			}
			if a.Target != 0 {
				return unsupported("target must be 0 for sata controller")
			}
		case "scsi":
			if a.Bus != 0 {
				return internal("SCSI controller only supports 1 bus")
			}
			if c := b.controller("scsi", int(a.Controller)); c != nil && c.Model == "lsilogic" && a.Target != 0 {
				return unsupported("target must be 0 for controller model 'lsilogic'")
			}
		case "fdc":
			if a.Controller != 0 {
				return internal("Only 1 fdc controller is supported")
			}
			if a.Bus != 0 {
				return internal("Only 1 fdc bus is supported")
			}
			if a.Target != 0 {
				return unsupported("target must be 0 for controller fdc")
			}
		}
	}
	b.defaultSCSIModels()
	if err := b.checkIOThreadRefs(); err != nil {
		return err
	}
	return b.validateDisks()
}

// validateDisks refuses what libvirt's domain validation refuses about
// disks as a set and about each disk's frontend.
func (b *builder) validateDisks() error {
	ds := b.def.Devices.Disks
	for i, d := range ds {
		for _, o := range ds[i+1:] {
			if d.TargetDev == o.TargetDev {
				return virerr.New(virerr.FromDomain, virerr.ErrXMLError,
					"target '%s' duplicated for disk sources '%s' and '%s'", d.TargetDev, sourceName(d), sourceName(o))
			}
		}
	}
	for i, d := range ds {
		if d.Address.Type != "drive" {
			continue
		}
		for _, o := range ds[i+1:] {
			if o.TargetBus == d.TargetBus && o.Address == d.Address {
				a := d.Address
				return unsupported("Found duplicate drive address for disk with target name '%s' controller='%d' bus='%d' target='%d' unit='%d'",
					d.TargetDev, a.Controller, a.Bus, a.Target, a.Unit)
			}
		}
	}
	if err := checkIotunes(ds); err != nil {
		return err
	}
	for _, d := range ds {
		el := conf.DeviceElement(d)
		if d.TargetBus != "virtio" {
			drv := child(el, "driver")
			switch m := attr(el, "model"); m {
			case "virtio", "virtio-transitional", "virtio-non-transitional":
				return unsupported("disk model '%s' not supported for bus '%s'", m, d.TargetBus)
			}
			if attr(drv, "queues") != "" {
				return unsupported("queues attribute in disk driver element is only supported by virtio-blk")
			}
			if attr(drv, "event_idx") != "" {
				return unsupported("disk event_idx mode supported only for virtio bus")
			}
			if attr(drv, "ioeventfd") != "" {
				return unsupported("disk ioeventfd mode supported only for virtio bus")
			}
			for _, a := range []string{"iommu", "ats", "packed"} {
				if attr(drv, a) != "" {
					return unsupported("%s driver option is only supported for virtio devices", a)
				}
			}
			if attr(drv, "page_per_vq") != "" {
				return unsupported("page_per_vq option is only supported for virtio devices")
			}
		}
		if err := checkDiskFrontend(d, el); err != nil {
			return err
		}
		if d.Shareable && !d.ReadOnly && d.Device != "cdrom" && format(&d.Source) != "raw" {
			return unsupported("shared access for disk '%s' requires use of supported storage format", d.TargetDev)
		}
	}
	return nil
}

// sourceName is what libvirt names a disk's source in messages: its path,
// or a network source's name.
func sourceName(d *conf.Disk) string {
	if d.Source.Type == "network" {
		return d.Source.Name
	}
	if d.Source.Path == "" {
		return "(null)"
	}
	return d.Source.Path
}

// precheckDisks refuses, before anything else, what libvirt's parser and
// post-parse code refuse about disks, so such a definition fails with
// libvirt's message whatever else it contains.
func precheckDisks(def *conf.Domain) error {
	ds := def.Devices.Disks
	for _, d := range ds {
		if d.TargetDev == "" {
			src := d.Source.Path
			if d.Source.Type == "network" {
				src = d.Source.Name
			}
			return virerr.New(virerr.FromDomain, virerr.ErrNoTarget, "%s", src)
		}
		if d.Device == "lun" && d.Source.Type != "block" && !(d.Source.Type == "network" && d.Source.Protocol == "iscsi") {
			return unsupported("disk device='lun' is only valid for block type disk source")
		}
		switch rawio := attr(conf.DeviceElement(d), "rawio"); {
		case rawio == "":
		case d.Device != "lun":
			return xmlError("rawio can be used only with device='lun'")
		case rawio != "yes" && rawio != "no":
			return xmlError("Invalid value for attribute 'rawio' in element 'disk': '%s'. Expected yes/no", rawio)
		}
		if err := checkDiskSecrets(d); err != nil {
			return err
		}
	}
	if err := checkStartupPolicies(ds); err != nil {
		return err
	}
	if err := checkSCSIHostdevConflicts(def); err != nil {
		return err
	}
	hasDevBoot := false
	for _, d := range ds {
		hasDevBoot = hasDevBoot || d.BootOrder > 0
	}
	for _, n := range def.Devices.Interfaces {
		hasDevBoot = hasDevBoot || bootOrder(conf.DeviceElement(n)) > 0
	}
	if hasDevBoot && child(def.Tree(), "os", "boot") != nil {
		return unsupported("per-device boot elements cannot be used together with os/boot elements")
	}
	for _, d := range ds {
		if _, ok := diskIndex(d.TargetDev); !ok {
			t := strings.TrimRight(d.TargetDev, "0123456789")
			if _, ok := diskIndex(t); ok && t != d.TargetDev {
				return unsupported("invalid disk target '%s', partitions can't appear in disk targets", d.TargetDev)
			}
		}
	}
	return nil
}

// serialChars are the characters QEMU takes in a disk serial.
const serialChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_ .+"

// checkDiskFrontend refuses the disk settings qemuValidateDomainDeviceDefDiskFrontend
// refuses, with its messages.
func checkDiskFrontend(d *conf.Disk, el *conf.Element) error {
	drv := child(el, "driver")
	if attr(drv, "copy_on_read") == "on" && (d.Device == "cdrom" || d.Device == "floppy") {
		return unsupported("copy_on_read is not supported with removable disk '%s'", d.TargetDev)
	}
	if child(el, "wwn") != nil && d.TargetBus != "ide" && d.TargetBus != "scsi" {
		return unsupported("Only ide and scsi disk support wwn")
	}
	if (child(el, "vendor") != nil || child(el, "product") != nil) && d.TargetBus != "scsi" {
		return unsupported("Only scsi disk supports vendor and product")
	}
	if d.Device == "lun" {
		if attr(drv, "copy_on_read") == "on" {
			return unsupported("copy_on_read is not compatible with 'lun' disk '%s'", d.TargetDev)
		}
		if child(el, "wwn") != nil {
			return unsupported("Setting wwn is not supported for lun device")
		}
		if child(el, "vendor") != nil || child(el, "product") != nil {
			return unsupported("Setting vendor or product is not supported for lun device")
		}
		if d.Serial != "" {
			return unsupported("scsi-block 'lun' devices do not support the serial property")
		}
	}
	if rr := attr(child(el, "target"), "rotation_rate"); rr != "" && rr != "0" {
		if d.TargetBus != "scsi" && d.TargetBus != "ide" && d.TargetBus != "sata" {
			return internalError("rotation rate is only valid for SCSI/IDE/SATA bus")
		}
		if d.Device != "disk" {
			return internalError("rotation rate is only valid for disk device")
		}
	}
	if d.ReadOnly && d.Device == "disk" {
		switch d.TargetBus {
		case "ide":
			return unsupported("readonly ide disks are not supported")
		case "sata":
			return unsupported("readonly sata disks are not supported")
		}
	}
	if d.IO == "native" && d.Cache != "directsync" && d.Cache != "none" {
		return unsupported("io='native' needs either no disk cache or directsync cache mode")
	}
	if strings.Trim(d.Serial, serialChars) != "" {
		return internalError("driver serial '%s' contains unsafe characters", d.Serial)
	}
	return nil
}

// scsiHostdevAddrs are the drive addresses of the SCSI host devices.
func scsiHostdevAddrs(def *conf.Domain) []conf.Address {
	var out []conf.Address
	for _, devs := range kids(def.Tree(), "devices") {
		for _, h := range kids(devs, "hostdev") {
			if attr(h, "mode") != "subsystem" || attr(h, "type") != "scsi" {
				continue
			}
			a := child(h, "address")
			if attr(a, "type") != "drive" {
				continue
			}
			num := func(n string) uint { v, _ := strconv.ParseUint(attr(a, n), 0, 32); return uint(v) }
			out = append(out, conf.Address{Type: "drive", Controller: num("controller"), Bus: num("bus"),
				Target: num("target"), Unit: num("unit")})
		}
	}
	return out
}

// checkSCSIHostdevConflicts refuses SCSI disks and SCSI host devices
// sharing a drive address, as libvirt's address assignment and
// validation do (their messages, typos included).
func checkSCSIHostdevConflicts(def *conf.Domain) error {
	hs := scsiHostdevAddrs(def)
	if len(hs) == 0 {
		return nil
	}
	for _, d := range def.Devices.Disks {
		if d.TargetBus != "scsi" || d.Address.Type != "" {
			continue
		}
		idx, ok := diskIndex(d.TargetDev)
		if !ok {
			continue
		}
		a := conf.Address{Type: "drive", Controller: uint(idx / 7), Unit: uint(idx % 7)}
		for _, h := range hs {
			if h == a {
				return unsupported("using disk target name '%s' conflicts with SCSI host device address controller='%d' bus='%d' target='%d' unit='%d",
					d.TargetDev, a.Controller, 0, 0, a.Unit)
			}
		}
	}
	for i, h := range hs {
		for _, o := range hs[i+1:] {
			if h == o {
				// libvirt prints the bus as controller and vice versa.
				return unsupported("SCSI host address controller='%d' bus='%d' target='%d' unit='%d' in use by another SCSI host device",
					h.Bus, h.Controller, h.Target, h.Unit)
			}
		}
		for _, d := range def.Devices.Disks {
			if d.TargetBus == "scsi" && d.Address == h {
				return unsupported("SCSI host address controller='%d' bus='%d' target='%d' unit='%d' in use by another SCSI disk",
					h.Bus, h.Controller, h.Target, h.Unit)
			}
		}
	}
	return nil
}
