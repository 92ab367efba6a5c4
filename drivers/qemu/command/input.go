package command

import (
	"govirt/conf"
)

// inputUSBDrivers are the USB HID devices by input type.
var inputUSBDrivers = map[string]string{"tablet": "usb-tablet", "mouse": "usb-mouse", "keyboard": "usb-kbd"}

// checkInput validates an input device as libvirt does
// (virDomainInputDefParseXML, qemuValidateDomainInputDef).
func (b *builder) checkInput(in *conf.Input) error {
	e := conf.DeviceElement(in)
	model := attr(e, "model")
	switch in.Type {
	case "evdev":
		if attr(child(e, "source"), "dev") == "" {
			return unsupported("Missing evdev path for input device")
		}
		return nil
	case "passthrough":
		if in.Bus != "virtio" {
			return unsupported("only bus 'virtio' is supported for 'passthrough' input devices")
		}
		if attr(child(e, "source"), "evdev") == "" {
			return unsupported("Missing evdev path for input device passthrough")
		}
	case "tablet", "mouse", "keyboard":
	default:
		return unsupportedValue("devices/input", "type", in.Type)
	}
	switch in.Bus {
	case "ps2":
		if in.Type == "tablet" {
			return unsupported("ps2 bus does not support %s input device", in.Type)
		}
	case "usb", "virtio":
	default:
		return unsupportedValue("devices/input", "bus", in.Bus)
	}
	switch model {
	case "", "virtio":
	case "virtio-transitional", "virtio-non-transitional":
		// Only a virtio input device would take them.
		if in.Bus == "virtio" {
			return unsupported("virtio (non-)transitional models are not supported for input type=%s", in.Type)
		}
	default:
		return unsupportedValue("devices/input", "model", model)
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
		if sr.TargetType == "pci-serial" {
			g, s := rawAddr(sr)
			out = append(out, pciDev{"serial " + sr.Alias, g, s, false})
		}
	}
	return out
}
