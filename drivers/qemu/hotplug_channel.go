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
	console := chrKind(c) == "console"
	var props map[string]any
	if console {
		p, err := command.PrepareHotplugConsole(live, c)
		if err != nil {
			return err
		}
		props = p
	} else {
		dir, err := d.prepareChannelDir(id, name)
		if err != nil {
			return err
		}
		if err := command.PrepareHotplugChannel(live, c, dir); err != nil {
			return err
		}
		if props, err = command.ChannelDeviceAdd(live, c); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(hotplugCtx(), 30*time.Second)
	defer cancel()
	charID := "char" + c.Alias
	if c.Type != "unix" || c.SourceMode != "bind" {
		if err := d.addChardevBackend(ctx, mon, c, charID); err != nil {
			return err
		}
	} else if err := d.addListeningChardev(ctx, mon, c, charID); err != nil {
		return err
	}
	if err := qmp.DeviceAdd(ctx, mon, props); err != nil {
		if e := mon.Execute(ctx, "chardev-remove", map[string]string{"id": charID}, nil); e != nil {
			d.log.Warn("chardev-remove", "domain", name, "chardev", charID, "err", e)
		}
		if c.Type == "unix" && c.SourceMode == "bind" {
			os.Remove(c.SourcePath)
		}
		return qmpError(err)
	}
	d.modifyLive(v, func(next *conf.Domain) {
		if console {
			next.Devices.Consoles = append(slices.Clip(next.Devices.Consoles), c)
			return
		}
		next.Devices.Channels = append(slices.Clip(next.Devices.Channels), c)
	})
	d.publishDomain(v, driver.EventIDDeviceAdded, driver.DeviceAlias{Alias: c.Alias})
	return nil
}

// addChardevBackend is chardev-add of a backend QEMU opens itself; a pty
// backend reports the pty QEMU allocated, which becomes the source path.
func (d *Driver) addChardevBackend(ctx context.Context, mon monitor, c *conf.Chardev, charID string) error {
	backend, err := command.HotplugChardevBackend(c)
	if err != nil {
		return err
	}
	var ret struct {
		Pty string `json:"pty"`
	}
	if err := mon.Execute(ctx, "chardev-add", map[string]any{"id": charID, "backend": backend}, &ret); err != nil {
		return qmpError(err)
	}
	if c.Type == "pty" && ret.Pty != "" {
		c.SourcePath = ret.Pty
	}
	return nil
}

// addListeningChardev binds the unix socket in the daemon and passes it
// to QEMU (getfd) for chardev-add.
func (d *Driver) addListeningChardev(ctx context.Context, mon monitor, c *conf.Chardev, charID string) error {
	fm, ok := mon.(fdMonitor)
	if !ok {
		return errQEMU(virerr.ErrOperationUnsupported, "monitor cannot pass descriptors")
	}
	sock, err := command.OpenHostFile(command.HostFile{Path: c.SourcePath, Kind: command.UnixListen})
	if err != nil {
		return virerr.New(virerr.FromQemu, virerr.ErrSystemError, "Failed to bind socket to '%s': %v", c.SourcePath, sysErrText(err))
	}
	defer sock.Close() // QEMU has its own copy once getfd returns
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
	return nil
}
