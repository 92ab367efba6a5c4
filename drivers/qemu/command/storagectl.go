package command

import (
	"strconv"

	"govirt/conf"
)

// Storage controllers: SCSI models and their options, the floppy
// controller. libvirt gives a SCSI controller without a model lsilogic
// when QEMU has the LSI adapter, virtio-scsi otherwise.

// scsiModels maps a SCSI controller model to its QEMU device.
var scsiModels = map[string]string{
	"virtio-scsi": "virtio-scsi-pci",
	"lsilogic":    "lsi",
	"lsisas1068":  "mptsas1068",
	"lsisas1078":  "megasas",
	"vmpvscsi":    "pvscsi",
	"am53c974":    "am53c974",
	"dc390":       "dc-390",
}

// defaultSCSIModels gives SCSI controllers without a model libvirt's
// default (qemuDomainGetSCSIControllerModel).
func (b *builder) defaultSCSIModels() {
	for _, c := range b.def.Devices.Controllers {
		if c.Type != "scsi" || c.Model != "" {
			continue
		}
		c.Model = "virtio-scsi"
		if !b.knowsTypes() || b.caps.HasType("lsi53c895a") {
			c.Model = "lsilogic"
		}
	}
}

// scsiControllerDevice is the -device of a SCSI controller, without its
// PCI address.
func (b *builder) scsiControllerDevice(c *conf.Controller, drv string) (obj, error) {
	d := child(conf.DeviceElement(c), "driver")
	o := obj{}.set("driver", drv)
	if c.Model != "virtio-scsi" && c.Model != "virtio-transitional" && c.Model != "virtio-non-transitional" {
		for _, a := range []string{"queues", "cmd_per_lun", "max_sectors", "ioeventfd", "iothread"} {
			if attr(d, a) != "" {
				return nil, unsupported("attribute '%s' of element <devices/controller/driver> is not supported by govirt's QEMU driver", a)
			}
		}
		if err := noVirtioOpts(d); err != nil {
			return nil, err
		}
		return o.set("id", c.Alias), nil
	}
	o, err := virtioOpts(o, d)
	if err != nil {
		return nil, err
	}
	if it := attr(d, "iothread"); it != "" {
		o = o.set("iothread", "iothread"+it)
	}
	o = o.set("id", c.Alias)
	for _, p := range [][2]string{{"queues", "num_queues"}, {"cmd_per_lun", "cmd_per_lun"}, {"max_sectors", "max_sectors"}} {
		if v := attr(d, p[0]); v != "" && v != "0" {
			o = o.set(p[1], uintOr(v, 0))
		}
	}
	if v := attr(d, "ioeventfd"); v != "" {
		o = o.set("ioeventfd", v == "on")
	}
	return o, nil
}

// checkUSBPorts refuses a ports count libvirt refuses: only the xHCI
// controllers take one, of at most 15 ports.
func checkUSBPorts(c *conf.Controller, p string) error {
	if c.Type != "usb" {
		return unsupported("attribute 'ports' of controller type '%s' is not supported by govirt's QEMU driver", c.Type)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 {
		return xmlError("Invalid value for attribute 'ports' in element 'controller': '%s'.", p)
	}
	if c.Model != "qemu-xhci" && c.Model != "nec-xhci" {
		return unsupported("usb controller type '%s' doesn't support 'ports' with this QEMU binary", c.Model)
	}
	if n > 15 {
		return unsupported("'%s' controller only supports up to '%d' ports", c.Model, 15)
	}
	return nil
}

// usbCompanion adds a companion USB controller's master bus and first
// port (qemuBuildUSBControllerDevProps): the master is the controller of
// the same index without <master>.
func (b *builder) usbCompanion(o obj, c *conf.Controller, m *conf.Element) (obj, error) {
	var master *conf.Controller
	for _, x := range b.def.Devices.Controllers {
		if x.Type == "usb" && x.Index == c.Index && child(conf.DeviceElement(x), "master") == nil {
			master = x
			break
		}
	}
	if master == nil {
		return nil, internalError("masterbus not found")
	}
	sp, err := strconv.Atoi(attr(m, "startport"))
	if err != nil || sp < 0 {
		return nil, xmlError("Cannot parse 'startport' attribute")
	}
	return o.set("masterbus", master.Alias+".0").set("firstport", sp), nil
}
