package qemu

import (
	"context"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
	"govirt/virerr"
)

// CD-ROM and floppy media: change-media (an update-device of the disk with
// a new or no <source>), the guest opening and closing the tray, and the
// tray state read back after a start.

// trayOpenTimeout is libvirt's CHANGE_MEDIA_TIMEOUT: how long a media
// change without force waits for the guest to release the tray.
var trayOpenTimeout = 5 * time.Second

// diskByQOM finds the disk an event names: by its device id (-blockdev
// guests send "id") or, from older QEMUs, by the drive name "drive-ALIAS".
func diskByQOM(def *conf.Domain, device, id string) *conf.Disk {
	for _, d := range def.Devices.Disks {
		if d.Alias == "" {
			continue
		}
		if (id != "" && (id == d.Alias || id == "/machine/peripheral/"+d.Alias)) ||
			(device != "" && device == "drive-"+d.Alias) {
			return d
		}
	}
	return nil
}

// trayMoved records the tray state in the live XML and emits the
// tray-change event, as qemuProcessHandleTrayChange.
func (d *Driver) trayMoved(v *vm, device, id string, open bool) {
	var alias string
	d.modifyLive(v, func(live *conf.Domain) {
		disk := diskByQOM(live, device, id)
		if disk == nil {
			return
		}
		alias = disk.Alias
		disk.Tray = ""
		if open {
			disk.Tray = "open"
		}
	})
	if alias == "" {
		return
	}
	reason := int32(1) // VIR_DOMAIN_EVENT_TRAY_CHANGE_CLOSE
	if open {
		reason = 0
	}
	d.publishDomain(v, driver.EventIDTrayChange, driver.TrayChange{DevAlias: alias, Reason: reason})
}

