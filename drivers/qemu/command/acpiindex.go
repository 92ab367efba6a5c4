package command

import (
	"strconv"

	"govirt/conf"
)

// <acpi index='N'/> of a PCI device: QEMU's acpi-index property, which
// names the guest's network interface or disk after it (eno<N>); it
// follows the PCI address in libvirt's property order.

// acpiDeviceKinds are the devices the builder takes an <acpi index> on.
var acpiDeviceKinds = []string{"disk", "interface", "video", "hostdev"}

// acpiIndexes maps device aliases to their ACPI index, refusing what
// libvirt refuses: an index on a non-PCI device, one used twice, or any
// where QEMU lacks the property.
func (b *builder) acpiIndexes() (map[string]uint64, error) {
	out := map[string]uint64{}
	seen := map[uint64]bool{}
	for _, devs := range kids(b.tree(), "devices") {
		for _, kind := range acpiDeviceKinds {
			for _, e := range kids(devs, kind) {
				a := child(e, "acpi")
				if a == nil {
					continue
				}
				v, err := strconv.ParseUint(attr(a, "index"), 10, 32)
				if err != nil || v == 0 {
					return nil, xmlError("Invalid value for attribute 'index' in element 'acpi': '%s'. Expected non-zero integer value", attr(a, "index"))
				}
				if v > 16383 {
					return nil, xmlError("The acpi index %d is too large. The maximum is 16383", v)
				}
				if seen[v] {
					return nil, xmlError("non unique device acpi index %d", v)
				}
				seen[v] = true
				if t := attr(child(e, "address"), "type"); t != "" && t != "pci" {
					return nil, unsupported("ACPI index is only supported for PCI devices")
				}
				if b.knowsTypes() && !b.caps.Has("acpi-index") {
					return nil, unsupported("ACPI index is not supported with this QEMU")
				}
				out[attr(child(e, "alias"), "name")] = v
			}
		}
	}
	return out, nil
}

// withACPIIndex puts a device's acpi-index right after its PCI address.
func (b *builder) withACPIIndex(o obj) obj {
	if len(b.acpiIdx) == 0 {
		return o
	}
	id, _ := o.get("id")
	s, _ := id.(string)
	v, ok := b.acpiIdx[s]
	if !ok {
		return o
	}
	for i, p := range o {
		if p.k == "addr" {
			out := append(obj{}, o[:i+1]...)
			out = append(out, kv{"acpi-index", v})
			return append(out, o[i+1:]...)
		}
	}
	return o
}

// prepareACPIIndexes reads the indexes once the aliases are known.
func (b *builder) prepareACPIIndexes() error {
	m, err := b.acpiIndexes()
	if err != nil {
		return err
	}
	b.acpiIdx = m
	return nil
}

// hotplugACPIIndex gives a device being hot-plugged its acpi-index, with
// the checks of acpiIndexes over the running devices and the new one.
func (b *builder) hotplugACPIIndex(o obj, dev any) (obj, error) {
	e := conf.DeviceElement(dev)
	a := child(e, "acpi")
	if a == nil {
		return o, nil
	}
	m, err := b.acpiIndexes()
	if err != nil {
		return nil, err
	}
	v, err := strconv.ParseUint(attr(a, "index"), 10, 32)
	if err != nil || v == 0 || v > 16383 {
		return nil, xmlError("Invalid value for attribute 'index' in element 'acpi': '%s'. Expected non-zero integer value", attr(a, "index"))
	}
	for _, used := range m {
		if used == v {
			return nil, xmlError("non unique device acpi index %d", v)
		}
	}
	if t := attr(child(e, "address"), "type"); t != "" && t != "pci" {
		return nil, unsupported("ACPI index is only supported for PCI devices")
	}
	if b.knowsTypes() && !b.caps.Has("acpi-index") {
		return nil, unsupported("ACPI index is not supported with this QEMU")
	}
	id, _ := o.get("id")
	s, _ := id.(string)
	b.acpiIdx = map[string]uint64{s: v}
	return b.withACPIIndex(o), nil
}
