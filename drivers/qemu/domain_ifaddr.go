package qemu

import (
	"bufio"
	"os"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

var _ driver.DomainInterfaceAddresser = (*conn)(nil)

// Sources of virDomainInterfaceAddresses.
const (
	ifaddrLease = 0
	ifaddrAgent = 1
	ifaddrARP   = 2
)

// DomainInterfaceAddresses is qemuDomainInterfaceAddresses: the DHCP
// leases of the guest's virtual networks (virDomainNetDHCPInterfaces) or
// the host's ARP table (virDomainNetARPInterfaces), or the guest agent.
func (c *conn) DomainInterfaceAddresses(h driver.Domain, source uint32, flags uint32) ([]driver.DomainIface, error) {
	if flags != 0 {
		return nil, errFlagsFn(flags, "qemuDomainInterfaceAddresses")
	}
	var nics []*conf.Interface
	err := c.withVM(h, func(v *vm) error {
		if !v.active() || v.live == nil {
			return errNotRunning()
		}
		nics = v.live.Devices.Interfaces
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch source {
	case ifaddrLease:
		return c.leaseInterfaces(nics)
	case ifaddrAgent:
		return c.agentInterfaces(h) // agent_calls.go
	case ifaddrARP:
		return arpInterfaces(nics, "/proc/net/arp")
	}
	return nil, errQEMU(virerr.ErrArgumentUnsupported, "Unknown IP address data source %d", source)
}

// leaseInterfaces lists every NIC on a virtual network that has leases.
func (c *conn) leaseInterfaces(nics []*conf.Interface) ([]driver.DomainIface, error) {
	var out []driver.DomainIface
	for _, nic := range nics {
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
		ifc := driver.DomainIface{Name: nic.TargetDev, HWAddr: nic.MAC}
		for _, l := range leases {
			ifc.Addrs = append(ifc.Addrs, driver.IPAddr{Type: l.Type, Addr: l.IPAddr, Prefix: l.Prefix})
		}
		out = append(out, ifc)
	}
	return out, nil
}

// arpInterfaces matches the NICs' MACs against the kernel's ARP table
// (IPv4 only, no prefix, as libvirt's).
func arpInterfaces(nics []*conf.Interface, path string) ([]driver.DomainIface, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errQEMU(virerr.ErrSystemError, "unable to read ARP table: %v", err)
	}
	defer f.Close()
	byMAC := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		// IP address, HW type, flags, HW address, mask, device.
		if len(fl) < 4 || fl[2] == "0x0" {
			continue
		}
		mac := strings.ToLower(fl[3])
		byMAC[mac] = append(byMAC[mac], fl[0])
	}
	var out []driver.DomainIface
	for _, nic := range nics {
		ips := byMAC[strings.ToLower(nic.MAC)]
		if len(ips) == 0 {
			continue
		}
		ifc := driver.DomainIface{Name: nic.TargetDev, HWAddr: nic.MAC}
		for _, ip := range ips {
			ifc.Addrs = append(ifc.Addrs, driver.IPAddr{Type: 0, Addr: ip})
		}
		out = append(out, ifc)
	}
	return out, nil
}
