package qemu

import "govirt/conf"

// setupTaps: taps of bridge and ethernet interfaces are created by QEMU
// (ifname, script=no); once it runs, bring them up and enslave bridge
// taps, as libvirt does before handing QEMU a descriptor.
func (d *Driver) setupTaps(v *vm) {
	v.mu.Lock()
	var nics []*conf.Interface
	if v.live != nil { // nil once a destroy ended the run mid-start
		nics = v.live.Devices.Interfaces
	}
	v.mu.Unlock()
	for _, n := range nics {
		if (n.Type != "bridge" && n.Type != "network" && n.Type != "ethernet") || n.TargetDev == "" {
			continue
		}
		if err := setupTap(n); err != nil {
			d.log.Error("tap setup", "domain", v.name, "tap", n.TargetDev, "err", err)
		}
	}
}
