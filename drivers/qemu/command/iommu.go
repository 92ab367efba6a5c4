package command

import "strconv"

// <devices><iommu model='intel'>: the intel-iommu device after -boot
// (qemuBuildIOMMUCommandLine) with libvirt's checks
// (virDomainIOMMUDefValidate, virDomainDefIOMMUValidate,
// qemuValidateDomainDeviceDefIOMMU). The virtio IOMMU, a PCI device, is
// checked but not implemented.

func (b *builder) emitIOMMU() error {
	devs := child(b.def.Tree(), "devices")
	var e = child(devs, "iommu")
	if e == nil {
		if b.def.VCPUs > 255 {
			if !b.q35 {
				return unsupported("more than 255 vCPUs are only supported on q35-based machine types")
			}
			return unsupported("more than 255 vCPUs require extended interrupt mode enabled on the iommu device")
		}
		return nil
	}
	if len(devs.Children("iommu")) > 1 {
		return xmlError("only a single IOMMU device is supported")
	}
	model := attr(e, "model")
	drv := child(e, "driver")
	opts := map[string]string{}
	for _, a := range []string{"intremap", "caching_mode", "eim", "iotlb", "aw_bits"} {
		if v := attr(drv, a); v != "" {
			opts[a] = v
		}
	}
	addr := child(e, "address")
	switch model {
	case "intel":
		if addr != nil {
			return xmlError("iommu model 'intel' can't have address")
		}
	case "virtio":
		if len(opts) > 0 {
			return xmlError("iommu model 'virtio' doesn't support additional attributes")
		}
	case "smmuv3":
		return unsupported("IOMMU device: 'smmuv3' is only supported with ARM Virt machines")
	default:
		return xmlError("Invalid value for attribute 'model' in element 'iommu': '%s'.", model)
	}
	ioapic := attr(b.feature("ioapic"), "driver")
	if opts["intremap"] == "on" && ioapic != "qemu" {
		return unsupported("IOMMU interrupt remapping requires split I/O APIC (ioapic driver='qemu')")
	}
	if opts["eim"] == "on" && opts["intremap"] != "on" {
		return unsupported("IOMMU eim requires interrupt remapping to be enabled")
	}
	if b.def.VCPUs > 255 && (!b.q35 || opts["eim"] != "on") {
		if !b.q35 {
			return unsupported("more than 255 vCPUs are only supported on q35-based machine types")
		}
		return unsupported("more than 255 vCPUs require extended interrupt mode enabled on the iommu device")
	}
	if model == "virtio" {
		if !b.q35 {
			return unsupported("IOMMU device: 'virtio' is only supported with Q35 and ARM Virt machines")
		}
		if !b.caps.Has("virtio-iommu-pci") || !b.caps.Has("virtio-iommu.boot-bypass") {
			return unsupported("IOMMU device: 'virtio' is not supported with this QEMU binary")
		}
		if b.feature("acpi") == nil {
			return unsupported("IOMMU device: 'virtio' requires ACPI")
		}
		if addr != nil && attr(addr, "type") != "pci" {
			return unsupported("IOMMU device: 'virtio' needs a PCI address")
		}
		if addr != nil {
			if bus := attr(addr, "bus"); bus != "" && bus != "0" && bus != "0x0" && bus != "0x00" {
				bn, _ := strconv.ParseUint(bus, 0, 64)
				dom, _ := strconv.ParseUint(orZero(attr(addr, "domain")), 0, 64)
				slot, _ := strconv.ParseUint(orZero(attr(addr, "slot")), 0, 64)
				fn, _ := strconv.ParseUint(orZero(attr(addr, "function")), 0, 64)
				return xmlError("The device at PCI address %04x:%02x:%02x.%x needs to be an integrated device (bus=0)", dom, bn, slot, fn)
			}
		}
		return unsupported("IOMMU device: 'virtio' is not supported by govirt's QEMU driver")
	}
	if !b.q35 {
		return unsupported("IOMMU device: 'intel' is only supported with Q35 machines")
	}
	if !b.caps.Has("intel-iommu") {
		return unsupported("IOMMU device: 'intel' is not supported with this QEMU binary")
	}
	for _, c := range []struct{ opt, flag, what string }{
		{"intremap", "intel-iommu.intremap", "interrupt remapping"},
		{"caching_mode", "intel-iommu.caching-mode", "caching mode"},
		{"eim", "intel-iommu.eim", "eim"},
		{"iotlb", "intel-iommu.device-iotlb", "device IOTLB"},
		{"aw_bits", "intel-iommu.aw-bits", "aw_bits"},
	} {
		if opts[c.opt] != "" && !b.caps.Has(c.flag) {
			return unsupported("iommu: %s is not supported with this QEMU binary", c.what)
		}
	}
	for _, a := range []string{"intremap", "caching_mode", "eim", "iotlb"} {
		switch opts[a] {
		case "", "on", "off":
		default:
			return xmlError("Invalid value for attribute '%s' in element 'driver': '%s'. Expected on/off", a, opts[a])
		}
	}
	alias := attr(child(e, "alias"), "name")
	if alias == "" {
		alias = "iommu0"
	}
	o := obj{}.set("driver", "intel-iommu").set("id", alias)
	if v := opts["intremap"]; v != "" {
		o = o.set("intremap", v)
	}
	if v := opts["caching_mode"]; v != "" {
		o = o.set("caching-mode", v == "on")
	}
	if v := opts["eim"]; v != "" {
		o = o.set("eim", v)
	}
	if v := opts["iotlb"]; v != "" {
		o = o.set("device-iotlb", v == "on")
	}
	if v := opts["aw_bits"]; v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return xmlError("Invalid value for attribute 'aw_bits' in element 'driver': '%s'.", v)
		}
		o = o.set("aw-bits", n)
	}
	b.device(o)
	return nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
