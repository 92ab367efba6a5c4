package qemu

import (
	"encoding/json"
	"os/exec"
	"slices"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
	"govirt/virerr"
)

// DomainAttachDeviceFlags adds a device to the persistent definition, the
// running guest or both. As libvirt (qemuDomainAttachDeviceLiveAndConfig)
// the config change is prepared on a copy first, the live attach runs
// next, and the copy is only saved once both succeeded.
func (c *conn) DomainAttachDeviceFlags(h driver.Domain, xml string, flags uint32) error {
	if err := checkFlagsMask(flags, modifyLive|modifyConfig, "qemuDomainAttachDeviceFlags"); err != nil {
		return err
	}
	// As qemuDomainAttachDeviceConfig, the persistent definition then
	// gets the new device's defaults and address.
	config := func(def *conf.Domain, dev any) error {
		if err := attachConfig(def, dev); err != nil {
			return err
		}
		return c.d.applyPostParse(def)
	}
	return c.deviceChange(h, "attach device", xml, flags, config,
		func(v *vm, mon monitor, dev, confDev any) error {
			// The live copy takes what the config one generated (MAC),
			// so both describe the same device.
			if a, ok := confDev.(*conf.Interface); ok {
				if b, ok := dev.(*conf.Interface); ok && b.MAC == "" {
					b.MAC = a.MAC
				}
			}
			return c.d.attachLive(v, mon, dev)
		})
}

// attachConfig adds dev to a persistent definition (qemuDomainAttachDeviceConfig).
func attachConfig(def *conf.Domain, dev any) error {
	switch x := dev.(type) {
	case *conf.Disk:
		fillDiskDefaults(x)
		if def.DiskByTarget(x.TargetDev) != nil {
			return errQEMU(virerr.ErrOperationInvalid, "target %s already exists", x.TargetDev)
		}
		insertDisk(def, x)
		return nil
	case *conf.Interface:
		if x.MAC == "" {
			x.MAC = conf.GenerateMAC()
		}
		def.Devices.Interfaces = append(slices.Clip(def.Devices.Interfaces), x)
		return nil
	case *conf.RawDevice:
		if x.Kind == "memory" {
			return attachMemoryConfig(def, x)
		}
		return def.AddDevice(dev)
	case *conf.Controller, *conf.Chardev, *conf.Input, *conf.Watchdog, *conf.RNG, *conf.Sound, *conf.Audio:
		return def.AddDevice(dev)
	}
	return errQEMU(virerr.ErrOperationUnsupported, "persistent attach of device '%s' is not supported", deviceKind(dev))
}

// insertDisk places d where virDomainDiskInsert does: before the first
// disk of its bus with a higher target index, else after the last disk
// of its bus, else at the end.
func insertDisk(def *conf.Domain, d *conf.Disk) {
	list := def.Devices.Disks
	idx, _ := command.DiskIndex(d.TargetDev)
	at := -1
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].TargetBus != d.TargetBus {
			continue
		}
		if k, _ := command.DiskIndex(list[i].TargetDev); k > idx {
			at = i
		} else if at == -1 {
			at = i + 1
		}
	}
	if at == -1 {
		at = len(list)
	}
	def.Devices.Disks = slices.Insert(slices.Clip(list), at, d)
}

// attachLive hot-plugs dev into the running guest; the caller holds the
// job. On failure QEMU and the live definition are as they were.
func (d *Driver) attachLive(v *vm, mon monitor, dev any) error {
	switch x := dev.(type) {
	case *conf.Disk:
		fillDiskDefaults(x)
		live, _, _ := liveSnapshot(v)
		if live == nil {
			return errNotRunning()
		}
		// A CD-ROM or floppy target that exists means "change the
		// medium", as in qemuDomainAttachDeviceDiskLive.
		if (x.Device == "cdrom" || x.Device == "floppy") && live.DiskByTarget(x.TargetDev) != nil {
			return d.changeMedia(v, mon, x, false)
		}
		return d.attachDiskLive(v, mon, x)
	case *conf.Interface:
		return d.attachNetLive(v, mon, x)
	case *conf.Chardev:
		if k := chrKind(x); k == "channel" || k == "console" {
			return d.attachChannelLive(v, mon, x)
		}
	case *conf.RawDevice:
		if x.Kind == "memory" {
			return d.attachMemoryLive(v, mon, x)
		}
	}
	return errQEMU(virerr.ErrOperationUnsupported, "live attach of device '%s' is not supported", deviceKind(dev))
}

