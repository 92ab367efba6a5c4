package command

import (
	"strconv"

	"govirt/conf"
	"govirt/virerr"
)

func notHotpluggable(c *conf.Chardev) error {
	return hotplugErr(virerr.ErrOperationUnsupported, "live attach of a %s channel of type %s is not supported", c.TargetType, c.Type)
}

// HotplugChardevBackend is the chardev-add backend (QAPI ChardevBackend)
// of a hot-plugged character device whose host side QEMU opens itself:
// null, pty, tcp and udp, and a unix socket QEMU connects to, as
// libvirt's qemuMonitorJSONAttachCharDevGetProps builds them. A unix
// socket the daemon binds is passed by descriptor instead (the caller's
// business); the other types are refused as not hot-pluggable yet.
func HotplugChardevBackend(c *conf.Chardev) (map[string]any, error) {
	s, err := parseChrSource(conf.DeviceElement(c), c.Type, false)
	if err != nil {
		return nil, err
	}
	data := map[string]any{}
	switch s.typ {
	case "null", "pty":
	case "tcp":
		if s.tls == "yes" {
			return nil, notHotpluggable(c)
		}
		data["addr"] = inetAddr(s.host, s.service)
		if s.telnet {
			data["telnet"] = true
		}
		data["server"] = s.listen
		if s.listen {
			data["wait"] = false
		}
		reconnectProp(data, s)
	case "udp":
		svc := s.bindService
		if svc == "" {
			svc = "0"
		}
		data["remote"] = inetAddr(s.connectHost, s.connectService)
		data["local"] = inetAddr(s.bindHost, svc)
		return map[string]any{"type": "udp", "data": data}, nil
	case "unix":
		if s.listen {
			return nil, notHotpluggable(c)
		}
		data["addr"] = map[string]any{"type": "unix", "data": map[string]any{"path": s.path}}
		data["server"] = false
		reconnectProp(data, s)
	default:
		return nil, notHotpluggable(c)
	}
	typ := s.typ
	if typ == "tcp" || typ == "unix" {
		typ = "socket"
	}
	return map[string]any{"type": typ, "data": data}, nil
}

func inetAddr(host, port string) map[string]any {
	return map[string]any{"type": "inet", "data": map[string]any{"host": host, "port": port}}
}

func reconnectProp(data map[string]any, s *chrSource) {
	switch s.reconnect {
	case "yes":
		if n, err := strconv.Atoi(s.reconnectTimeout); err == nil {
			data["reconnect"] = n
		}
	case "no":
		data["reconnect"] = 0
	}
}

// PrepareHotplugConsole is qemuDomainAttachChrDevicePrepare for a virtio
// console: its backend must be one QEMU opens itself (or a unix socket
// with a path the daemon binds), it takes the next console index as its
// port and alias ("console1" after the serial console, as libvirt), and
// QEMU picks its virtio-serial port.
func PrepareHotplugConsole(def *conf.Domain, c *conf.Chardev) (map[string]any, error) {
	if c.TargetType != "virtio" {
		t := c.TargetType
		if t == "" {
			t = "serial"
		}
		return nil, hotplugErr(virerr.ErrOperationUnsupported, "live attach of a %s console is not supported", t)
	}
	if c.Type == "unix" && c.SourceMode == "" {
		c.SourceMode = "bind"
	}
	if c.Type != "unix" || c.SourceMode != "bind" {
		if _, err := HotplugChardevBackend(c); err != nil {
			return nil, err
		}
	} else if c.SourcePath == "" {
		return nil, hotplugErr(virerr.ErrXMLError, "Missing source path attribute for char device")
	}
	hasCtl := false
	for _, x := range def.Devices.Controllers {
		hasCtl = hasCtl || x.Type == "virtio-serial"
	}
	if !hasCtl {
		return nil, hotplugErr(virerr.ErrInternalError, "no virtio-serial controllers are available")
	}
	n := len(def.Devices.Consoles)
	c.TargetPort = n
	c.Alias = alias(c.Alias, "console"+strconv.Itoa(n))
	return map[string]any{"driver": "virtconsole", "chardev": "char" + c.Alias, "id": c.Alias}, nil
}
