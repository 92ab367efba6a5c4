package postparse

import (
	"slices"
	"strconv"

	"govirt/conf"
)

// defaultVirtioSerialPorts is VIR_DOMAIN_DEFAULT_VIRTIO_SERIAL_PORTS,
// the ports of a controller without ports=.
const defaultVirtioSerialPorts = 31

// assignVirtioSerial is qemuDomainAssignVirtioSerialAddresses: complete
// addresses are reserved; then each virtio console takes the first free
// port from 0 of the first controller with one, without the address
// being recorded (libvirt assigns a consoles' port into a scratch
// address: virtconsole gets no bus), and each virtio channel the first
// free port from 1, on its own controller when its address names one.
// When every port is taken, a controller is added at the first unused
// index (virDomainVirtioSerialAddrSetAutoaddController).
func (p *pp) assignVirtioSerial() error {
	ds := &p.def.Devices
	type ctl struct {
		idx  uint
		used []bool
	}
	var ctls []*ctl
	find := func(idx uint) *ctl {
		for _, c := range ctls {
			if c.idx == idx {
				return c
			}
		}
		return nil
	}
	for _, c := range ds.Controllers {
		if c.Type != "virtio-serial" {
			continue
		}
		n := defaultVirtioSerialPorts
		if v := rawAttr(c, "ports"); v != "" {
			if m, err := strconv.Atoi(v); err == nil && m > 0 {
				n = m
			}
		}
		ctls = append(ctls, &ctl{idx: uint(c.Index), used: make([]bool, n)})
	}
	// The address set keeps its controllers by index
	// (virDomainVirtioSerialAddrPlaceController), whatever their order
	// in the definition.
	slices.SortFunc(ctls, func(x, y *ctl) int { return int(x.idx) - int(y.idx) })
	virtio := func(list []*conf.Chardev) []*conf.Chardev {
		var out []*conf.Chardev
		for _, c := range list {
			if c.TargetType == "virtio" {
				out = append(out, c)
			}
		}
		return out
	}
	consoles, channels := virtio(ds.Consoles), virtio(ds.Channels)
	for _, c := range append(append([]*conf.Chardev{}, consoles...), channels...) {
		a := conf.DeviceAddress(c)
		if a.Type != "virtio-serial" || a.Port == "" || a.Port == "0" {
			continue
		}
		n, err := strconv.Atoi(a.Port)
		k := find(a.Controller)
		if err != nil || k == nil || n < 0 || n >= len(k.used) {
			return xmlError("virtio serial port %s of controller %d is not available", a.Port, a.Controller)
		}
		if k.used[n] {
			return xmlError("virtio serial port %d on controller %d is already occupied", n, a.Controller)
		}
		k.used[n] = true
	}
	next := func(from int) (uint, int, bool) {
		for _, k := range ctls {
			for port := from; port < len(k.used); port++ {
				if !k.used[port] {
					k.used[port] = true
					return k.idx, port, true
				}
			}
		}
		return 0, 0, false
	}
	autoadd := func(first int) (uint, int) {
		idx := 0
		for p.controller("virtio-serial", idx) != nil {
			idx++
		}
		p.addController("virtio-serial", idx, "")
		k := &ctl{idx: uint(idx), used: make([]bool, defaultVirtioSerialPorts)}
		k.used[first] = true
		ctls = append(ctls, k)
		return k.idx, first
	}
	for _, c := range consoles {
		if a := conf.DeviceAddress(c); a.Type == "virtio-serial" && a.Port != "" && a.Port != "0" {
			continue
		}
		if _, _, ok := next(0); !ok {
			autoadd(0)
		}
	}
	for _, c := range channels {
		a := conf.DeviceAddress(c)
		switch {
		case a.Type == "virtio-serial" && a.Port != "" && a.Port != "0":
			continue
		case a.Type == "virtio-serial":
			// The controller is given: its first free port from 1.
			k := find(a.Controller)
			if k == nil {
				return internalError("virtio-serial controller %d not available", a.Controller)
			}
			port := 0
			for n := 1; n < len(k.used); n++ {
				if !k.used[n] {
					port = n
					break
				}
			}
			if port == 0 {
				return xmlError("Unable to find a free port on virtio-serial controller %d", a.Controller)
			}
			k.used[port] = true
			conf.SetDeviceAddress(c, conf.Address{Type: "virtio-serial", Controller: a.Controller, Port: strconv.Itoa(port)})
		case a.Type == "":
			idx, port, ok := next(1)
			if !ok {
				idx, port = autoadd(1)
			}
			conf.SetDeviceAddress(c, conf.Address{Type: "virtio-serial", Controller: idx, Port: strconv.Itoa(port)})
		}
	}
	return nil
}
