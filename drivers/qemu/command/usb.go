package command

import (
	"strconv"

	"govirt/conf"
	"govirt/virerr"
)

// xhciMaxPorts is libvirt's QEMU_USB_XHCI_MAXPORTS.
const xhciMaxPorts = 15

// isUSB2 reports an ICH9 EHCI controller or one of its UHCI companions,
// which share one index (and one PCI slot) as a group.
func isUSB2(c *conf.Controller) bool {
	switch c.Model {
	case "ich9-ehci1", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3":
		return c.Type == "usb"
	}
	return false
}

// usbMaster is the <master startport> of a USB companion controller, or
// -1 when c is a master itself.
func usbMaster(c *conf.Controller) (int, error) {
	m := child(conf.DeviceElement(c), "master")
	if m == nil {
		return -1, nil
	}
	sp := attr(m, "startport")
	n, err := strconv.ParseUint(sp, 10, 31)
	if err != nil {
		return 0, unsupported("Cannot parse <master> 'startport' attribute")
	}
	return int(n), nil
}

// usbControllerProps is qemuBuildUSBControllerDevProps: p2/p3 for the
// XHCI port count, and a companion names its master's bus instead of
// having an id.
func (b *builder) usbControllerProps(c *conf.Controller, drv string) (obj, error) {
	o := obj{}.set("driver", drv)
	if p := attr(conf.DeviceElement(c), "ports"); p != "" {
		n, err := strconv.ParseUint(p, 10, 31)
		if err != nil {
			return nil, unsupportedValue("devices/controller", "ports", p)
		}
		if c.Model != "qemu-xhci" && c.Model != "nec-xhci" {
			return nil, unsupported("usb controller type '%s' doesn't support 'ports' with this QEMU binary", c.Model)
		}
		if n > xhciMaxPorts {
			return nil, unsupported("'%s' controller only supports up to '%d' ports", c.Model, xhciMaxPorts)
		}
		o = o.set("p2", n).set("p3", n)
	}
	start, err := usbMaster(c)
	if err != nil {
		return nil, err
	}
	if start < 0 {
		return o.set("id", c.Alias), nil
	}
	master := ""
	for _, m := range b.def.Devices.Controllers {
		if m.Type == "usb" && m.Index == c.Index {
			if s, _ := usbMaster(m); s < 0 {
				master = m.Alias
				break
			}
		}
	}
	if master == "" {
		return nil, virerr.New(virerr.FromQemu, virerr.ErrInternalError, "masterbus not found")
	}
	return o.set("masterbus", master+".0").set("firstport", start), nil
}

// usbRoot is the USB controller devices plug into: the master of index
// 0 (with USB2 companions, the EHCI).
func (b *builder) usbRoot() *conf.Controller {
	for _, c := range b.def.Devices.Controllers {
		if c.Type == "usb" && c.Index == 0 {
			if s, _ := usbMaster(c); s < 0 {
				return c
			}
		}
	}
	return nil
}

// emitRedirdevs writes USB redirection over SPICE (qemuBuildRedirdevCommandLine):
// a spicevmc chardev named usbredir and a usb-redir device on the USB bus.
func (b *builder) emitRedirdevs() error {
	for _, r := range b.def.Devices.RedirDevs {
		alias := attr(child(conf.DeviceElement(r), "alias"), "name")
		if r.Bus != "usb" {
			return unsupportedValue("devices/redirdev", "bus", r.Bus)
		}
		if r.Type != "spicevmc" {
			return unsupported("redirdev type '%s' is not supported by govirt's QEMU driver", r.Type)
		}
		id := "char" + alias
		if alias == "" {
			return unsupported("redirdev without an alias")
		}
		b.add("-chardev", "spicevmc,id="+id+",name=usbredir")
		usb := b.usbRoot()
		if usb == nil || usb.Model == "none" {
			return unsupported("USB is disabled for this domain, but USB devices are present in the domain XML")
		}
		a := conf.DeviceAddress(r)
		switch a.Type {
		case "":
			// After the inputs' and USB sound cards' ports, as libvirt
			// numbers them.
			a = conf.Address{Type: "usb", Port: strconv.Itoa(b.nextUSBPort())}
			conf.SetDeviceAddress(r, a)
		case "usb":
			if a.Bus != 0 {
				return unsupported("USB bus %d is not supported by govirt's QEMU driver", a.Bus)
			}
		default:
			return unsupported("redirdev %s cannot have an address of type '%s'", alias, a.Type)
		}
		b.device(obj{}.set("driver", "usb-redir").set("chardev", id).set("id", alias).
			set("bus", usb.Alias+".0").set("port", a.Port))
	}
	return nil
}
