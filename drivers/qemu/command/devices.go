package command

import (
	"slices"
	"strconv"
	"strings"

	"govirt/conf"
)

// emitControllers writes the controllers QEMU does not create itself:
// PCI controllers first (other devices plug into them), then by type in
// libvirt's order.
func (b *builder) emitControllers() error {
	ds := &b.def.Devices
	for _, c := range ds.Controllers {
		switch c.Type {
		case "pci", "usb", "scsi", "ide", "sata", "virtio-serial", "fdc", "ccid":
		default:
			return unsupportedValue("devices/controller", "type", c.Type)
		}
		if attr(conf.DeviceElement(c), "ports") != "" && c.Type != "virtio-serial" && c.Type != "usb" {
			return unsupported("attribute 'ports' of controller type '%s' is not supported by govirt's QEMU driver", c.Type)
		}
	}
	pcis := slices.Clone(ds.Controllers)
	slices.SortStableFunc(pcis, func(x, y *conf.Controller) int { return x.Index - y.Index })
	if err := b.emitRootHotplug(pcis); err != nil {
		return err
	}
	for _, c := range pcis {
		if c.Type != "pci" {
			continue
		}
		o, err := b.pciControllerObj(c)
		if err != nil {
			return err
		}
		if o != nil {
			b.device(o)
		}
	}
	for _, typ := range []string{"usb", "scsi", "ide", "sata", "virtio-serial"} {
		for _, c := range ds.Controllers {
			if c.Type != typ {
				continue
			}
			if typ == "usb" {
				o, err := b.usbControllerObj(c)
				if err != nil {
					return err
				}
				if o != nil {
					b.device(o)
				}
				continue
			}
			drv, err := b.controllerDriver(c)
			if err != nil {
				return err
			}
			if drv == "" {
				continue
			}
			var o obj
			if typ == "scsi" {
				if o, err = b.scsiControllerDevice(c, drv); err != nil {
					return err
				}
			} else {
				drvEl := deviceDriver(c)
				for _, a := range []string{"queues", "cmd_per_lun", "max_sectors", "ioeventfd", "iothread"} {
					if attr(drvEl, a) != "" {
						return unsupported("attribute '%s' of element <devices/controller/driver> is not supported by govirt's QEMU driver", a)
					}
				}
				o = obj{}.set("driver", drv)
				if p := attr(conf.DeviceElement(c), "ports"); p != "" && typ == "usb" {
					// An xHCI's USB 2 and USB 3 port counts.
					n, _ := strconv.Atoi(p)
					o = o.set("p2", n).set("p3", n)
				}
				if o, err = withVirtioOpts(o, drvEl); err != nil {
					return err
				}
				if m := child(conf.DeviceElement(c), "master"); m != nil && typ == "usb" {
					// A companion controller joins its EHCI master's bus.
					if o, err = b.usbCompanion(o, c, m); err != nil {
						return err
					}
				} else {
					o = o.set("id", c.Alias)
				}
			}
			if p := attr(conf.DeviceElement(c), "ports"); p != "" && typ == "virtio-serial" {
				n, err := strconv.Atoi(p)
				if err != nil {
					return unsupportedValue("devices/controller", "ports", p)
				}
				o = o.set("max_ports", n)
			}
			if v := attr(conf.DeviceElement(c), "vectors"); v != "" && c.Type == "virtio-serial" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return unsupportedValue("devices/controller", "vectors", v)
				}
				o = o.set("vectors", n)
			}
			b.device(b.pciProps(o, c.Address))
		}
	}
	return nil
}

// controllerDriver is the QEMU device of a controller, "" for the ones
// the machine has built in or that create nothing.
func (b *builder) controllerDriver(c *conf.Controller) (string, error) {
	switch c.Type {
	case "usb":
		switch c.Model {
		case "piix3-uhci":
			return "piix3-usb-uhci", nil
		case "qemu-xhci":
			return "qemu-xhci", nil
		case "piix4-uhci", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3", "vt82c686b-uhci":
			return strings.Replace(c.Model, "-uhci", "-usb-uhci", 1), nil
		case "ich9-ehci1":
			return "ich9-usb-ehci1", nil
		case "ehci":
			return "usb-ehci", nil
		case "pci-ohci":
			return "pci-ohci", nil
		case "nec-xhci":
			return "nec-usb-xhci", nil
		case "none":
			return "", nil
		}
	case "scsi":
		switch c.Model {
		case "virtio-transitional", "virtio-non-transitional":
			return b.virtioTypeName("virtio-scsi", c.Model)
		}
		if drv, ok := scsiModels[c.Model]; ok {
			return drv, nil
		}
		return "", unsupported("Unsupported controller model: %s", c.Model)
	case "fdc":
		// The PC's floppy controller; see emitFloppyController.
		if c.Index == 0 && c.Model == "" {
			return "", nil
		}
	case "ide":
		if c.Index == 0 && !b.q35 && c.Model == "" {
			return "", nil
		}
	case "sata":
		if c.Model != "" {
			break
		}
		if c.Index == 0 && b.q35 {
			return "", nil
		}
		return "ahci", nil
	case "virtio-serial":
		switch c.Model {
		case "":
			return "virtio-serial-pci", nil
		case "virtio", "virtio-transitional", "virtio-non-transitional":
			return b.virtioTypeName("virtio-serial", c.Model)
		}
	}
	return "", unsupported("controller type '%s' index %d model '%s' is not supported by govirt's QEMU driver", c.Type, c.Index, c.Model)
}
