package command

import (
	"fmt"

	"govirt/conf"
)

// layers returns the disk's image chain from the top down, without the
// empty <backingStore/> that marks its end; nil for an empty drive.
func layers(d *conf.Disk) []*conf.DiskSource {
	if d.Source.Path == "" {
		return nil
	}
	var out []*conf.DiskSource
	for s := &d.Source; s != nil && s.Type != ""; s = s.Backing {
		out = append(out, s)
	}
	return out
}

// assignNodeNames names the two -blockdev nodes (storage, format) of every
// layer of every disk. Like libvirt (qemuProcessPrepareHostStorage) it
// walks the disks last to first and each chain top down, numbering from
// 1, so the last disk's top image is libvirt-1-storage/libvirt-1-format.
func (b *builder) assignNodeNames() error {
	n := 0
	disks := b.def.Devices.Disks
	for i := len(disks) - 1; i >= 0; i-- {
		d := disks[i]
		if err := checkDiskSource(d); err != nil {
			return err
		}
		for _, s := range layers(d) {
			n++
			s.NodeName = fmt.Sprintf("libvirt-%d-storage", n)
			s.NodeNameFormat = fmt.Sprintf("libvirt-%d-format", n)
		}
	}
	return nil
}

// checkDiskSource refuses disk kinds and image types the builder does not
// implement.
func checkDiskSource(d *conf.Disk) error {
	switch d.Device {
	case "disk", "cdrom":
	default:
		return unsupportedValue("devices/disk", "device", d.Device)
	}
	if d.DriverName != "" && d.DriverName != "qemu" {
		return unsupportedValue("devices/disk/driver", "name", d.DriverName)
	}
	switch d.Discard {
	case "", "unmap", "ignore":
	default:
		return unsupportedValue("devices/disk/driver", "discard", d.Discard)
	}
	switch d.Tray {
	case "", "closed", "open":
		// A tray the guest opened is state, not configuration; QEMU starts
		// with it closed, as libvirt does.
	default:
		return unsupportedValue("devices/disk/target", "tray", d.Tray)
	}
	if _, ok := cacheModes[d.Cache]; !ok {
		return unsupportedValue("devices/disk/driver", "cache", d.Cache)
	}
	switch d.IO {
	case "", "threads", "native", "io_uring":
	default:
		return unsupportedValue("devices/disk/driver", "io", d.IO)
	}
	if d.Source.Path == "" {
		if d.Device != "cdrom" {
			return unsupported("disk %s has no source", d.TargetDev)
		}
		if d.Source.Backing != nil && d.Source.Backing.Type != "" {
			return unsupported("empty cdrom %s cannot have a backing chain", d.TargetDev)
		}
	}
	for _, s := range layers(d) {
		path := "devices/disk"
		if s != &d.Source {
			path = "devices/disk/backingStore"
		}
		switch s.Type {
		case "file", "block":
		default:
			return unsupportedValue(path, "type", s.Type)
		}
		if format(s) == "raw" && s.Backing != nil && s.Backing.Type != "" {
			return unsupported("raw image %s cannot have a backing image", s.Path)
		}
		switch s.Format {
		case "", "raw", "qcow2":
		default:
			return unsupportedValue(path+"/"+map[bool]string{true: "driver", false: "format"}[s == &d.Source], "type", s.Format)
		}
	}
	return nil
}

// storageDriver is the -blockdev protocol driver of a layer.
func storageDriver(d *conf.Disk, s *conf.DiskSource) string {
	if s.Type == "block" {
		if d.Device == "cdrom" && s == &d.Source {
			return "host_cdrom"
		}
		return "host_device"
	}
	return "file"
}

// format is a layer's image format; libvirt never probes, so an unset
// format is raw.
func format(s *conf.DiskSource) string {
	if s.Format == "" {
		return "raw"
	}
	return s.Format
}

// emitDisks writes every disk: its -blockdev nodes, bottom layer first so
// each backing node exists before the node that uses it, then its -device.
func (b *builder) emitDisks() error {
	boot := b.bootIndexes()
	for _, d := range b.def.Devices.Disks {
		ls := layers(d)
		for _, node := range DiskBlockdevs(d) {
			b.add("-blockdev", string(node))
		}
		dev, err := b.diskDevice(d, ls, boot[d])
		if err != nil {
			return err
		}
		b.device(dev)
	}
	return nil
}

// diskDevice is the -device of a disk, properties in libvirt's order.
func (b *builder) diskDevice(d *conf.Disk, ls []*conf.DiskSource, bootindex int) (obj, error) {
	a := d.Address
	cd := d.Device == "cdrom"
	o := obj{}
	switch d.TargetBus {
	case "virtio":
		if cd {
			return nil, unsupported("virtio disk %s cannot be a cdrom", d.TargetDev)
		}
		o = b.pciProps(o.set("driver", "virtio-blk-pci"), a)
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
		if cd {
			drv = "scsi-cd"
		}
		c := b.controller("scsi", int(a.Controller))
		o = o.set("driver", drv)
		if c.Model == "lsilogic" || c.Model == "" {
			// The LSI has no channel/target/lun properties: one bus
			// per channel, the unit as SCSI id (qemuBuildDiskDeviceProps).
			o = o.set("bus", fmt.Sprintf("%s.%d", c.Alias, a.Bus)).set("scsi-id", a.Unit)
		} else {
			o = o.set("bus", c.Alias+".0").set("channel", a.Bus).set("scsi-id", a.Target).set("lun", a.Unit)
		}
		o = o.set("device_id", "drive-"+d.Alias)
	}
	if d.Shareable {
		o = o.set("share-rw", true)
	}
	if len(ls) > 0 {
		o = o.set("drive", ls[0].NodeNameFormat)
	}
	o = o.set("id", d.Alias)
	if bootindex > 0 {
		o = o.set("bootindex", bootindex)
	}
	if d.Serial != "" {
		o = o.set("serial", d.Serial)
	}
	if wc := writeCacheProp(d.Cache); wc != "" && len(ls) > 0 {
		o = o.set("write-cache", wc)
	}
	return o, nil
}

// bootIndexes maps boot devices to their bootindex: per-device <boot
// order> when the definition uses it, else libvirt's translation of
// <os><boot dev>: the first device of each listed kind, in list order.
func (b *builder) bootIndexes() map[any]int {
	out := map[any]int{}
	ds := &b.def.Devices
	perDevice := false
	for _, d := range ds.Disks {
		if d.BootOrder > 0 {
			out[d] = int(d.BootOrder)
			perDevice = true
		}
	}
	for _, n := range ds.Interfaces {
		if o := bootOrder(conf.DeviceElement(n)); o > 0 {
			out[n] = o
			perDevice = true
		}
	}
	if perDevice {
		return out
	}
	next := 1
	for _, dev := range b.def.OS.Boot {
		var found any
		switch dev {
		case "hd", "cdrom":
			want := "disk"
			if dev == "cdrom" {
				want = "cdrom"
			}
			for _, d := range ds.Disks {
				if d.Device == want {
					found = d
					break
				}
			}
		case "network":
			if len(ds.Interfaces) > 0 {
				found = ds.Interfaces[0]
			}
		}
		if found != nil {
			if _, dup := out[found]; !dup {
				out[found] = next
				next++
			}
		}
	}
	return out
}

func bootOrder(e *conf.Element) int {
	v := attr(child(e, "boot"), "order")
	var n int
	fmt.Sscan(v, &n)
	return n
}
