package qemu

import (
	"fmt"
	"net"
	"slices"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
	"govirt/virerr"
)

// unplugTimeout is libvirt's QEMU_UNPLUG_TIMEOUT: how long a detach waits
// for the guest to give the device up (DEVICE_DELETED). Past it the API
// succeeds anyway, the device stays in the live XML, and the late event
// finishes the removal, exactly as libvirt behaves.
var unplugTimeout = 5 * time.Second

// unplugWait is the detach waiting for DEVICE_DELETED of one alias, kept
// in v.ext.unplug (libvirt's priv->unplug: one at a time, under the job).
type unplugWait struct {
	alias string
	done  chan struct{}
}

// onDeviceDeleted handles DEVICE_DELETED: it wakes the detach waiting
// for it, or finishes a removal nobody waits for.
func (d *Driver) onDeviceDeleted(v *vm, ev *qmp.DeviceDeletedEvent) {
	if ev.Device == "" {
		return // backend objects (".../virtio-backend") carry no id
	}
	v.ext.unplugMu.Lock()
	w := v.ext.unplug
	if w != nil && w.alias == ev.Device {
		v.ext.unplug = nil
		close(w.done)
		v.ext.unplugMu.Unlock()
		return
	}
	v.ext.unplugMu.Unlock()
	// Nobody waits (the detach timed out, or the guest ejected the
	// device itself): finish the removal under the job, on the
	// guest's worker, as processDeviceDeletedEvent.
	ctx, _ := v.runContext()
	v.work.submit(func() {
		// Waits as long as the run lasts: dropping the removal would
		// leave a device in the XML that QEMU no longer has.
		if err := v.job.beginWait(ctx, jobModify, apiName("device removal")); err != nil {
			return
		}
		defer v.job.end()
		v.mu.Lock()
		mon := v.mon
		v.mu.Unlock()
		if mon != nil {
			d.removeDevice(v, mon, ev.Device)
		}
	})
}

// DomainDetachDeviceFlags removes a device from the persistent definition,
// the running guest or both (qemuDomainDetachDeviceLiveAndConfig).
func (c *conn) DomainDetachDeviceFlags(h driver.Domain, xml string, flags uint32) error {
	if err := checkFlagsMask(flags, modifyLive|modifyConfig, "qemuDomainDetachDeviceFlags"); err != nil {
		return err
	}
	return c.deviceChange(h, "detach device", xml, flags, detachConfig,
		func(v *vm, mon monitor, dev, _ any) error { return c.d.detachLive(v, mon, dev) })
}

// detachConfig is qemuDomainDetachDeviceConfig for the kinds govirt
// hot-plugs, and conf's matching for the rest.
func detachConfig(def *conf.Domain, dev any) error {
	switch x := dev.(type) {
	case *conf.Disk:
		i := slices.IndexFunc(def.Devices.Disks, func(d *conf.Disk) bool { return d.TargetDev == x.TargetDev })
		if i < 0 {
			return errQEMU(virerr.ErrDeviceMissing, "no target device %s", x.TargetDev)
		}
		def.Devices.Disks = slices.Delete(slices.Clone(def.Devices.Disks), i, i+1)
		return nil
	case *conf.Interface:
		i, err := findNet(def, x)
		if err != nil {
			return err
		}
		def.Devices.Interfaces = slices.Delete(slices.Clone(def.Devices.Interfaces), i, i+1)
		return nil
	case *conf.Chardev:
		return removeChrConfig(def, x)
	case *conf.RawDevice:
		if x.Kind == "memory" {
			return detachMemoryConfig(def, x)
		}
		return def.RemoveDevice(dev)
	case *conf.Controller, *conf.Input, *conf.Watchdog, *conf.RNG, *conf.Sound, *conf.Audio:
		return def.RemoveDevice(dev)
	}
	return errQEMU(virerr.ErrOperationUnsupported, "persistent detach of device '%s' is not supported", deviceKind(dev))
}

