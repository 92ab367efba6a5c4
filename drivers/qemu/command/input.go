package command

import (
	"govirt/conf"
	"govirt/virerr"
)

// inputUSBDrivers are the USB HID devices by input type.
var inputUSBDrivers = map[string]string{"tablet": "usb-tablet", "mouse": "usb-mouse", "keyboard": "usb-kbd"}

// checkInput validates an input device as libvirt does
// (virDomainInputDefParseXML, virDomainInputDefValidate; the virtio
// model checks of qemuValidateDomainInputDef are emitVirtioInput's).
func (b *builder) checkInput(in *conf.Input) error {
	e := conf.DeviceElement(in)
	internal := func(format string, args ...any) error {
		return virerr.New(virerr.FromDomain, virerr.ErrInternalError, format, args...)
	}
	switch in.Type {
	case "evdev", "passthrough":
		src := "dev"
		if in.Type == "passthrough" {
			src = "evdev"
		}
		if attr(child(e, "source"), src) == "" {
			return xmlError("Missing evdev path for input device")
		}
	case "tablet", "mouse", "keyboard":
	case "":
		return internal("missing input device type")
	default:
		return unsupported("unknown input device type '%s'", in.Type)
	}
	switch in.Bus {
	case "ps2":
		if in.Type != "mouse" && in.Type != "keyboard" {
			return internal("ps2 bus does not support %s input device", in.Type)
		}
	case "xen":
		return internal("unsupported input bus %s", in.Bus)
	case "usb", "virtio", "":
	default:
		return unsupported("unknown input bus type '%s'", in.Bus)
	}
	if a := conf.DeviceAddress(in); in.Bus == "usb" && a.Type != "" && a.Type != "usb" {
		return xmlError("Invalid address for a USB device")
	}
	switch {
	case in.Type == "passthrough" && in.Bus != "virtio":
		return unsupported("only bus 'virtio' is supported for 'passthrough' input devices")
	case in.Type == "evdev" && in.Bus != "":
		return unsupported("input evdev doesn't support bus element")
	case in.Type != "evdev" && in.Bus == "":
		return unsupported("input %s has no bus", in.Type)
	}
	switch model := attr(e, "model"); model {
	case "":
	case "virtio", "virtio-transitional", "virtio-non-transitional":
		if in.Bus != "virtio" {
			return unsupported("only bus 'virtio' is supported for input model '%s'", model)
		}
	default:
		return unsupported("unknown input model '%s'", model)
	}
	return nil
}

func (b *builder) emitInputs() error {
	for _, in := range b.def.Devices.Inputs {
		if err := b.checkInput(in); err != nil {
			return err
		}
		e := conf.DeviceElement(in)
		alias := attr(child(e, "alias"), "name")
		if in.Type == "evdev" {
			src := child(e, "source")
			o := obj{}.set("qom-type", "input-linux").set("id", alias).set("evdev", attr(src, "dev"))
			switch r := attr(src, "repeat"); r {
			case "on":
				o = o.set("repeat", true)
			case "off":
				o = o.set("repeat", false)
			case "":
			default:
				return unsupportedValue("devices/input/source", "repeat", r)
			}
			switch g := attr(src, "grab"); g {
			case "all":
				o = o.set("grab_all", true)
			case "":
			default:
				return unsupportedValue("devices/input/source", "grab", g)
			}
			switch t := attr(src, "grabToggle"); t {
			case "":
			case "ctrl-ctrl", "alt-alt", "shift-shift", "meta-meta", "scrolllock", "ctrl-scrolllock":
				o = o.set("grab-toggle", t)
			default:
				return unsupportedValue("devices/input/source", "grabToggle", t)
			}
			b.object(o)
			continue
		}
		var o obj
		var err error
		switch in.Bus {
		case "ps2":
			continue // part of the PC
		case "usb":
			o, err = b.usbProps(obj{}.set("driver", inputUSBDrivers[in.Type]).set("id", alias), conf.DeviceAddress(in))
		case "virtio":
			// The virtio inputs are built with the other virtio
			// devices (virtio_opts.go).
			if err := b.emitVirtioInput(in); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		b.device(o)
	}
	return nil
}

// chrPCIDevices are the pci-serial ports, which libvirt addresses after
// the virtio inputs.
func (b *builder) chrPCIDevices() []pciDev {
	var out []pciDev
	for _, sr := range b.def.Devices.Serials {
		// Another address type is refused by checkSerialTarget, with
		// libvirt's message.
		if t := conf.DeviceAddress(sr).Type; sr.TargetType == "pci-serial" && (t == "" || t == "pci") {
			g, s := rawAddr(sr)
			out = append(out, pciDev{"serial " + sr.Alias, g, s, false})
		}
	}
	return out
}
