package command

import (
	"fmt"

	"govirt/conf"
)

// layers returns the disk's image chain from the top down, without the
// empty <backingStore/> that marks its end; nil for an empty drive.
func layers(d *conf.Disk) []*conf.DiskSource {
	if sourceEmpty(&d.Source) {
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
		ls := layers(d)
		if len(ls) == 0 && d.Source.Type != "" {
			// An empty drive's source takes a number too, though
			// it has no nodes.
			n++
		}
		for _, s := range ls {
			n++
			s.NodeName = fmt.Sprintf("libvirt-%d-storage", n)
			s.NodeNameFormat = fmt.Sprintf("libvirt-%d-format", n)
		}
		if err := b.assignDiskFDSets(d); err != nil {
			return err
		}
	}
	return nil
}

// checkDiskSource refuses disk kinds and image types the builder does not
// implement, and what libvirt refuses, with its messages.
func checkDiskSource(d *conf.Disk) error {
	switch d.Device {
	case "disk", "cdrom", "floppy":
	case "lun":
		if d.Source.Type != "block" && !(d.Source.Type == "network" && d.Source.Protocol == "iscsi") {
			return unsupported("disk device='lun' is only valid for block type disk source")
		}
		if d.TargetBus != "scsi" && d.TargetBus != "virtio" {
			return unsupported("disk device='lun' is not supported for bus='%s'", d.TargetBus)
		}
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
	if sourceEmpty(&d.Source) {
		if d.Device != "cdrom" && d.Device != "floppy" {
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
		case "file", "block", "dir", "nvme", "network", "vhostuser":
		default:
			return unsupportedValue(path, "type", s.Type)
		}
		switch f := s.Format; f {
		case "", "raw", "qcow2", "qcow", "qed", "vmdk", "vdi", "vpc", "vhd", "vhdx", "bochs", "cloop", "dmg", "ploop", "fat":
			if f == "fat" && s.Type != "dir" {
				return unsupported("storage format 'fat' is supported only with 'dir' storage type")
			}
		case "cow":
			return unsupported("'cow' storage format is not supported")
		case "iso":
			return unsupported("storage format 'iso' is not directly supported by QEMU, use 'raw' instead")
		case "dir":
			return unsupported("'directory' storage format is not directly supported by QEMU, use 'dir' disk type instead")
		default:
			return unsupportedValue(path+"/"+map[bool]string{true: "driver", false: "format"}[s == &d.Source], "type", s.Format)
		}
		if s.Type == "dir" && s.Format != "fat" {
			return unsupported("unsupported disk driver type for '%s'", s.Format)
		}
	}
	return nil
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
	env := b.hostEnv()
	if err := b.emitFloppyController(boot); err != nil {
		return err
	}
	for _, d := range b.def.Devices.Disks {
		if d.Source.Type == "vhostuser" {
			if err := b.checkVhostUserDisk(d); err != nil {
				return err
			}
			b.add("-chardev", vhostUserDiskChardev(d))
		} else {
			args, _, err := b.diskNodes(d, env)
			if err != nil {
				return err
			}
			b.addDiskFDs(d)
			b.add(args...)
		}
		dev, err := b.diskDevice(d, boot[d])
		if err != nil {
			return err
		}
		b.device(dev)
	}
	return nil
}

// bootIndexes maps boot devices to their bootindex: per-device <boot
// order> when the definition uses it, else libvirt's translation of
// <os><boot dev> (qemuProcessPrepareDeviceBootorder): the first device of
// each listed kind gets the position of that kind in the list.
func (b *builder) bootIndexes() map[any]int {
	out := map[any]int{}
	ds := &b.def.Devices
	for _, d := range ds.Disks {
		if d.BootOrder > 0 {
			out[d] = int(d.BootOrder)
		}
	}
	for _, n := range ds.Interfaces {
		if o := bootOrder(conf.DeviceElement(n)); o > 0 {
			out[n] = o
		}
	}
	if len(out) > 0 {
		return out
	}
	pos := map[string]int{}
	for i, dev := range b.def.OS.Boot {
		pos[dev] = i + 1
	}
	kind := map[string]string{"cdrom": "cdrom", "disk": "hd", "lun": "hd", "floppy": "fd"}
	for _, d := range ds.Disks {
		k := kind[d.Device]
		if p := pos[k]; p > 0 {
			out[d] = p
			pos[k] = 0
		}
	}
	if p := pos["network"]; p > 0 && len(ds.Interfaces) > 0 {
		out[ds.Interfaces[0]] = p
	}
	return out
}

func bootOrder(e *conf.Element) int {
	v := attr(child(e, "boot"), "order")
	var n int
	fmt.Sscan(v, &n)
	return n
}
