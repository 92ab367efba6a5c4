package qemu

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// chrEquals is virDomainChrEquals: the same kind of character device on
// the same source, and the same virtio name (channels) or port (serial
// and console ports).
func chrEquals(a, b *conf.Chardev) bool {
	ka, kb := chrKind(a), chrKind(b)
	if ka != kb || a.Type != b.Type || a.SourcePath != b.SourcePath || chrMode(a) != chrMode(b) {
		return false
	}
	switch ka {
	case "channel":
		return a.TargetType == b.TargetType && a.TargetName == b.TargetName
	case "serial":
		if a.TargetType != b.TargetType {
			return false
		}
	}
	return a.TargetPort == b.TargetPort
}

func chrKind(c *conf.Chardev) string {
	if e := conf.DeviceElement(c); e != nil {
		return e.Name()
	}
	return "serial"
}

// chrMode is the unix socket's listen flag as libvirt compares it: a
// socket without a mode connects.
func chrMode(c *conf.Chardev) string {
	if c.Type == "unix" && c.SourceMode == "" {
		return "connect"
	}
	return c.SourceMode
}

// findLiveChr is the detach's virDomainChrFind on the live definition.
func findLiveChr(live *conf.Domain, c *conf.Chardev) (*conf.Chardev, error) {
	for _, l := range [][]*conf.Chardev{live.Devices.Serials, live.Devices.Consoles, live.Devices.Channels} {
		for _, x := range l {
			if chrEquals(x, c) {
				return x, nil
			}
		}
	}
	return nil, errQEMU(virerr.ErrDeviceMissing, "chr type '%s' device not present in domain configuration", chrKind(c))
}

// chrUnplugAlias is qemuDomainDetachDeviceChr's preparation: the alias
// of the live device to unplug. Devices on a virtio-serial port (virtio
// channels and consoles) unplug with device_del; the others need a bus
// govirt does not hot-plug on yet. (Only the persistent detach refuses
// a serial console by name, as in libvirt.)
func chrUnplugAlias(live *conf.Domain, c *conf.Chardev) (string, error) {
	x, err := findLiveChr(live, c)
	if err != nil {
		return "", err
	}
	if x.TargetType != "virtio" {
		return "", errQEMU(virerr.ErrOperationUnsupported, "live detach of device '%s' is not supported", chrKind(x))
	}
	if x.Alias == "" {
		return "", errQEMU(virerr.ErrOperationFailed, "device has no alias")
	}
	return x.Alias, nil
}

// liveChrByAlias is the virtio channel or console with the alias.
func liveChrByAlias(live *conf.Domain, alias string) *conf.Chardev {
	for _, l := range [][]*conf.Chardev{live.Devices.Consoles, live.Devices.Channels} {
		for _, x := range l {
			if x.Alias == alias && x.TargetType == "virtio" {
				return x
			}
		}
	}
	return nil
}

// removeChrDevice is qemuDomainRemoveChrDevice once QEMU has let the port
// go: chardev-remove, drop the agent connection when it was the agent's
// channel (libvirt closes it early on the port's VSERPORT_CHANGE; the
// device is gone before that event is handled, so no AGENT_LIFECYCLE
// follows, as in libvirt), remove the socket the daemon bound in the
// run's channel directory, and drop the device from the live XML. The
// caller publishes DEVICE_REMOVED.
func (d *Driver) removeChrDevice(v *vm, mon monitor, c *conf.Chardev) {
	charID := "char" + c.Alias
	if err := mon.Execute(hotplugCtx(), "chardev-remove", map[string]string{"id": charID}, nil); err != nil {
		d.log.Warn("chardev-remove", "domain", v.name, "chardev", charID, "err", err)
	}
	if c.TargetName == guestAgentChannel {
		closeAgent(v)
	}
	v.mu.Lock()
	dir := d.channelDir(v.id, v.name)
	v.mu.Unlock()
	if c.Type == "unix" && c.SourceMode == "bind" && strings.HasPrefix(c.SourcePath, dir+string(filepath.Separator)) {
		os.Remove(c.SourcePath)
	}
	d.modifyLive(v, func(next *conf.Domain) {
		drop := func(x *conf.Chardev) bool { return x.Alias == c.Alias }
		next.Devices.Channels = slices.DeleteFunc(slices.Clone(next.Devices.Channels), drop)
		next.Devices.Consoles = slices.DeleteFunc(slices.Clone(next.Devices.Consoles), drop)
	})
}

// removeChrConfig is qemuDomainChrRemove on the persistent definition.
func removeChrConfig(def *conf.Domain, c *conf.Chardev) error {
	if chrKind(c) == "console" && (c.TargetType == "serial" || c.TargetType == "") {
		return errQEMU(virerr.ErrOperationInvalid, "detaching serial console is not supported")
	}
	for _, l := range []*[]*conf.Chardev{&def.Devices.Serials, &def.Devices.Consoles, &def.Devices.Channels} {
		if i := slices.IndexFunc(*l, func(x *conf.Chardev) bool { return chrEquals(x, c) }); i >= 0 {
			*l = slices.Delete(slices.Clone(*l), i, i+1)
			return nil
		}
	}
	return errQEMU(virerr.ErrInvalidArg, "device not present in domain configuration")
}
