package command

import (
	"govirt/conf"
	"strconv"
)

// Memory devices (<devices><memory model='dimm|nvdimm'>): a backend per
// device and the pc-dimm/nvdimm -device (qemuBuildMemoryDeviceCommandLine).

type memDevice struct {
	memDev
	slot      int // -1 until assigned; DIMMs only
	blockKiB  uint64
	reqKiB    uint64
	raw       *conf.RawDevice // the live definition's view, for its PCI address
	base      string
	labelKiB  uint64
	readonly  bool
	deviceDev string
}

var memAliasPrefix = map[string]string{
	"dimm": "dimm", "nvdimm": "nvdimm", "virtio-pmem": "virtiopmem", "virtio-mem": "virtiomem", "sgx-epc": "epc",
}

func (b *builder) memoryDevices() ([]*memDevice, error) {
	if b.memDevs != nil {
		return *b.memDevs, nil
	}
	var out []*memDevice
	used := map[int]bool{}
	raws := b.def.RawDevicesOf("memory")
	for i, e := range children(child(b.tree(), "devices"), "memory") {
		model := attr(e, "model")
		switch model {
		case "dimm", "nvdimm", "virtio-pmem", "virtio-mem":
		case "sgx-epc":
			return nil, unsupportedValue("devices/memory", "model", model)
		default:
			return nil, xmlError("Invalid value for attribute 'model' in element 'memory': '%s'.", model)
		}
		d := &memDevice{memDev: memDev{model: model, targetNode: -1, access: attr(e, "access"), discard: attr(e, "discard")}, slot: -1}
		d.alias = attr(child(e, "alias"), "name")
		if i < len(raws) {
			d.raw = raws[i]
		}
		src := child(e, "source")
		var err error
		if ns := child(src, "nodemask"); ns != nil {
			if d.sourceNodes, err = conf.ParseBitmap(ns.Text()); err != nil {
				return nil, err
			}
		}
		if ps := child(src, "pagesize"); ps != nil {
			unit := attr(ps, "unit")
			if unit == "" {
				unit = "KiB"
			}
			if d.pagesize, err = scaled(ps.Text(), unit, 1024); err != nil {
				return nil, err
			}
		}
		if p := child(src, "path"); p != nil {
			d.nvdimmPath = p.Text()
		}
		d.pmem = child(src, "pmem") != nil
		if al := child(src, "alignsize"); al != nil {
			if d.alignKiB, err = scaled(al.Text(), attr(al, "unit"), 1024); err != nil {
				return nil, err
			}
		}
		tg := child(e, "target")
		sz := child(tg, "size")
		if sz == nil {
			return nil, xmlError("missing memory device size")
		}
		if d.sizeKiB, err = scaled(sz.Text(), attr(sz, "unit"), 1024); err != nil {
			return nil, err
		}
		// qemuDomainAlignMemorySizes: DIMM modules to 2 MiB on x86.
		d.sizeKiB = (d.sizeKiB + 2047) / 2048 * 2048
		if n := child(tg, "node"); n != nil {
			if d.targetNode, err = strconv.Atoi(n.Text()); err != nil {
				return nil, xmlError("invalid value of memory device node")
			}
		}
		if ls := child(tg, "label", "size"); ls != nil {
			if d.labelKiB, err = scaled(ls.Text(), attr(ls, "unit"), 1024); err != nil {
				return nil, err
			}
		}
		d.readonly = child(tg, "readonly") != nil
		for _, x := range []struct {
			name string
			v    *uint64
		}{{"block", &d.blockKiB}, {"requested", &d.reqKiB}} {
			if el := child(tg, x.name); el != nil {
				unit := attr(el, "unit")
				if unit == "" {
					unit = "KiB"
				}
				if *x.v, err = scaled(el.Text(), unit, 1024); err != nil {
					return nil, err
				}
			}
		}
		virtio := model == "virtio-pmem" || model == "virtio-mem"
		if ad := child(e, "address"); ad != nil && virtio {
			if t := attr(ad, "type"); t != "pci" {
				return nil, unsupported("only 'pci' addresses are supported for the %s device", model)
			}
		} else if ad != nil {
			if t := attr(ad, "type"); t != "dimm" {
				return nil, unsupported("memory device cannot have an address of type '%s'", t)
			}
			if s := attr(ad, "slot"); s != "" {
				if d.slot, err = strconv.Atoi(s); err != nil {
					return nil, xmlError("invalid dimm slot '%s'", s)
				}
				used[d.slot] = true
			}
			d.base = attr(ad, "base")
		}
		if (d.model == "nvdimm" || d.model == "virtio-pmem") && d.nvdimmPath == "" {
			return nil, xmlError("path is required for model '%s'", d.model)
		}
		if d.model == "virtio-mem" && (d.blockKiB == 0 || d.reqKiB > d.sizeKiB) {
			if d.blockKiB == 0 {
				return nil, xmlError("missing block size for model 'virtio-mem'")
			}
			return nil, unsupported("requested size must be smaller than or equal to @size")
		}
		out = append(out, d)
	}
	// qemuDomainAssignMemorySlots: the lowest free slot.
	next := 0
	counts := map[string]int{}
	for _, d := range out {
		if d.model == "virtio-pmem" || d.model == "virtio-mem" {
			// On PCI: no slot, numbered per model.
			if d.alias == "" {
				d.alias = memAliasPrefix[d.model] + strconv.Itoa(counts[d.model])
			}
			counts[d.model]++
			continue
		}
		if d.slot >= 0 {
			continue
		}
		for used[next] {
			next++
		}
		d.slot = next
		used[next] = true
	}
	// qemuDeviceMemoryGetAliasID: a DIMM's alias is numbered by its slot.
	for _, d := range out {
		if d.alias == "" {
			d.alias = memAliasPrefix[d.model] + strconv.Itoa(d.slot)
		}
	}
	if err := b.checkMemoryHotplug(out); err != nil {
		return nil, err
	}
	b.memDevs = &out
	return out, nil
}

