package command

import (
	"govirt/conf"
)

// Storage controllers: SCSI models and their options, the floppy
// controller. libvirt gives a SCSI controller without a model lsilogic
// when QEMU has the LSI adapter, virtio-scsi otherwise.

// scsiModels maps a SCSI controller model to its QEMU device.
var scsiModels = map[string]string{
	"virtio-scsi":             "virtio-scsi-pci",
	"virtio-transitional":     "virtio-scsi-pci-transitional",
	"virtio-non-transitional": "virtio-scsi-pci-non-transitional",
	"lsilogic":                "lsi",
	"lsisas1068":              "mptsas1068",
	"lsisas1078":              "megasas",
	"vmpvscsi":                "pvscsi",
	"am53c974":                "am53c974",
	"dc390":                   "dc-390",
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
func (b *builder) scsiControllerDevice(c *conf.Controller) (obj, error) {
	drv, ok := scsiModels[c.Model]
	if !ok {
		return nil, unsupported("Unsupported controller model: %s", c.Model)
	}
	o := obj{}.set("driver", drv)
	if c.Model != "virtio-scsi" && c.Model != "virtio-transitional" && c.Model != "virtio-non-transitional" {
		return o.set("id", c.Alias), nil
	}
	d := child(conf.DeviceElement(c), "driver")
	o = virtioOptions(o, d)
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
