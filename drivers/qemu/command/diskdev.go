package command

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"govirt/conf"
)

// The -device of a disk, as qemuBuildDiskDeviceProps writes it.

// diskDevice is the -device of a disk, properties in libvirt's order.
func (b *builder) diskDevice(d *conf.Disk, bootindex int) (obj, error) {
	el := conf.DeviceElement(d)
	drvEl := child(el, "driver")
	tgt := child(el, "target")
	a := d.Address
	cd := d.Device == "cdrom"
	var o obj
	var deviceID string
	removable := ""
	switch d.TargetBus {
	case "virtio":
		if cd {
			return nil, unsupported("virtio disk %s cannot be a cdrom", d.TargetDev)
		}
		base := "virtio-blk"
		if d.Source.Type == "vhostuser" {
			base = "vhost-user-blk"
		}
		var err error
		if o, err = b.virtioDevice(base, cmp.Or(attr(el, "model"), "virtio"), drvEl); err != nil {
			return nil, err
		}
		if it := attr(drvEl, "iothread"); it != "" {
			o = o.set("iothread", "iothread"+it)
		}
		for _, p := range [][2]string{{"ioeventfd", "ioeventfd"}, {"event_idx", "event_idx"}} {
			if v := attr(drvEl, p[0]); v != "" {
				o = o.set(p[1], v == "on")
			}
		}
		// SCSI passthrough (SG_IO) through virtio-blk, where QEMU has
		// it: on for a LUN, else off unless QEMU defaults to off.
		if d.Source.Type != "vhostuser" && b.caps.Has("virtio-blk-pci.scsi") {
			if d.Device == "lun" {
				o = o.set("scsi", true)
			} else if !b.caps.Has("virtio-blk-pci.scsi.default.disabled") {
				o = o.set("scsi", false)
			}
		} else if d.Device == "lun" {
			return nil, unsupported("disk device='lun' is not supported by this QEMU")
		}
		if q := attr(drvEl, "queues"); q != "" {
			o = o.set("num-queues", uintOr(q, 0))
		}
		if q := attr(drvEl, "queue_size"); q != "" {
			o = o.set("queue-size", uintOr(q, 0))
		}
		o = b.pciProps(o, a)
	case "ide", "sata":
		drv := "ide-hd"
		if cd {
			drv = "ide-cd"
		}
		o = o.set("driver", drv)
		switch {
		case d.TargetBus == "ide":
			o = o.set("bus", fmt.Sprintf("ide.%d", a.Bus)).set("unit", a.Unit)
		case a.Controller == 0 && b.q35:
			// The ICH9 AHCI has one bus per port.
			o = o.set("bus", fmt.Sprintf("ide.%d", a.Unit))
		default:
			o = o.set("bus", fmt.Sprintf("%s.%d", b.controller("sata", int(a.Controller)).Alias, a.Unit))
		}
	case "scsi":
		drv := "scsi-hd"
		switch d.Device {
		case "cdrom":
			drv = "scsi-cd"
		case "lun":
			drv = "scsi-block"
		}
		o = o.set("driver", drv)
		c := b.controller("scsi", int(a.Controller))
		switch c.Model {
		case "lsilogic", "ncr53c90", "dc390", "am53c974":
			o = o.set("bus", fmt.Sprintf("%s.%d", c.Alias, a.Bus)).set("scsi-id", a.Unit)
		default:
			o = o.set("bus", c.Alias+".0").set("channel", a.Bus).set("scsi-id", a.Target).set("lun", a.Unit)
		}
		if d.Device != "lun" {
			// QEMU's VPD device id was the -drive name; libvirt keeps
			// it guest-visible.
			deviceID = d.Serial
			if deviceID == "" {
				deviceID = "drive-" + d.Alias
			}
		}
	case "usb":
		o = o.set("driver", "usb-storage")
		removable = attr(tgt, "removable")
		if removable == "" {
			removable = "off"
		}
		if a.Type == "usb" {
			o = o.set("bus", b.usbBus(int(a.Bus))).set("port", a.Port)
		}
	case "fdc":
		o = o.set("driver", "floppy").set("unit", a.Unit)
	default:
		return nil, unsupportedValue("devices/disk/target", "bus", d.TargetBus)
	}
	if deviceID != "" {
		o = o.set("device_id", deviceID)
	}
	if d.Shareable {
		o = o.set("share-rw", true)
	}
	if d.Source.Type == "vhostuser" {
		o = o.set("chardev", vhostUserChrAlias(d))
	} else if drive := diskDrive(d); drive != "" {
		o = o.set("drive", drive)
	}
	o = o.set("id", d.Alias)
	// A floppy's boot index is the controller's.
	if bootindex > 0 && d.Device != "floppy" {
		o = o.set("bootindex", bootindex)
	}
	if bio := child(el, "blockio"); bio != nil {
		for _, p := range [][2]string{{"logical_block_size", "logical_block_size"}, {"physical_block_size", "physical_block_size"}} {
			if v := attr(bio, p[0]); v != "" && v != "0" {
				o = o.set(p[1], uintOr(v, 0))
			}
		}
	}
	if w := child(el, "wwn"); w != nil {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(w.Text(), "0x"), "0X"), 16, 64)
		if err != nil {
			return nil, unsupported("Failed to parse wwn '%s' as number", w.Text())
		}
		o = o.set("wwn", n)
	}
	if rr := attr(tgt, "rotation_rate"); rr != "" && rr != "0" {
		o = o.set("rotation_rate", uintOr(rr, 0))
	}
	for _, p := range []string{"vendor", "product"} {
		if e := child(el, p); e != nil {
			o = o.set(p, e.Text())
		}
	}
	if removable != "" {
		o = o.set("removable", removable == "on")
	}
	if wc := writeCacheProp(d.Cache); wc != "" && d.Device != "lun" {
		o = o.set("write-cache", wc)
	}
	if g := child(el, "geometry"); g != nil {
		for _, p := range [][2]string{{"cyls", "cyls"}, {"heads", "heads"}, {"secs", "secs"}} {
			if v := attr(g, p[0]); v != "" && v != "0" {
				o = o.set(p[1], uintOr(v, 0))
			}
		}
		if t := attr(g, "trans"); t != "" && t != "default" {
			o = o.set("bios-chs-trans", t)
		}
	}
	if d.Serial != "" {
		o = o.set("serial", strings.ReplaceAll(d.Serial, " ", `\ `))
	}
	wp, rp := errorPolicies(drvEl)
	if wp != "" {
		o = o.set("werror", wp)
	}
	if rp != "" {
		o = o.set("rerror", rp)
	}
	return o, nil
}

