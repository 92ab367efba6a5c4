package qemu

import (
	"bytes"

	"govirt/conf"
	"govirt/virerr"
)

// This file is `virsh update-device` (and domif-setlink) for
// <interface>, as libvirt's qemuDomainChangeNet: on a running guest the
// link state changes over the monitor (set_link on the NIC's alias) and
// the bandwidth through tc on the tap (as domiftune);
// the persistent definition takes the whole new element
// (virDomainNetUpdate).

// nicLinkState is the state attribute of <link>: "" (not given, QEMU's default up),
// "up" or "down".
func nicLinkState(n *conf.Interface) string {
	l := conf.DeviceElement(n).Child("link")
	if l == nil {
		return ""
	}
	s, _ := l.Attr("state")
	return s
}

// nicBandwidth is the <bandwidth> element as text, for comparing.
func nicBandwidth(n *conf.Interface) []byte {
	b := conf.DeviceElement(n).Child("bandwidth")
	if b == nil {
		return nil
	}
	return b.XML()
}

// updateNetLive applies a changed <interface> to the running guest.
func (d *Driver) updateNetLive(v *vm, mon monitor, n *conf.Interface) error {
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	idx, err := findNet(live, n)
	if err != nil {
		return err
	}
	old := live.Devices.Interfaces[idx]
	unsupported := func(format string, args ...any) error {
		return errQEMU(virerr.ErrOperationUnsupported, format, args...)
	}
	switch old.Type {
	case "hostdev", "vdpa":
		return unsupported("cannot change config of '%s' network interface type", old.Type)
	}
	if n.MAC != "" && !sameMAC(n.MAC, old.MAC) {
		return unsupported("cannot change network interface mac address from %s to %s", old.MAC, n.MAC)
	}
	if n.Model != "" && n.Model != old.Model {
		return unsupported("cannot modify network device model from %s to %s", old.Model, n.Model)
	}
	if n.TargetDev != "" && n.TargetDev != old.TargetDev {
		return unsupported("cannot modify network device tap name")
	}
	// A new connection (type or source) is a reconnect, which libvirt
	// only does between bridges; govirt does not move taps.
	// The live definition of a network interface names the bridge the
	// network gave it, which a document written by hand leaves out.
	bridgeDiffers := n.Bridge != old.Bridge && (n.Type != "network" || n.Bridge != "")
	if n.Type != old.Type || n.Network != old.Network || bridgeDiffers ||
		(n.SourceDev != "" && n.SourceDev != old.SourceDev) {
		return unsupported("unable to change config on '%s' network type", n.Type)
	}
	state := nicLinkState(n)
	if !bytes.Equal(nicBandwidth(n), nicBandwidth(old)) {
		// needBandwidthSet: reshape the tap (virNetDevBandwidthSet
		// clears the old shaping first; no bandwidth at all clears).
		// (A user-mode NIC has no tap: shapeTap says the device name
		// is unknown, as libvirt.)
		in, out := conf.InterfaceBandwidth(n)
		if err := shapeTap(old, in, out); err != nil {
			oi, oo := conf.InterfaceBandwidth(old)
			_ = shapeTap(old, oi, oo)
			return err
		}
		d.modifyLive(v, func(next *conf.Domain) {
			for _, x := range next.Devices.Interfaces {
				if x.Alias == old.Alias && sameMAC(x.MAC, old.MAC) {
					conf.SetInterfaceBandwidth(x, in, out)
				}
			}
		})
	}
	if state == nicLinkState(old) {
		return nil
	}
	if old.Alias == "" {
		return errQEMU(virerr.ErrOperationFailed, "can't change link state: device alias not found")
	}
	args := struct {
		Name string `json:"name"`
		Up   bool   `json:"up"`
	}{old.Alias, state != "down"}
	if err := mon.Execute(hotplugCtx(), "set_link", args, nil); err != nil {
		return qmpFailed("setting the link state", err)
	}
	d.modifyLive(v, func(next *conf.Domain) {
		for _, x := range next.Devices.Interfaces {
			if x.Alias == old.Alias {
				conf.SetDeviceValue(x, "link/@state", state)
				return
			}
		}
	})
	return nil
}

// updateNetConfig replaces the matching interface of the persistent
// definition (virDomainNetUpdate).
func updateNetConfig(def *conf.Domain, n *conf.Interface) error {
	idx, err := findNet(def, n)
	if err != nil {
		return err
	}
	def.Devices.Interfaces[idx] = n
	return nil
}