// findNet is virDomainNetFindIdx: the one interface matching the MAC,
// PCI address and alias the document gives.
func findNet(def *conf.Domain, x *conf.Interface) (int, error) {
	match := -1
	for i, n := range def.Devices.Interfaces {
		if x.MAC != "" && !sameMAC(n.MAC, x.MAC) {
			continue
		}
		if x.Address.Type == "pci" && (n.Address.Domain != x.Address.Domain || n.Address.Bus != x.Address.Bus ||
			n.Address.Slot != x.Address.Slot || n.Address.Function != x.Address.Function) {
			continue
		}
		if x.Alias != "" && n.Alias != "" && n.Alias != x.Alias {
			continue
		}
		if match >= 0 {
			if x.MAC != "" {
				return -1, errQEMU(virerr.ErrOperationFailed, "multiple devices matching MAC address %s found", x.MAC)
			}
			return -1, errQEMU(virerr.ErrOperationFailed, "multiple matching devices found")
		}
		match = i
	}
	if match >= 0 {
		return match, nil
	}
	mac, alias, addr := "(<null>)", "(<null>)", "(<null>)"
	if x.MAC != "" {
		mac = x.MAC
	}
	if x.Alias != "" {
		alias = x.Alias
	}
	if a := x.Address; a.Type == "pci" {
		addr = pciString(a)
	}
	return -1, errQEMU(virerr.ErrDeviceMissing, "no device found at address '%s' matching MAC address '%s' and alias '%s'", addr, mac, alias)
}

func pciString(a conf.Address) string {
	return fmt.Sprintf("%04x:%02x:%02x.%x", a.Domain, a.Bus, a.Slot, a.Function)
}

