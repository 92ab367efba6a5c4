package qemu

import (
	"os"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// Guest interface addresses (virsh domifaddr) as libvirt's
// qemuDomainInterfaceAddresses: from the DHCP leases of the networks the
// guest's NICs are on, or from the host's ARP table; the agent source
// needs the guest agent.

const (
	ifaddrLease = 0
	ifaddrAgent = 1
	ifaddrARP   = 2
)

func (c *conn) DomainInterfaceAddresses(h driver.Domain, source, flags uint32) ([]driver.DomainInterfaceAddrs, error) {
	if flags != 0 {
		return nil, errFlagsFn(flags, "qemuDomainInterfaceAddresses")
	}
	var live *conf.Domain
	err := c.withVM(h, func(v *vm) error {
		if !v.active() || v.live == nil {
			return errNotRunning()
		}
		live = v.live
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch source {
	case ifaddrLease:
		return c.leaseAddresses(live)
	case ifaddrAgent:
		return nil, c.agentUnavailable(h)
	case ifaddrARP:
		return arpAddresses(live, readARPTable())
	}
	return nil, errQEMU(virerr.ErrArgumentUnsupported, "Unknown IP address data source %d", source)
}

// leaseAddresses is virDomainNetDHCPInterfaces: one entry per NIC on a
// virtual network that has leases, every lease an address.
func (c *conn) leaseAddresses(def *conf.Domain) ([]driver.DomainInterfaceAddrs, error) {
	var out []driver.DomainInterfaceAddrs
	for _, nic := range def.Devices.Interfaces {
		if nic.Type != "network" {
			continue
		}
		net, err := c.LookupNetworkByName(nic.Network)
		if err != nil {
			return nil, err
		}
		leases, err := c.NetworkGetDHCPLeases(net, nic.MAC, 0)
		if err != nil {
			return nil, err
		}
		if len(leases) == 0 {
			continue
		}
		e := driver.DomainInterfaceAddrs{Name: nic.TargetDev, HWAddr: nic.MAC}
		for _, l := range leases {
			e.Addrs = append(e.Addrs, driver.DomainIPAddress{Type: l.Type, Addr: l.IPAddr, Prefix: l.Prefix})
		}
		out = append(out, e)
	}
	return out, nil
}

// arpEntry is one neighbour of the host's ARP table.
type arpEntry struct{ ip, mac string }

// readARPTable reads /proc/net/arp: the IPv4 neighbours with a
// link-layer address.
func readARPTable() []arpEntry {
	data, err := os.ReadFile("/proc/net/arp")
	if err != nil {
		return nil
	}
	var out []arpEntry
	lines := strings.Split(string(data), "\n")
	for _, l := range lines[min(1, len(lines)):] {
		f := strings.Fields(l)
		// IP address, HW type, Flags, HW address, Mask, Device
		if len(f) < 6 || f[2] == "0x0" {
			continue
		}
		out = append(out, arpEntry{ip: f[0], mac: strings.ToLower(f[3])})
	}
	return out
}

// arpAddresses is virDomainNetARPInterfaces: an entry per NIC and
// neighbour with its MAC address, IPv4 with no prefix.
func arpAddresses(def *conf.Domain, table []arpEntry) ([]driver.DomainInterfaceAddrs, error) {
	var out []driver.DomainInterfaceAddrs
	for _, nic := range def.Devices.Interfaces {
		for _, e := range table {
			if e.mac == strings.ToLower(nic.MAC) {
				out = append(out, driver.DomainInterfaceAddrs{Name: nic.TargetDev, HWAddr: nic.MAC,
					Addrs: []driver.DomainIPAddress{{Type: 0, Addr: e.ip}}})
			}
		}
	}
	return out, nil
}
