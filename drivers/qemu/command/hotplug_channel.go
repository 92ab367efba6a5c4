package command

import (
	"fmt"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/drivers/internal/safepath"
	"govirt/virerr"
)

// PrepareHotplugChannel gives a virtio channel about to be added to the
// running guest def what qemuDomainAttachChrDevice gives it before the
// monitor commands: a socket in the run's channel directory dir when its
// unix source has no path (qemuDomainPrepareChannel, named after the
// target), the next channelN alias (qemuAssignDeviceChrAlias) and the
// first free port of a virtio-serial controller
// (virDomainVirtioSerialAddrAutoAssign, ports from 1). Only unix
// channels to a virtio-serial port are hot-plugged here.
func PrepareHotplugChannel(def *conf.Domain, c *conf.Chardev, dir string) error {
	switch {
	case c.TargetType != "virtio":
		return notHotpluggable(c)
	case c.Type == "unix":
	default:
		if _, err := HotplugChardevBackend(c); err != nil {
			return err
		}
	}
	for _, x := range def.Devices.Channels {
		// virDomainChrFind: a virtio channel at the same address, or,
		// without one, of the same name.
		if x.TargetType == "virtio" && x.TargetName != "" && x.TargetName == c.TargetName {
			return hotplugErr(virerr.ErrOperationInvalid, "chardev already exists")
		}
	}
	if c.Type == "unix" && c.SourcePath == "" {
		if c.TargetName == "" {
			return hotplugErr(virerr.ErrOperationUnsupported, "live attach of an unnamed virtio channel without a source path is not supported")
		}
		p, err := safepath.Join(dir, c.TargetName, "")
		if err != nil {
			return err
		}
		c.SourcePath = p
	}
	if c.Type == "unix" && c.SourceMode == "" {
		c.SourceMode = "bind"
	}
	num := 0
	for _, x := range def.Devices.Channels {
		if k, err := strconv.Atoi(strings.TrimPrefix(x.Alias, "channel")); err == nil && strings.HasPrefix(x.Alias, "channel") {
			num = max(num, k+1)
		}
	}
	c.Alias = alias(c.Alias, fmt.Sprintf("channel%d", num))
	a := conf.DeviceAddress(c)
	if a.Type != "" && a.Type != "virtio-serial" {
		return hotplugErr(virerr.ErrConfigUnsupported, "Unsupported address type for character device")
	}
	if a.Type == "" || a.Port == "" || a.Port == "0" {
		na, err := freeVirtioSerialPort(def, a)
		if err != nil {
			return err
		}
		a = na
		conf.SetDeviceAddress(c, a)
	}
	return nil
}

// freeVirtioSerialPort is virDomainVirtioSerialAddrNext for a channel:
// the lowest free port (from 1) of the first virtio-serial controller
// with one, or of the controller the address already names.
func freeVirtioSerialPort(def *conf.Domain, want conf.Address) (conf.Address, error) {
	used := map[[2]uint]bool{}
	mark := func(dev any) {
		if a := conf.DeviceAddress(dev); a.Type == "virtio-serial" {
			p, _ := strconv.Atoi(a.Port)
			used[[2]uint{a.Controller, uint(p)}] = true
		}
	}
	for _, x := range def.Devices.Channels {
		mark(x)
	}
	for _, x := range def.Devices.Consoles {
		mark(x)
	}
	found := false
	for _, ctl := range def.Devices.Controllers {
		if ctl.Type != "virtio-serial" || want.Type != "" && uint(ctl.Index) != want.Controller {
			continue
		}
		found = true
		ports := 31
		if e := conf.DeviceElement(ctl); e != nil {
			if v, ok := e.Attr("ports"); ok {
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					ports = n
				}
			}
		}
		for p := 1; p < ports; p++ {
			if !used[[2]uint{uint(ctl.Index), uint(p)}] {
				return conf.Address{Type: "virtio-serial", Controller: uint(ctl.Index), Port: strconv.Itoa(p)}, nil
			}
		}
		if want.Type != "" {
			return conf.Address{}, hotplugErr(virerr.ErrXMLError, "Unable to find a free port on virtio-serial controller %d", want.Controller)
		}
	}
	if !found {
		if want.Type != "" {
			return conf.Address{}, hotplugErr(virerr.ErrXMLError, "virtio-serial controller %d not available", want.Controller)
		}
		return conf.Address{}, hotplugErr(virerr.ErrInternalError, "no virtio-serial controllers are available")
	}
	return conf.Address{}, hotplugErr(virerr.ErrXMLError, "Unable to find a free virtio-serial port")
}

// ChannelDeviceAdd is device_add's arguments for a prepared virtio
// channel: the virtserialport the command line would have.
func ChannelDeviceAdd(def *conf.Domain, c *conf.Chardev) (map[string]any, error) {
	a := conf.DeviceAddress(c)
	var ctl *conf.Controller
	for _, x := range def.Devices.Controllers {
		if x.Type == "virtio-serial" && uint(x.Index) == a.Controller {
			ctl = x
		}
	}
	if ctl == nil || ctl.Alias == "" {
		return nil, hotplugErr(virerr.ErrOperationFailed, "virtio-serial controller %d of %s does not exist", a.Controller, c.Alias)
	}
	nr, _ := strconv.Atoi(a.Port)
	props := map[string]any{"driver": "virtserialport", "bus": fmt.Sprintf("%s.%d", ctl.Alias, a.Bus), "nr": nr,
		"chardev": "char" + c.Alias, "id": c.Alias}
	if c.TargetName != "" {
		props["name"] = c.TargetName
	}
	return props, nil
}
