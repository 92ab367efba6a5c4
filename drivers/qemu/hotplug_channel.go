package qemu

import (
	"context"
	"os"
	"slices"
	"time"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
	"govirt/virerr"
)

// attachChannelLive is qemuDomainAttachChrDevice for a virtio channel on
// a unix socket, the guest agent's above all: the socket goes in the
// run's channel directory when the XML gives no path, the daemon binds
// it and hands QEMU the listening descriptor (getfd, as libvirt's
// qemuProcessPrepareHostBackendChardevHotplug and qemuFDPass), then
// chardev-add and device_add the virtserialport. The new channel is
// without a state (libvirt shows none before the port's first
// VSERPORT_CHANGE) until the guest opens its port: then VSERPORT_CHANGE
// marks it connected and, for org.qemu.guest_agent.0, the agent is
// connected as for a channel present at start.
func (d *Driver) attachChannelLive(v *vm, mon monitor, c *conf.Chardev) error {
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	v.mu.Lock()
	id, name := v.id, v.name
	v.mu.Unlock()
	dir, err := d.prepareChannelDir(id, name)
	if err != nil {
		return err
	}
	if err := command.PrepareHotplugChannel(live, c, dir); err != nil {
		return err
	}
	props, err := command.ChannelDeviceAdd(live, c)
	if err != nil {
		return err
	}
	fm, ok := mon.(fdMonitor)
	if !ok {
		return errQEMU(virerr.ErrOperationUnsupported, "monitor cannot pass descriptors")
	}
	sock, err := command.OpenHostFile(command.HostFile{Path: c.SourcePath, Kind: command.UnixListen})
	if err != nil {
		return virerr.New(virerr.FromQemu, virerr.ErrSystemError, "Failed to bind socket to '%s': %v", c.SourcePath, sysErrText(err))
	}
	defer sock.Close() // QEMU has its own copy once getfd returns
	ctx, cancel := context.WithTimeout(hotplugCtx(), 30*time.Second)
	defer cancel()
	charID := "char" + c.Alias
	fdName := "fd-" + charID
	if err := qmp.Getfd(ctx, fm, fdName, sock); err != nil {
		os.Remove(c.SourcePath)
		return qmpError(err)
	}
	backend := map[string]any{"type": "socket", "data": map[string]any{
		"addr":   map[string]any{"type": "fd", "data": map[string]any{"str": fdName}},
		"server": true, "wait": false,
	}}
	if err := mon.Execute(ctx, "chardev-add", map[string]any{"id": charID, "backend": backend}, nil); err != nil {
		_ = mon.Execute(ctx, "closefd", map[string]string{"fdname": fdName}, nil)
		os.Remove(c.SourcePath)
		return qmpError(err)
	}
	if err := qmp.DeviceAdd(ctx, mon, props); err != nil {
		if e := mon.Execute(ctx, "chardev-remove", map[string]string{"id": charID}, nil); e != nil {
			d.log.Warn("chardev-remove", "domain", name, "chardev", charID, "err", e)
		}
		os.Remove(c.SourcePath)
		return qmpError(err)
	}
	d.modifyLive(v, func(next *conf.Domain) {
		next.Devices.Channels = append(slices.Clip(next.Devices.Channels), c)
	})
	d.publishDomain(v, driver.EventIDDeviceAdded, driver.DeviceAlias{Alias: c.Alias})
	return nil
}
