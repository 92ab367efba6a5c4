package nodedev

import "strings"

// processStorage is udevProcessStorage: a block disk with a device node
// whose kind udev's ID_TYPE (or ID_DRIVE_FLOPPY, ID_CDROM,
// ID_DRIVE_FLASH_SD) tells, or, without udevd's database, whose node
// name libvirt recognises (/dev/vd*, /dev/dasd*, /dev/nvme*). Loop, zram
// and other disks of unknown kind are left out, as libvirt leaves them.
func processStorage(ud *udevDevice, d *Device) bool {
	devnode, ok := ud.prop("DEVNAME")
	if !ok {
		return false
	}
	c := &StorageCap{Block: devnode}
	c.Bus, _ = ud.prop("ID_BUS")
	c.Serial, _ = ud.prop("ID_SERIAL")
	c.Vendor = strings.TrimSpace(stringAttr(ud, "device/vendor"))
	c.Model = strings.TrimSpace(stringAttr(ud, "device/model"))
	c.DriveType, _ = ud.prop("ID_TYPE")
	if c.DriveType == "" || c.DriveType == "generic" {
		_, floppy := ud.prop("ID_DRIVE_FLOPPY")
		_, cd := ud.prop("ID_CDROM")
		_, sd := ud.prop("ID_DRIVE_FLASH_SD")
		switch {
		case floppy:
			c.DriveType = "floppy"
		case cd:
			c.DriveType = "cd"
		case sd:
			c.DriveType = "sd"
		default:
			if c.DriveType = kludgeStorageType(c.Block); c.DriveType == "" {
				return false
			}
		}
	}
	switch c.DriveType {
	case "cd", "cd/dvd":
		c.DriveType = "cdrom"
		media := 0
		if s, ok := ud.prop("ID_CDROM_MEDIA"); ok {
			v, ok := parseInt(s, 10)
			if !ok {
				return false
			}
			media = v
		}
		if !removableMedia(ud, c, media != 0) {
			return false
		}
	case "disk", "sd":
		if !diskSize(ud, c) {
			return false
		}
	case "floppy":
		_, label := ud.prop("ID_FS_LABEL")
		if !removableMedia(ud, c, label) {
			return false
		}
	case "dasd":
		c.Serial = stringAttr(ud, "device/uid")
		if !diskSize(ud, c) {
			return false
		}
	default:
		return false
	}
	d.Cap.Storage = c
	d.Name = generateName(ud.subsystem, ud.sysname, c.Serial)
	return true
}

// kludgeStorageType is udevKludgeStorageType.
func kludgeStorageType(block string) string {
	switch {
	case strings.HasPrefix(block, "/dev/vd"):
		return "disk"
	case strings.HasPrefix(block, "/dev/dasd"):
		return "dasd"
	case strings.HasPrefix(block, "/dev/nvme"):
		return "disk"
	}
	return ""
}

// diskSize is udevProcessDisk: size counts 512-byte sectors, which
// libvirt multiplies by the logical block size as it reads them.
func diskSize(ud *udevDevice, c *StorageCap) bool {
	var ok bool
	if c.NumBlocks, ok = uint64Attr(ud, "size"); !ok {
		return false
	}
	if c.LogicalBlockSize, ok = uint64Attr(ud, "queue/logical_block_size"); !ok {
		return false
	}
	c.Size = c.NumBlocks * c.LogicalBlockSize
	return true
}

// removableMedia is udevProcessRemoveableMedia.
func removableMedia(ud *udevDevice, c *StorageCap, hasMedia bool) bool {
	if s, ok := ud.sysattr("removable"); ok {
		v, ok := parseInt(s, 0)
		if !ok {
			return false
		}
		c.Removable = v == 1
	}
	if !hasMedia {
		return true
	}
	c.MediaAvailable = true
	c.MediaLabel, _ = ud.prop("ID_FS_LABEL")
	var ok bool
	if c.NumBlocks, ok = uint64Attr(ud, "size"); !ok {
		return false
	}
	if c.LogicalBlockSize, ok = uint64Attr(ud, "queue/logical_block_size"); !ok {
		return false
	}
	c.MediaSize = c.NumBlocks * c.LogicalBlockSize
	return true
}