func (d *Driver) attachDiskLive(v *vm, mon monitor, disk *conf.Disk) error {
	live, _, qc := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	if err := checkSourceAccess(disk); err != nil {
		return err
	}
	if old := live.DiskByTarget(disk.TargetDev); old != nil {
		return errQEMU(virerr.ErrXMLError, "target '%s' duplicated for disk sources '%s' and '%s'",
			disk.TargetDev, nullStr(old.Source.Path), nullStr(disk.Source.Path))
	}
	if err := command.PrepareHotplugDisk(live, disk, qc, nodeIndexAllocator(v, live)); err != nil {
		return err
	}
	devArgs, err := command.DiskDeviceAdd(live, disk, qc)
	if err != nil {
		return err
	}
	// QEMU's user gets the files and its cgroup the devices before QEMU
	// opens them; a failure gives both back.
	undo := func() {
		d.denyDiskDevices(v, disk)
		d.restoreDiskLive(v.name, live, disk)
	}
	if err := d.labelDiskLive(v, live, disk); err != nil {
		undo()
		return err
	}
	if err := d.allowDiskDevices(v, disk); err != nil {
		undo()
		return err
	}
	secrets, err := d.addDiskSecrets(v, mon, disk)
	if err != nil {
		undo()
		return err
	}
	added, err := addBlockdevs(mon, disk)
	if err != nil {
		d.delDiskSecrets(v, mon, secrets)
		undo()
		return err
	}
	if err := qmp.DeviceAdd(hotplugCtx(), mon, devArgs); err != nil {
		delBlockdevs(d, v, mon, added)
		d.delDiskSecrets(v, mon, secrets)
		undo()
		return qmpError(err)
	}
	// Throttling goes on the new device once it exists; like libvirt, a
	// failure here only warns, the disk is attached.
	if args, err := command.DiskThrottle(disk); err != nil || args != nil {
		if err == nil {
			err = mon.Execute(hotplugCtx(), "block_set_io_throttle", args, nil)
		}
		if err != nil {
			d.log.Warn("failed to set blkdeviotune", "domain", v.name, "disk", disk.TargetDev, "err", err)
		}
	}
	d.modifyLive(v, func(next *conf.Domain) { insertDisk(next, disk) })
	forgetStats(v) // a cached sample would not know the new disk
	d.publishDomain(v, driver.EventIDDeviceAdded, driver.DeviceAlias{Alias: disk.Alias})
	return nil
}

// addBlockdevs adds disk's nodes; on failure it deletes what it added and
// returns the error. It returns the names added, top first, for rollback.
func addBlockdevs(mon monitor, disk *conf.Disk) ([]string, error) {
	var added []string
	for _, args := range command.DiskBlockdevs(disk) {
		var node struct {
			NodeName string `json:"node-name"`
		}
		_ = json.Unmarshal(args, &node)
		if err := qmp.BlockdevAdd(hotplugCtx(), mon, args); err != nil {
			for i := len(added) - 1; i >= 0; i-- {
				_ = qmp.BlockdevDel(hotplugCtx(), mon, added[i])
			}
			return nil, qmpError(err)
		}
		added = append(added, node.NodeName)
	}
	slices.Reverse(added)
	return added, nil
}

// delBlockdevs removes nodes (top first); failures are only logged, as
// libvirt does when it cleans up after a failed or finished unplug.
func delBlockdevs(d *Driver, v *vm, mon monitor, nodes []string) {
	for _, n := range nodes {
		if err := qmp.BlockdevDel(hotplugCtx(), mon, n); err != nil {
			d.log.Warn("blockdev-del", "domain", v.name, "node", n, "err", err)
		}
	}
}

func (d *Driver) attachNetLive(v *vm, mon monitor, n *conf.Interface) error {
	live, _, qc := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	if err := d.resolveNetwork(live, n); err != nil {
		return err
	}
	if err := command.PrepareHotplugNet(live, n, qc); err != nil {
		d.releasePort(n)
		return err
	}
	devArgs, err := command.NetDeviceAdd(live, n, qc)
	if err != nil {
		d.releasePort(n)
		return err
	}
	ndArgs, tapReady, err := hotplugNetdevArgs(live, qc, mon, n)
	if err != nil {
		d.releasePort(n)
		return err
	}
	if err := qmp.NetdevAdd(hotplugCtx(), mon, ndArgs); err != nil {
		d.releasePort(n)
		return qmpError(err)
	}
	netdevDel := func() {
		if err := qmp.NetdevDel(hotplugCtx(), mon, "host"+n.Alias); err != nil {
			d.log.Warn("netdev_del", "domain", v.name, "netdev", "host"+n.Alias, "err", err)
		}
		d.releasePort(n)
	}
	if n.Type == "ethernet" || n.Type == "bridge" || n.Type == "network" {
		if !tapReady {
			if err := setupTap(n); err != nil {
				netdevDel()
				return err
			}
		}
		if p, ok := filterPort(v.name, v.uuid, n); ok {
			if err := d.filterPorts().BindPort(p, false); err != nil {
				netdevDel()
				return err
			}
		}
	}
	if err := qmp.DeviceAdd(hotplugCtx(), mon, devArgs); err != nil {
		netdevDel()
		d.unbindGuestFilters(&conf.Domain{Devices: conf.Devices{Interfaces: []*conf.Interface{n}}})
		return qmpError(err)
	}
	d.modifyLive(v, func(next *conf.Domain) {
		next.Devices.Interfaces = append(slices.Clip(next.Devices.Interfaces), n)
	})
	d.publishDomain(v, driver.EventIDDeviceAdded, driver.DeviceAlias{Alias: n.Alias})
	return nil
}

// setupTap brings up the tap QEMU created for n and enslaves it to its
// bridge, which libvirt does itself before handing QEMU the descriptor.
func setupTap(n *conf.Interface) error {
	run := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return errQEMU(virerr.ErrSystemError, "cannot set up tap device '%s': %v: %s", n.TargetDev, err, out)
		}
		return nil
	}
	if n.Type == "bridge" || n.Type == "network" {
		if err := run("link", "set", "dev", n.TargetDev, "master", n.Bridge); err != nil {
			return err
		}
	}
	return run("link", "set", "dev", n.TargetDev, "up")
}

func nullStr(s string) string {
	if s == "" {
		return "(null)"
	}
	return s
}
