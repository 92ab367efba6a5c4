package command

import (
	"govirt/conf"
)

// virtioProps starts the properties of a virtio PCI device of base name
// base ("virtio-rng", "virtio-balloon") with the options of its <driver>
// (qemuBuildVirtioDevProps): the -transitional/-non-transitional variant
// the model asks for, then iommu_platform, ats, packed and page-per-vq.
func virtioProps(base, variant string, e *conf.Element) (obj, error) {
	drv := base + "-pci"
	switch variant {
	case "":
	case "transitional", "non-transitional":
		drv = base + "-pci-" + variant
	default:
		return nil, unsupported("unknown virtio model variant '%s'", variant)
	}
	o := obj{}.set("driver", drv)
	d := child(e, "driver")
	for _, opt := range []struct{ attr, prop string }{{"iommu", "iommu_platform"}, {"ats", "ats"},
		{"packed", "packed"}, {"page_per_vq", "page-per-vq"}} {
		switch v := attr(d, opt.attr); v {
		case "":
		case "on":
			o = o.set(opt.prop, true)
		case "off":
			o = o.set(opt.prop, false)
		default:
			return nil, unsupportedValue(e.Name()+"/driver", opt.attr, v)
		}
	}
	return o, nil
}

// inputUSBDrivers are the USB HID devices by input type.
var inputUSBDrivers = map[string]string{"tablet": "usb-tablet", "mouse": "usb-mouse", "keyboard": "usb-kbd"}

// inputVirtioBase are the virtio input devices by input type.
var inputVirtioBase = map[string]string{"tablet": "virtio-tablet", "mouse": "virtio-mouse",
	"keyboard": "virtio-keyboard", "passthrough": "virtio-input-host"}

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
			o, err = virtioProps(inputVirtioBase[in.Type], "", e)
			if err == nil {
				o = o.set("id", alias)
				if in.Type == "passthrough" {
					o = o.set("evdev", attr(child(e, "source"), "evdev"))
				}
				o = b.pciProps(o, conf.DeviceAddress(in))
			}
		}
		if err != nil {
			return err
		}
		b.device(o)
	}
	return nil
}

// chrPCIDevices are the input and serial devices on PCI, in libvirt's
// assignment order: virtio inputs, then pci-serial ports.
func (b *builder) chrPCIDevices() []pciDev {
	var out []pciDev
	for _, in := range b.def.Devices.Inputs {
		if in.Bus == "virtio" {
			g, s := rawAddr(in)
			out = append(out, pciDev{"input", g, s, true})
		}
	}
	for _, sr := range b.def.Devices.Serials {
		if sr.TargetType == "pci-serial" {
			g, s := rawAddr(sr)
			out = append(out, pciDev{"serial " + sr.Alias, g, s, false})
		}
	}
	return out
}
