package qemu

import (
	"govirt/conf"
	"govirt/uuid"
)

// Guest NICs on virtual networks hold network ports, as libvirt 9.0's
// QEMU driver does through virNetworkPortCreateXML: a port is allocated
// for every <interface type='network'> when the guest starts or the NIC
// is plugged (virDomainNetAllocateActualDevice), its UUID shown as
// <source portid=''> in the live XML, and deleted when the guest stops
// or the NIC is unplugged (virDomainNetReleaseActualDevice). A daemon
// that reconnects to a running guest gives back a port its network lost
// (virDomainNetNotifyActualDevice with VIR_NETWORK_PORT_CREATE_RECLAIM).

// allocatePort gives n (of the guest dom) a port of its network; the
// NIC then names the port and the bridge it plugs into.
func (d *Driver) allocatePort(dom *conf.Domain, n *conf.Interface) error {
	if n.Type != "network" {
		return nil
	}
	id := conf.InterfacePortID(n)
	if id.IsZero() {
		id = uuid.New()
	}
	p := conf.NetworkPortFromInterface(id, dom.Name, dom.UUID, n)
	got, err := d.networks().CreatePort(n.Network, p, 0)
	if err != nil {
		return err
	}
	n.Bridge = got.Bridge
	conf.SetInterfacePortID(n, got.UUID)
	return nil
}

// releasePort deletes the port of n, if it has one; a network that was
// stopped since took its ports along, which is not an error here.
func (d *Driver) releasePort(n *conf.Interface) {
	if n == nil || n.Type != "network" {
		return
	}
	id := conf.InterfacePortID(n)
	if id.IsZero() {
		return
	}
	if err := d.networks().DeletePort(n.Network, id); err != nil {
		d.log.Debug("network port not released", "network", n.Network, "port", id, "err", err)
	}
}

// releasePorts releases the ports of every NIC of a guest's live XML.
func (d *Driver) releasePorts(live *conf.Domain) {
	if live == nil {
		return
	}
	for _, n := range live.Devices.Interfaces {
		d.releasePort(n)
	}
}

// reclaimPorts is virDomainNetNotifyActualDevice for a guest found
// running at daemon start: a port its network no longer has (the
// network was restarted) is created again from the NIC.
func (d *Driver) reclaimPorts(live *conf.Domain) {
	if live == nil {
		return
	}
	for _, n := range live.Devices.Interfaces {
		if n.Type != "network" {
			continue
		}
		id := conf.InterfacePortID(n)
		if id.IsZero() || d.networks().HasPort(n.Network, id) {
			continue
		}
		p := conf.NetworkPortFromInterface(id, live.Name, live.UUID, n)
		p.PlugType, p.Bridge = d.networks().PlugType(n.Network), n.Bridge
		if p.PlugType == "" {
			p.PlugType = "network" // an inactive network refuses it below
		}
		if _, err := d.networks().CreatePort(n.Network, p, conf.NetworkPortCreateReclaim); err != nil {
			d.log.Warn("network port not reclaimed", "domain", live.Name, "network", n.Network, "err", err)
		}
	}
}