// RefreshTrays reads the tray state of every removable drive with
// query-block and records it in the live XML, without events (libvirt's
// qemuProcessRefreshDisks). It runs once the guest is fully started: after
// a start or restore completes, and, for an incoming migration, only once
// the migration has COMPLETED — while it is in progress the source still
// owns the device state, so the migration code calls it then.
func (d *Driver) RefreshTrays(v *vm) {
	v.mu.Lock()
	mon, live := v.mon, v.live
	v.mu.Unlock()
	if mon == nil || live == nil {
		return
	}
	hasTray := false
	for _, disk := range live.Devices.Disks {
		hasTray = hasTray || disk.Device == "cdrom" || disk.Device == "floppy"
	}
	if !hasTray {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	blocks, err := qmp.QueryBlock(ctx, mon)
	if err != nil {
		d.log.Warn("query-block for tray state", "domain", v.name, "err", err)
		return
	}
	d.modifyLive(v, func(live *conf.Domain) {
		for _, b := range blocks {
			if b.TrayOpen == nil {
				continue
			}
			disk := diskByQOM(live, b.Device, b.QDev)
			if disk == nil || (disk.Device != "cdrom" && disk.Device != "floppy") {
				continue
			}
			disk.Tray = ""
			if *b.TrayOpen {
				disk.Tray = "open"
			}
		}
	})
}

// DomainUpdateDeviceFlags changes a device in place. For disks that means
// the medium of a CD-ROM or floppy (virsh change-media); other changes
// are refused as libvirt refuses them.
func (c *conn) DomainUpdateDeviceFlags(h driver.Domain, xml string, flags uint32) error {
	if err := checkFlagsMask(flags, modifyLive|modifyConfig|modifyForce, "qemuDomainUpdateDeviceFlags"); err != nil {
		return err
	}
	force := flags&modifyForce != 0
	return c.deviceChange(h, "update device", xml, flags, updateConfig,
		func(v *vm, mon monitor, dev, _ any) error {
			if g, ok := dev.(*conf.Graphics); ok {
				return c.d.updateGraphicsLive(v, mon, g)
			}
			if nic, ok := dev.(*conf.Interface); ok {
				return c.d.updateNICLive(v, mon, nic)
			}
			if r, ok := dev.(*conf.RawDevice); ok && r.Kind == "memory" {
				return c.d.updateMemoryLive(v, mon, r)
			}
			disk, ok := dev.(*conf.Disk)
			if !ok {
				return errQEMU(virerr.ErrOperationUnsupported, "live update of device '%s' is not supported", deviceKind(dev))
			}
			fillDiskDefaults(disk)
			live, _, _ := liveSnapshot(v)
			orig := live.DiskByTarget(disk.TargetDev)
			if orig == nil {
				return errQEMU(virerr.ErrInternalError, "disk '%s' not found", disk.TargetDev)
			}
			if sameSource(&orig.Source, &disk.Source) {
				return nil
			}
			if disk.Device != "cdrom" && disk.Device != "floppy" {
				return errQEMU(virerr.ErrConfigUnsupported, "disk source can be changed only in removable drives")
			}
			return c.d.changeMedia(v, mon, disk, force)
		})
}

// updateConfig replaces a disk of the persistent definition
// (qemuDomainUpdateDeviceConfig).
func updateConfig(def *conf.Domain, dev any) error {
	if g, ok := dev.(*conf.Graphics); ok {
		return updateGraphicsConfig(def, g)
	}
	if nic, ok := dev.(*conf.Interface); ok {
		return updateNICConfig(def, nic)
	}
	if r, ok := dev.(*conf.RawDevice); ok && r.Kind == "memory" {
		return updateMemoryConfig(def, r)
	}
	disk, ok := dev.(*conf.Disk)
	if !ok {
		return errQEMU(virerr.ErrOperationUnsupported, "persistent update of device '%s' is not supported", deviceKind(dev))
	}
	fillDiskDefaults(disk)
	for i, d := range def.Devices.Disks {
		if d.TargetDev == disk.TargetDev {
			// Live-only data never goes into the persistent definition.
			disk.Alias, disk.Tray = d.Alias, ""
			clearNodeNames(&disk.Source)
			def.Devices.Disks[i] = disk
			return nil
		}
	}
	return errQEMU(virerr.ErrInvalidArg, "target %s doesn't exist.", disk.TargetDev)
}

func clearNodeNames(s *conf.DiskSource) {
	for ; s != nil; s = s.Backing {
		s.NodeName, s.NodeNameFormat = "", ""
	}
}

// sameSource is virStorageSourceIsSameLocation for local images.
func sameSource(a, b *conf.DiskSource) bool {
	return a.Path == b.Path && (a.Path == "" || a.Type == b.Type)
}

// changeMedia swaps the medium of a removable drive the way
// qemuDomainChangeMediaBlockdev does: open the tray (forced or waiting
// for the guest to let go), remove the medium and delete its nodes, add
// the new image's nodes under new names and insert them, close the tray.
// An empty <source> ejects. The caller holds the job.
func (d *Driver) changeMedia(v *vm, mon monitor, newDisk *conf.Disk, force bool) error {
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	orig := live.DiskByTarget(newDisk.TargetDev)
	if orig == nil {
		return errQEMU(virerr.ErrInternalError, "disk '%s' not found", newDisk.TargetDev)
	}
	if orig.Alias == "" {
		return errQEMU(virerr.ErrOperationFailed, "disk '%s' has no device alias", orig.TargetDev)
	}
	// Work on a copy of the drive with the new medium; it is published
	// only once QEMU has it.
	work := live.Clone().DiskByTarget(orig.TargetDev)
	work.Source = newDisk.Source
	clearNodeNames(&work.Source)
	if work.Source.Type == "" {
		work.Source.Type = "file"
	}
	// The tray is live state the medium check has no business with.
	work.Tray = ""
	if err := command.CheckMedium(work); err != nil {
		return err
	}
	if work.Source.Path != "" {
		if err := checkSourceAccess(work); err != nil {
			return err
		}
		command.NameNodes(work, nodeIndexAllocator(v, live))
	}
	id := orig.Alias
	if orig.Tray != "open" {
		if err := qmp.BlockdevOpenTray(hotplugCtx(), mon, id, force); err != nil {
			return qmpError(err)
		}
		if !force && !d.waitTrayOpen(v, orig.TargetDev) {
			return errQEMU(virerr.ErrOperationFailed, "timed out waiting to open tray of '%s'", orig.TargetDev)
		}
	}
	if err := qmp.BlockdevRemoveMedium(hotplugCtx(), mon, id); err != nil {
		return qmpError(err)
	}
	// The old medium is out of the drive: from here the live XML must
	// follow even if inserting the new one fails.
	delBlockdevs(d, v, mon, command.DiskNodes(orig))
	d.restoreDiskLive(v.name, live, orig)
	d.denyDiskDevices(v, orig)
	var insertErr error
	if work.Source.Path != "" {
		err := d.labelDiskLive(v, live, work)
		if err == nil {
			err = d.allowDiskDevices(v, work)
		}
		var added []string
		if err == nil {
			added, err = addBlockdevs(mon, work)
		}
		if err != nil {
			d.restoreDiskLive(v.name, live, work)
		}
		if err == nil {
			err = qmp.BlockdevInsertMedium(hotplugCtx(), mon, id, work.Source.NodeNameFormat)
			if err != nil {
				delBlockdevs(d, v, mon, added)
				d.restoreDiskLive(v.name, live, work)
				err = qmpError(err)
			}
		}
		insertErr = err
	}
	closeErr := qmp.BlockdevCloseTray(hotplugCtx(), mon, id)
	d.modifyLive(v, func(next *conf.Domain) {
		disk := next.DiskByTarget(orig.TargetDev)
		if disk == nil {
			return
		}
		if insertErr != nil {
			disk.Source = conf.DiskSource{Type: "file"}
		} else {
			disk.Source = work.Source
		}
		if closeErr == nil {
			disk.Tray = ""
		}
	})
	if insertErr != nil {
		return insertErr
	}
	if closeErr != nil {
		return qmpError(closeErr)
	}
	return nil
}

// waitTrayOpen waits for the DEVICE_TRAY_MOVED that says the guest let the
// tray open, as qemuHotplugWaitForTrayEject.
func (d *Driver) waitTrayOpen(v *vm, target string) bool {
	deadline := time.Now().Add(trayOpenTimeout)
	for time.Now().Before(deadline) {
		v.mu.Lock()
		var open bool
		if v.live != nil {
			if disk := v.live.DiskByTarget(target); disk != nil {
				open = disk.Tray == "open"
			}
		}
		v.mu.Unlock()
		if open {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}
