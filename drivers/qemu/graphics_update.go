package qemu

import (
	"context"
	"strconv"
	"time"

	"govirt/conf"
	"govirt/virerr"
)

// This file is `virsh update-device` for <graphics>, as libvirt's
// qemuDomainChangeGraphics: on a running guest only the password, its
// expiry and the connected action can change (over the monitor); the
// persistent definition takes the whole new element.

// graphicsListenOf is the first listen of a display as libvirt's parser
// reads it: the <listen> element, else the legacy listen/socket
// attributes; and how many listens it has.
func graphicsListenOf(g *conf.Graphics) (typ, value string, n int) {
	e := conf.DeviceElement(g)
	ls := e.Children("listen")
	if len(ls) == 0 {
		if g.Type == "vnc" && g.Socket != "" {
			return "socket", g.Socket, 1
		}
		return "address", g.Listen, 1
	}
	l := ls[0]
	typ, _ = l.Attr("type")
	switch typ {
	case "address":
		value, _ = l.Attr("address")
		if value == "" {
			value = g.Listen
		}
	case "network":
		value, _ = l.Attr("network")
	case "socket":
		value, _ = l.Attr("socket")
	}
	return typ, value, len(ls)
}

func graphicsAttr(g *conf.Graphics, name string) string {
	v, _ := conf.DeviceElement(g).Attr(name)
	return v
}

// updateGraphicsLive changes the password settings of the running
// display of the same type, refusing other changes with libvirt's errors.
func (d *Driver) updateGraphicsLive(v *vm, mon monitor, g *conf.Graphics) error {
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	var old *conf.Graphics
	for _, x := range live.Devices.Graphics {
		if x.Type == g.Type {
			old = x
			break
		}
	}
	if old == nil {
		return errQEMU(virerr.ErrDeviceMissing, "cannot find existing graphics device to modify of type '%s'", g.Type)
	}
	unsupported := func(format string, args ...any) error {
		return errQEMU(virerr.ErrOperationUnsupported, format, args...)
	}
	nt, nv, nn := graphicsListenOf(g)
	ot, ov, on := graphicsListenOf(old)
	switch {
	case nn != on:
		return unsupported("cannot change the number of listen addresses on '%s' graphics", g.Type)
	case nt != ot:
		return unsupported("cannot change the type of listen address on '%s' graphics", g.Type)
	case nv != ov && nt == "socket":
		return unsupported("cannot change listen socket setting on '%s' graphics", g.Type)
	case nv != ov && (nt == "address" || nt == "network"):
		return unsupported("cannot change listen address setting on '%s' graphics", g.Type)
	}
	switch g.Type {
	case "vnc", "spice":
	default:
		return errQEMU(virerr.ErrInternalError, "unable to change config on '%s' graphics type", g.Type)
	}
	autoNew, autoOld := g.AutoPort || g.Port == -1, old.AutoPort
	if autoNew != autoOld || (!autoNew && (g.Port != old.Port || (g.Type == "spice" && g.TLSPort != old.TLSPort))) {
		return unsupported("cannot change port settings on %s graphics", g.Type)
	}
	if graphicsAttr(g, "keymap") != graphicsAttr(old, "keymap") {
		return unsupported("cannot change keymap setting on %s graphics", g.Type)
	}
	newValid, oldValid := graphicsAttr(g, "passwdValidTo"), graphicsAttr(old, "passwdValidTo")
	newConn, oldConn := graphicsAttr(g, "connected"), graphicsAttr(old, "connected")
	if g.Type == "vnc" && newConn != "" && newConn != "keep" {
		return errQEMU(virerr.ErrConfigUnsupported, "VNC supports connected='keep' only")
	}
	if newValid == "" && oldValid == "" && newConn == oldConn && newConn != "disconnect" && g.Passwd == old.Passwd {
		return nil
	}
	passwd := g.Passwd
	if passwd == "" {
		if g.Type == "vnc" {
			passwd = d.cfg.Graphics.VNCPassword
		} else {
			passwd = d.cfg.Graphics.SpicePassword
		}
	}
	if passwd != "" {
		if err := setDisplayPassword(hotplugCtx(), mon, g.Type, passwd, newConn, passwordExpiry(g, passwd)); err != nil {
			return err
		}
	}
	d.modifyLive(v, func(next *conf.Domain) {
		for _, x := range next.Devices.Graphics {
			if x.Type == g.Type {
				x.Passwd = g.Passwd
				conf.SetDeviceValue(x, "@passwdValidTo", newValid)
				conf.SetDeviceValue(x, "@connected", newConn)
				return
			}
		}
	})
	return nil
}

// setDisplayPassword is qemuDomainChangeGraphicsPasswords' monitor part:
// set_password (with the connected action when given) then
// expire_password.
func setDisplayPassword(ctx context.Context, mon monitor, protocol, passwd, connected, expiry string) error {
	args := struct {
		Protocol  string `json:"protocol"`
		Password  string `json:"password"`
		Connected string `json:"connected,omitempty"`
	}{protocol, passwd, connected}
	if err := mon.Execute(ctx, "set_password", args, nil); err != nil {
		return qmpFailed("setting the "+protocol+" password", err)
	}
	exp := struct {
		Protocol string `json:"protocol"`
		Time     string `json:"time"`
	}{protocol, expiry}
	if err := mon.Execute(ctx, "expire_password", exp, nil); err != nil {
		return qmpFailed("setting the "+protocol+" password expiry", err)
	}
	return nil
}

// passwordExpiry is the expire_password time of a display's password:
// now for an empty or already expired one, its passwdValidTo (UTC, as
// libvirt reads it) as seconds since the epoch, else never.
func passwordExpiry(g *conf.Graphics, passwd string) string {
	if passwd == "" {
		return "now"
	}
	v := graphicsAttr(g, "passwdValidTo")
	if v == "" {
		return "never"
	}
	t, err := time.Parse("2006-01-02T15:04:05", v)
	if err != nil {
		return "never"
	}
	if !t.After(time.Now()) {
		return "now"
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// updateGraphicsConfig replaces the display of the same type in the
// persistent definition (qemuDomainUpdateDeviceConfig).
func updateGraphicsConfig(def *conf.Domain, g *conf.Graphics) error {
	for i, x := range def.Devices.Graphics {
		if x.Type == g.Type {
			def.Devices.Graphics[i] = g
			return nil
		}
	}
	return errQEMU(virerr.ErrInvalidArg, "cannot find existing graphics type '%s' device to modify", g.Type)
}
