package qemu

import (
	"fmt"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// Interface updates (virsh update-device with an <interface>, virsh
// domif-setlink) as libvirt's qemuDomainChangeNet: the NIC is found by
// its MAC address (and alias or PCI address when given), a change of its
// link state goes to QEMU with set_link, and what cannot change on a
// live NIC is refused with libvirt's messages.

// findNIC is virDomainNetFindIdx.
func findNIC(def *conf.Domain, nic *conf.Interface) (int, error) {
	match := -1
	for i, o := range def.Devices.Interfaces {
		if !strings.EqualFold(o.MAC, nic.MAC) {
			continue
		}
		if nic.Alias != "" && o.Alias != nic.Alias {
			continue
		}
		if nic.Address.Type == "pci" && o.Address != nic.Address {
			continue
		}
		if match >= 0 {
			return -1, errQEMU(virerr.ErrOperationFailed, "multiple devices matching MAC address %s found", nic.MAC)
		}
		match = i
	}
	if match >= 0 {
		return match, nil
	}
	addr, alias := "(<null>)", "(<null>)" // both libvirt's _("(<null>)")
	if nic.Address.Type == "pci" {
		a := nic.Address
		addr = fmt.Sprintf("%04x:%02x:%02x.%d", a.Domain, a.Bus, a.Slot, a.Function)
	}
	if nic.Alias != "" {
		alias = nic.Alias
	}
	return -1, errQEMU(virerr.ErrDeviceMissing, "no device found at address '%s' matching MAC address '%s' and alias '%s'", addr, nic.MAC, alias)
}

// updateNICLive is qemuDomainChangeNet for what govirt changes live: the
// bandwidth, the network filter and the link state.
func (d *Driver) updateNICLive(v *vm, mon monitor, nic *conf.Interface) error {
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	i, err := findNIC(live, nic)
	if err != nil {
		return err
	}
	old := live.Devices.Interfaces[i]
	switch {
	case old.Type == "hostdev" || old.Type == "vdpa":
		return errQEMU(virerr.ErrOperationUnsupported, "cannot change config of '%s' network interface type", old.Type)
	case old.Model != nic.Model:
		return errQEMU(virerr.ErrOperationUnsupported, "cannot modify network device model from %s to %s", nullStr(old.Model), nullStr(nic.Model))
	case nic.Type != old.Type || nic.Network != old.Network || nic.SourceDev != old.SourceDev ||
		// The live definition of a network interface names the bridge
		// the network gave it, which a document written by hand (as
		// virsh's coverage template) leaves out.
		(nic.Bridge != old.Bridge && (nic.Type != "network" || nic.Bridge != "")):
		// Reconnecting a live NIC to another source is not done here.
		return errQEMU(virerr.ErrOperationUnsupported, "unable to change config on '%s' network type", old.Type)
	case nic.TargetDev != "" && nic.TargetDev != old.TargetDev && !strings.HasPrefix(nic.TargetDev, "vnet"):
		return errQEMU(virerr.ErrOperationUnsupported, "%s", "cannot modify network device tap name")
	case nic.Address.Type != "" && nic.Address.Type != old.Address.Type:
		return errQEMU(virerr.ErrOperationUnsupported, "%s", "cannot modify network device address type")
	case nic.Address.Type == "pci" && nic.Address != old.Address:
		return errQEMU(virerr.ErrOperationUnsupported, "%s", "cannot modify network device guest PCI address")
	}
	if err := d.updateNICBandwidth(v, old, nic); err != nil {
		return err
	}
	if err := d.updateNICFilter(v, old, nic); err != nil {
		return err
	}
	state := nic.LinkState()
	if state == old.LinkState() {
		return nil
	}
	if err := mon.Execute(hotplugCtx(), "set_link", map[string]any{"name": old.Alias, "up": state != "down"}, nil); err != nil {
		return qmpError(err)
	}
	d.modifyLive(v, func(l *conf.Domain) {
		if j, err := findNIC(l, old); err == nil {
			l.Devices.Interfaces[j].SetLinkState(state)
		}
	})
	return nil
}

// updateNICConfig replaces an interface of the persistent definition, as
// qemuDomainUpdateDeviceConfig does, keeping its PCI address when the new
// one names none.
func updateNICConfig(def *conf.Domain, nic *conf.Interface) error {
	probe := *nic
	probe.Alias = "" // the persistent definition has no aliases
	i, err := findNIC(def, &probe)
	if err != nil {
		return err
	}
	old := def.Devices.Interfaces[i]
	if nic.Address.Type == "" {
		nic.Address = old.Address
	}
	nic.Alias, nic.TargetDev = "", ""
	def.Devices.Interfaces[i] = nic
	return nil
}
