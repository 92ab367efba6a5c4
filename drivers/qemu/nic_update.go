package qemu

import (
	"bytes"

	"govirt/conf"
)

// The bandwidth part of `virsh update-device` for a running
// <interface> (qemuDomainChangeNet's needBandwidthSet): the tap is
// reshaped with tc as domiftune does. The rest of the NIC update is in
// iface_update.go.

// nicBandwidth is the <bandwidth> element as text, for comparing.
func nicBandwidth(n *conf.Interface) []byte {
	b := conf.DeviceElement(n).Child("bandwidth")
	if b == nil {
		return nil
	}
	return b.XML()
}

// updateNICBandwidth reshapes old's host device when nic asks for other
// rates (virNetDevBandwidthSet clears the old shaping first; no
// bandwidth at all just clears), and records them in the live
// definition. A user-mode NIC has no tap: shapeTap says the device name
// is unknown, as libvirt.
func (d *Driver) updateNICBandwidth(v *vm, old, nic *conf.Interface) error {
	if bytes.Equal(nicBandwidth(nic), nicBandwidth(old)) {
		return nil
	}
	in, out := conf.InterfaceBandwidth(nic)
	if err := shapeTap(old, in, out); err != nil {
		oi, oo := conf.InterfaceBandwidth(old)
		_ = shapeTap(old, oi, oo)
		return err
	}
	d.modifyLive(v, func(l *conf.Domain) {
		if j, err := findNIC(l, old); err == nil {
			conf.SetInterfaceBandwidth(l.Devices.Interfaces[j], in, out)
		}
	})
	return nil
}
