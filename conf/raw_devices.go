package conf

// RawDevicesOf returns the devices of a kind without a typed list
// (filesystem, hostdev, vsock, iommu, ...) in document order. They are
// views into d's own document: SetDeviceValue on one changes d, which is
// how the QEMU command builder records the alias and address it assigns,
// as libvirt writes them into the live definition.
func (d *Domain) RawDevicesOf(kind string) []*RawDevice {
	if d.x == nil {
		return nil
	}
	devs := d.x.child("devices")
	if devs == nil {
		return nil
	}
	var out []*RawDevice
	for _, k := range devs.childrenNamed(kind) {
		out = append(out, &RawDevice{Kind: kind, x: k})
	}
	return out
}