func sameMAC(a, b string) bool {
	x, err1 := net.ParseMAC(a)
	y, err2 := net.ParseMAC(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return x.String() == y.String()
}

// detachLive asks QEMU to unplug the device and waits for the guest to
// let it go; the caller holds the job.
func (d *Driver) detachLive(v *vm, mon monitor, dev any) error {
	return d.unplug(v, mon, dev, true)
}

// unplug is detachLive; without wait it only sends the request, as
// libvirt's asynchronous detach (detach-device-alias): DEVICE_DELETED
// then finishes the removal (onDeviceDeleted).
func (d *Driver) unplug(v *vm, mon monitor, dev any, wait bool) error {
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	var alias string
	switch x := dev.(type) {
	case *conf.Disk:
		disk := live.DiskByTarget(x.TargetDev)
		if disk == nil {
			return errQEMU(virerr.ErrDeviceMissing, "disk %s not found", x.TargetDev)
		}
		if err := checkDiskUnplug(disk); err != nil {
			return err
		}
		alias = disk.Alias
	case *conf.Interface:
		i, err := findNet(live, x)
		if err != nil {
			return err
		}
		alias = live.Devices.Interfaces[i].Alias
	case *conf.Chardev:
		a, err := chrUnplugAlias(live, x)
		if err != nil {
			return err
		}
		alias = a
	case *conf.RawDevice:
		if x.Kind != "memory" {
			return errQEMU(virerr.ErrOperationUnsupported, "live detach of device '%s' is not supported", deviceKind(dev))
		}
		a, err := memoryUnplugAlias(live, x)
		if err != nil {
			return err
		}
		alias = a
	case *conf.Input:
		// qemuDomainDetachPrepInput: only USB and virtio inputs unplug.
		if x.Bus != "usb" && x.Bus != "virtio" {
			return errQEMU(virerr.ErrOperationUnsupported, "input device on bus '%s' cannot be detached", x.Bus)
		}
		return errQEMU(virerr.ErrOperationUnsupported, "live detach of device '%s' is not supported", deviceKind(dev))
	default:
		return errQEMU(virerr.ErrOperationUnsupported, "live detach of device '%s' is not supported", deviceKind(dev))
	}
	if alias == "" {
		return errQEMU(virerr.ErrOperationFailed, "device has no alias")
	}
	if !wait {
		if err := qmp.DeviceDel(hotplugCtx(), mon, alias); err != nil {
			return qmpError(err)
		}
		return nil
	}
	w := &unplugWait{alias: alias, done: make(chan struct{})}
	v.ext.unplugMu.Lock()
	v.ext.unplug = w
	v.ext.unplugMu.Unlock()
	defer func() {
		v.ext.unplugMu.Lock()
		if v.ext.unplug == w {
			v.ext.unplug = nil
		}
		v.ext.unplugMu.Unlock()
	}()
	if err := qmp.DeviceDel(hotplugCtx(), mon, alias); err != nil {
		return qmpError(err)
	}
	select {
	case <-w.done:
		d.removeDevice(v, mon, alias)
	case <-time.After(unplugTimeout):
		// libvirt returns success here: the unplug request was sent and
		// the guest may still honour it; the late DEVICE_DELETED then
		// completes the removal.
		d.log.Info("device unplug still pending", "domain", v.name, "alias", alias)
	}
	return nil
}

// checkDiskUnplug refuses disks QEMU cannot unplug, with
// qemuDomainDetachPrepDisk's messages.
func checkDiskUnplug(disk *conf.Disk) error {
	switch disk.Device {
	case "disk", "lun":
		switch disk.TargetBus {
		case "virtio", "usb", "scsi":
			return nil
		}
		return errQEMU(virerr.ErrOperationUnsupported, "This type of disk cannot be hot unplugged")
	case "cdrom":
		if disk.TargetBus == "usb" || disk.TargetBus == "scsi" {
			return nil
		}
	}
	return errQEMU(virerr.ErrOperationUnsupported, "disk device type '%s' cannot be detached", disk.Device)
}

// removeDevice finishes the removal of a device QEMU has unplugged:
// delete its backends, drop it from the live XML, announce it
// (qemuDomainRemoveDevice). The caller holds the job.
func (d *Driver) removeDevice(v *vm, mon monitor, alias string) {
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return
	}
	var disk *conf.Disk
	var nic *conf.Interface
	for _, x := range live.Devices.Disks {
		if x.Alias == alias {
			disk = x
		}
	}
	for _, x := range live.Devices.Interfaces {
		if x.Alias == alias {
			nic = x
		}
	}
	switch {
	case disk != nil:
		delBlockdevs(d, v, mon, command.DiskNodes(disk))
		d.restoreDiskLive(v.name, live, disk)
		d.denyDiskDevices(v, disk)
		d.delDiskSecrets(v, mon, command.DiskSecretIDs(disk))
		d.modifyLive(v, func(next *conf.Domain) {
			next.Devices.Disks = slices.DeleteFunc(slices.Clone(next.Devices.Disks), func(x *conf.Disk) bool { return x.Alias == alias })
		})
	case nic != nil:
		if err := qmp.NetdevDel(hotplugCtx(), mon, "host"+alias); err != nil {
			d.log.Warn("netdev_del", "domain", v.name, "netdev", "host"+alias, "err", err)
		}
		d.unbindGuestFilters(&conf.Domain{Devices: conf.Devices{Interfaces: []*conf.Interface{nic}}})
		d.releasePort(nic)
		d.modifyLive(v, func(next *conf.Domain) {
			next.Devices.Interfaces = slices.DeleteFunc(slices.Clone(next.Devices.Interfaces), func(x *conf.Interface) bool { return x.Alias == alias })
		})
	case liveMemoryByAlias(live, alias):
		d.removeMemoryDevice(v, mon, alias) // hotplug_memory.go
	case liveChrByAlias(live, alias) != nil:
		d.removeChrDevice(v, mon, liveChrByAlias(live, alias)) // hotplug_channel_detach.go
	case isVcpuAlias(alias):
		d.refreshVcpuCount(v, mon) // vcpu_hotplug.go
		d.syncVcpuCgroups(v, mon)  // cgroup_setup.go
		return
	default:
		return
	}
	forgetStats(v)
	d.publishDomain(v, driver.EventIDDeviceRemoved, driver.DeviceAlias{Alias: alias})
}