// errorPolicies are the werror and rerror of a disk: rerror follows
// error_policy unless given, except that enospace is write-only.
func errorPolicies(drv *conf.Element) (string, string) {
	w, r := attr(drv, "error_policy"), attr(drv, "rerror_policy")
	if w == "enospace" {
		return "enospc", r
	}
	if r == "" {
		r = w
	}
	return w, r
}

// usbBus is the QEMU bus of USB controller idx.
func (b *builder) usbBus(idx int) string {
	if c := b.controller("usb", idx); c != nil {
		return c.Alias + ".0"
	}
	return fmt.Sprintf("usb%d.0", idx)
}

// emitFloppyController sets the boot indexes of floppy drives, which
// belong to the floppy controller: the i440fx's built-in isa-fdc gets
// them as -global, a q35 machine (without a built-in one) gets an
// explicit isa-fdc.
func (b *builder) emitFloppyController(boot map[any]int) error {
	var a, bb int
	has := false
	for _, d := range b.def.Devices.Disks {
		if d.TargetBus != "fdc" {
			continue
		}
		has = true
		if d.Address.Unit != 0 {
			bb = boot[d]
		} else {
			a = boot[d]
		}
	}
	if !has {
		return nil
	}
	if b.q35 {
		o := obj{}.set("driver", "isa-fdc")
		if a > 0 {
			o = o.set("bootindexA", a)
		}
		if bb > 0 {
			o = o.set("bootindexB", bb)
		}
		b.device(o)
		return nil
	}
	if a > 0 {
		b.add("-global", fmt.Sprintf("isa-fdc.bootindexA=%d", a))
	}
	if bb > 0 {
		b.add("-global", fmt.Sprintf("isa-fdc.bootindexB=%d", bb))
	}
	return nil
}

// prepareDisks applies what libvirt's disk preparation does before
// anything is assigned (the parser's ordering is post-parse's): the bus a
// target name implies, cache=none for a writable shared disk
// (qemuDomainPrepareDiskCachemode), the startup policies.
func (b *builder) prepareDisks() error {
	ds := &b.def.Devices
	for _, d := range ds.Disks {
		if d.TargetBus == "" {
			d.TargetBus = DiskBusDefault(d.TargetDev)
			if d.Device == "floppy" {
				d.TargetBus = "fdc"
			}
		}
		if d.Cache == "" && d.Shareable && !d.ReadOnly && d.Device != "cdrom" {
			d.Cache = "none"
		}
	}
	b.applyStartupPolicies()
	return nil
}