func (b *builder) emitMemoryDevices() error {
	devs, err := b.memoryDevices()
	if err != nil {
		return err
	}
	for _, d := range devs {
		props, _, err := b.backendProps("mem"+d.alias, &d.memDev, true, false)
		if err != nil {
			return err
		}
		b.object(b.threadContext(props))
		o, err := b.memDeviceProps(d)
		if err != nil {
			return err
		}
		b.device(o)
	}
	return nil
}

// checkMemoryHotplug is virDomainMemoryDefValidate's node check and
// qemuDomainDefValidateMemoryHotplug.
func (b *builder) checkMemoryHotplug(devs []*memDevice) error {
	ncells := b.numaCells()
	for _, d := range devs {
		if d.targetNode >= 0 {
			if ncells == 0 {
				return xmlDetail("can't add memory backend as guest has no NUMA nodes configured")
			}
			if d.targetNode >= ncells {
				return xmlDetail("can't add memory backend for guest node '%d' as the guest has only '%d' NUMA nodes configured", d.targetNode, ncells)
			}
		}
	}
	if b.def.MaxMemory == 0 || b.def.MaxMemSlots == 0 {
		if len(devs) > 0 {
			return unsupported("cannot use/hotplug a memory device when domain 'maxMemory' is not defined")
		}
		return nil
	}
	if ncells == 0 {
		return unsupported("At least one numa node has to be configured when enabling memory hotplug")
	}
	if uint(len(devs)) > b.def.MaxMemSlots {
		return unsupported("memory device count '%d' exceeds slots count '%d'", len(devs), b.def.MaxMemSlots)
	}
	var total uint64
	for _, d := range devs {
		if d.targetNode == -1 && d.model != "virtio-pmem" {
			return unsupported("target NUMA node needs to be specified for memory device")
		}
		if d.slot >= 0 && uint(d.slot) >= b.def.MaxMemSlots {
			return unsupported("memory device slot '%d' exceeds slots count '%d'", d.slot, b.def.MaxMemSlots)
		}
		total += d.sizeKiB
	}
	initial, err := b.memoryInitialKiB()
	if err != nil {
		return err
	}
	if total > b.def.MaxMemory-min(initial, b.def.MaxMemory) {
		return unsupported("memory device total size exceeds hotplug space")
	}
	return nil
}

// memDeviceProps is the -device (or device_add) of a memory device
// (qemuBuildMemoryDeviceProps); it records the alias and DIMM slot in the
// live definition.
func (b *builder) memDeviceProps(d *memDevice) (obj, error) {
	drv := map[string]string{"dimm": "pc-dimm", "nvdimm": "nvdimm",
		"virtio-pmem": "virtio-pmem-pci", "virtio-mem": "virtio-mem-pci"}[d.model]
	o := obj{}.set("driver", drv)
	if d.targetNode >= 0 {
		o = o.set("node", d.targetNode)
	}
	if d.labelKiB > 0 {
		o = o.set("label-size", d.labelKiB*1024)
	}
	if d.blockKiB > 0 {
		o = o.set("block-size", d.blockKiB*1024)
	}
	if d.reqKiB > 0 {
		o = o.set("requested-size", d.reqKiB*1024)
	}
	if d.readonly {
		o = o.set("unarmed", true)
	}
	o = o.set("memdev", "mem"+d.alias)
	if d.model == "virtio-mem" && b.caps.Has("virtio-mem-pci.prealloc") {
		// virtio-mem preallocates itself, when the backend would.
		m, err := b.memoryBacking()
		if err != nil {
			return nil, err
		}
		if _, _, _, prealloc, err := b.pagesize(m, &d.memDev); err != nil {
			return nil, err
		} else if prealloc {
			o = o.set("prealloc", true)
		}
	}
	o = o.set("id", d.alias)
	if d.raw != nil {
		// The live definition names the device as libvirt's does.
		conf.SetDeviceValue(d.raw, "alias/@name", d.alias)
		if d.model == "dimm" || d.model == "nvdimm" {
			if conf.DeviceAddress(d.raw).Type == "" {
				conf.SetDeviceValue(d.raw, "address/@type", "dimm")
				conf.SetDeviceValue(d.raw, "address/@slot", strconv.Itoa(d.slot))
			}
		}
	}
	switch d.model {
	case "dimm", "nvdimm":
		o = o.set("slot", d.slot)
		if d.base != "" {
			n, err := strconv.ParseUint(d.base, 0, 64)
			if err != nil {
				return nil, xmlError("invalid dimm base address '%s'", d.base)
			}
			o = o.set("addr", n)
		}
	default:
		if d.raw != nil {
			o = b.pciProps(o, conf.DeviceAddress(d.raw))
		}
	}
	return o, nil
}
