package command

import (
	"strings"

	"govirt/conf"
)

// virtioOptAttrs are the <driver> attributes every virtio device takes
// (libvirt's virDomainVirtioOptions), in the order their QEMU properties
// follow the driver name: iommu_platform, ats, packed, page-per-vq.
var virtioOptAttrs = []struct{ attr, prop string }{
	{"iommu", "iommu_platform"},
	{"ats", "ats"},
	{"packed", "packed"},
	{"page_per_vq", "page-per-vq"},
}

// virtioOptNames lists the attributes for check.go's allowlist.
func virtioOptNames() []string {
	out := make([]string, len(virtioOptAttrs))
	for i, o := range virtioOptAttrs {
		out[i] = o.attr
	}
	return out
}

// tristate reads an on/off attribute the way libvirt's parser does: absent
// is nil, anything but on/off is its XML error.
func tristate(e *conf.Element, name string) (*bool, error) {
	v, ok := "", false
	if e != nil {
		v, ok = e.Attr(name)
	}
	if !ok {
		return nil, nil
	}
	switch v {
	case "on":
		t := true
		return &t, nil
	case "off":
		f := false
		return &f, nil
	}
	return nil, xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", name, e.Name(), v)
}

// virtioOpts appends the virtio transport options of drv (a device's
// <driver>, may be nil) to o, as qemuBuildVirtioDevProps does right
// after the driver name.
func virtioOpts(o obj, drv *conf.Element) (obj, error) {
	for _, a := range virtioOptAttrs {
		v, err := tristate(drv, a.attr)
		if err != nil {
			return nil, err
		}
		if v != nil {
			o = o.set(a.prop, *v)
		}
	}
	return o, nil
}

// noVirtioOpts refuses virtio transport options on a device that is not
// a virtio device, with libvirt's messages (virDomainCheckVirtioOptionsAreAbsent).
func noVirtioOpts(drv *conf.Element) error {
	for _, a := range virtioOptAttrs {
		v, err := tristate(drv, a.attr)
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		if a.attr == "page_per_vq" {
			return unsupported("page_per_vq option is only supported for virtio devices")
		}
		return unsupported("%s driver option is only supported for virtio devices", a.attr)
	}
	return nil
}

// virtioModel splits a libvirt virtio model name ("virtio",
// "virtio-transitional", "virtio-non-transitional") into whether it is
// one and the suffix its PCI device type takes.
func virtioModel(model string) (ok bool, suffix string) {
	switch model {
	case "virtio":
		return true, ""
	case "virtio-transitional":
		return true, "-transitional"
	case "virtio-non-transitional":
		return true, "-non-transitional"
	}
	return false, ""
}

// virtioDevice starts the -device properties of a virtio PCI device: the
// type named from base ("virtio-net") and the model's (non-)transitional
// suffix, then the transport options of drv.
func (b *builder) virtioDevice(base, model string, drv *conf.Element) (obj, error) {
	name, err := b.virtioTypeName(base, model)
	if err != nil {
		return nil, err
	}
	return virtioOpts(obj{}.set("driver", name), drv)
}

// virtioTypeName is the PCI device type of a virtio device of the given
// base name and libvirt model (qemuBuildVirtioDevGetConfig).
func (b *builder) virtioTypeName(base, model string) (string, error) {
	_, suffix := virtioModel(model)
	name := base + "-pci"
	if suffix != "" {
		if b.caps.Has("virtio-pci-non-transitional") || b.caps.HasType(name+suffix) {
			name += suffix
		} else if suffix == "-non-transitional" {
			return "", unsupported("virtio non-transitional model not supported for this qemu")
		}
	}
	return name, nil
}

// withVirtioOpts inserts the transport options of drv right after the
// "driver" property of o, where libvirt puts them on every virtio
// device; a device type not starting with "virtio-"/"vhost-" refuses them.
func withVirtioOpts(o obj, drv *conf.Element) (obj, error) {
	d, _ := o.get("driver")
	if s, _ := d.(string); !strings.HasPrefix(s, "virtio-") && !strings.HasPrefix(s, "vhost-") {
		return o, noVirtioOpts(drv)
	}
	opts, err := virtioOpts(nil, drv)
	if err != nil || len(opts) == 0 || len(o) == 0 {
		return o, err
	}
	out := append(obj{o[0]}, opts...)
	return append(out, o[1:]...), nil
}

// deviceDriver is the <driver> child of a typed device, nil without one.
func deviceDriver(dev any) *conf.Element { return child(conf.DeviceElement(dev), "driver") }

// virtioInputTypes maps <input type> on bus virtio to its device base name.
var virtioInputTypes = map[string]string{"mouse": "virtio-mouse", "keyboard": "virtio-keyboard",
	"tablet": "virtio-tablet", "passthrough": "virtio-input-host"}

// emitVirtioInput writes a virtio input device (qemuBuildInputVirtioDevProps).
func (b *builder) emitVirtioInput(in *conf.Input) error {
	e := conf.DeviceElement(in)
	switch m := attr(e, "model"); m {
	case "", "virtio":
	case "virtio-transitional", "virtio-non-transitional":
		return unsupported("virtio (non-)transitional models are not supported for input type=%s", in.Type)
	default:
		return xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "model", "input", m)
	}
	base := virtioInputTypes[in.Type]
	if base == "" {
		return unsupportedValue("devices/input", "type", in.Type)
	}
	a := conf.DeviceAddress(in)
	if a.Type != "pci" {
		return unsupported("virtio input %s needs a PCI address", in.Type)
	}
	o, err := b.virtioDevice(base, "virtio", child(e, "driver"))
	if err != nil {
		return err
	}
	o = o.set("id", attr(child(e, "alias"), "name"))
	if in.Type == "passthrough" {
		ev := attr(child(e, "source"), "evdev")
		if ev == "" {
			return xmlError("Missing evdev path for input device passthrough")
		}
		o = o.set("evdev", ev)
	}
	b.device(b.pciProps(o, a))
	return nil
}

// virtioInputPCIDevs are the virtio inputs for PCI address assignment,
// which libvirt places after the videos.
func (b *builder) virtioInputPCIDevs() []pciDev {
	var out []pciDev
	for _, in := range b.def.Devices.Inputs {
		if in.Bus == "virtio" {
			g, s := rawAddr(in)
			out = append(out, pciDev{"input " + in.Type, g, s, true})
		}
	}
	return out
}
