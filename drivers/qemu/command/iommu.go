package command

import (
	"strconv"

	"govirt/conf"
)

// The <iommu> device: intel-iommu (q35 only, no PCI address: it is part
// of the machine) or virtio-iommu, an integrated endpoint on pcie.0.

// iommu is the domain's <iommu>, nil without one.
func (b *builder) iommu() (*conf.RawDevice, error) {
	l := b.def.RawDevicesOf("iommu")
	if len(l) > 1 {
		return nil, unsupported("only a single IOMMU device is supported")
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l[0], nil
}

// iommuIntelOpts are <driver> attributes of the intel model, with their
// QEMU property; on/off/auto ones pass the string, the others a bool.
var iommuIntelOpts = []struct {
	attr, prop, cap string
	str             bool
}{
	{"intremap", "intremap", "intel-iommu.intremap", true},
	{"caching_mode", "caching-mode", "intel-iommu.caching-mode", false},
	{"eim", "eim", "intel-iommu.eim", true},
	{"iotlb", "device-iotlb", "intel-iommu.device-iotlb", false},
}

// iommuCapErrors are libvirt's messages for intel options the binary lacks.
var iommuCapErrors = map[string]string{
	"intremap":     "iommu: interrupt remapping is not supported with this QEMU binary",
	"caching_mode": "iommu: caching mode is not supported with this QEMU binary",
	"eim":          "iommu: eim is not supported with this QEMU binary",
	"iotlb":        "iommu: device IOTLB is not supported with this QEMU binary",
}

// checkIOMMU applies libvirt's validation (virDomainIOMMUDefValidate,
// virDomainDefIOMMUValidate, qemuValidateDomainDeviceDefIOMMU).
func (b *builder) checkIOMMU(dev *conf.RawDevice) error {
	e := conf.DeviceElement(dev)
	model := attr(e, "model")
	drv := child(e, "driver")
	for _, o := range iommuIntelOpts {
		if _, err := tristate(drv, o.attr); err != nil {
			return err
		}
	}
	hasOpts := false
	for _, a := range []string{"intremap", "caching_mode", "eim", "iotlb", "aw_bits"} {
		if attr(drv, a) != "" {
			hasOpts = true
		}
	}
	switch model {
	case "intel":
	case "virtio", "smmuv3":
		if hasOpts {
			return xmlError("iommu model '%s' doesn't support additional attributes", model)
		}
	default:
		return xmlError("unknown IOMMU model '%s'", model)
	}
	if attr(drv, "intremap") == "on" && attr(child(b.tree(), "features", "ioapic"), "driver") != "qemu" {
		return unsupported("IOMMU interrupt remapping requires split I/O APIC (ioapic driver='qemu')")
	}
	if attr(drv, "eim") == "on" && attr(drv, "intremap") != "on" {
		return unsupported("IOMMU eim requires interrupt remapping to be enabled")
	}
	switch model {
	case "intel":
		if !b.q35 {
			return unsupported("IOMMU device: '%s' is only supported with Q35 machines", model)
		}
		if !b.caps.Has("intel-iommu") {
			return unsupported("IOMMU device: '%s' is not supported with this QEMU binary", model)
		}
	case "smmuv3":
		return unsupported("IOMMU device: '%s' is only supported with ARM Virt machines", model)
	case "virtio":
		if !b.q35 {
			return unsupported("IOMMU device: '%s' is only supported with Q35 and ARM Virt machines", model)
		}
		if !b.caps.Has("virtio-iommu-pci") || !b.caps.Has("virtio-iommu.boot-bypass") {
			return unsupported("IOMMU device: '%s' is not supported with this QEMU binary", model)
		}
		if !hasFeature(b.def, "acpi") {
			return unsupported("IOMMU device: '%s' requires ACPI", model)
		}
		if t := conf.DeviceAddress(dev).Type; t != "" && t != "pci" {
			return unsupported("IOMMU device: '%s' needs a PCI address", model)
		}
	}
	for _, o := range iommuIntelOpts {
		if attr(drv, o.attr) != "" && !b.caps.Has(o.cap) {
			return unsupported("%s", iommuCapErrors[o.attr])
		}
	}
	if attr(drv, "aw_bits") != "" && !b.caps.Has("intel-iommu.aw-bits") {
		return unsupported("iommu: aw_bits is not supported with this QEMU binary")
	}
	return nil
}

func hasFeature(d *conf.Domain, name string) bool {
	for _, f := range d.Features {
		if f == name {
			return true
		}
	}
	return false
}

// reserveIOMMU validates the IOMMU and reserves the pcie.0 slot a
// virtio-iommu was given, before other devices are placed.
func (b *builder) reserveIOMMU(sp *pciSpace) error {
	dev, err := b.iommu()
	if dev == nil || err != nil {
		return err
	}
	if err := b.checkIOMMU(dev); err != nil {
		return err
	}
	a := conf.DeviceAddress(dev)
	if attr(conf.DeviceElement(dev), "model") != "virtio" || a.Type != "pci" {
		return nil
	}
	if a.Bus != 0 {
		return xmlError("The device at PCI address %04x:%02x:%02x.%x needs to be an integrated device (bus=0)", a.Domain, a.Bus, a.Slot, a.Function)
	}
	if sp.slots[[2]uint{a.Slot, a.Function}] {
		return unsupported("iommu: PCI address 0000:00:%02x.%x is already in use", a.Slot, a.Function)
	}
	sp.take(a.Slot, a.Function)
	return nil
}

// placeIOMMU gives a virtio-iommu without an address the next free slot
// of pcie.0, after everything else, as libvirt assigns it last.
func (b *builder) placeIOMMU(sp *pciSpace) error {
	dev, _ := b.iommu()
	if dev == nil || attr(conf.DeviceElement(dev), "model") != "virtio" || conf.DeviceAddress(dev).Type != "" {
		return nil
	}
	slot, ok := sp.nextSlot()
	if !ok {
		return unsupported("no free slot on pcie.0 for the virtio-iommu")
	}
	sp.take(slot, 0)
	conf.SetDeviceAddress(dev, conf.Address{Type: "pci", Slot: slot})
	return nil
}

// emitIOMMU writes the IOMMU right after -boot, as libvirt does.
func (b *builder) emitIOMMU() error {
	dev, err := b.iommu()
	if dev == nil || err != nil {
		return err
	}
	e := conf.DeviceElement(dev)
	name := attr(e, "model")
	alias := attr(child(e, "alias"), "name")
	if alias == "" {
		alias = "iommu0"
		conf.SetDeviceValue(dev, "alias/@name", alias)
	}
	drv := child(e, "driver")
	switch name {
	case "intel":
		o := obj{}.set("driver", "intel-iommu").set("id", alias)
		for _, opt := range iommuIntelOpts {
			v, _ := tristate(drv, opt.attr)
			switch {
			case v == nil:
			case opt.str:
				o = o.set(opt.prop, attr(drv, opt.attr))
			default:
				o = o.set(opt.prop, *v)
			}
		}
		if s := attr(drv, "aw_bits"); s != "" {
			n, err := strconv.ParseUint(s, 10, 8)
			if err != nil {
				return xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "aw_bits", "driver", s)
			}
			o = o.set("aw-bits", n)
		}
		b.device(o)
	case "virtio":
		// "virtio-iommu" is QEMU's alias of virtio-iommu-pci, the type
		// checkTypes looks for.
		b.drivers = append(b.drivers, "virtio-iommu-pci")
		b.add("-device", b.pciProps(obj{}.set("driver", "virtio-iommu").set("id", alias), conf.DeviceAddress(dev)).String())
	default:
		return unsupported("IOMMU model '%s' has no device", name)
	}
	return nil
}
