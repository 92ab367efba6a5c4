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
