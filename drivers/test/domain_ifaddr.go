package test

import (
	"fmt"
	"math/bits"
	"net"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

var _ driver.DomainInterfaceAddresser = (*conn)(nil)

// DomainInterfaceAddresses is testDomainInterfaceAddresses: a NIC on a
// virtual network gets the network's first DHCP address (or its own
// address) plus an offset made of the domain id and the NIC's index;
// any other NIC 192.168.0.(index+1)/24. Every source answers the same.
func (in *instance) DomainInterfaceAddresses(d driver.Domain, source uint32, flags uint32) ([]driver.DomainIface, error) {
	if err := checkFlags(flags, 0, "testDomainInterfaceAddresses"); err != nil {
		return nil, err
	}
	if source >= 3 { // VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LAST
		return nil, virerr.New(virerr.FromTest, virerr.ErrArgumentUnsupported, "Unknown IP address data source %d", source)
	}
	var out []driver.DomainIface
	err := in.runningDom(d, false, func(o *domObj) error {
		for i, n := range o.def.Devices.Interfaces {
			ifc := driver.DomainIface{Name: n.TargetDev, HWAddr: n.MAC}
			if n.Type == "network" {
				nobj, err := in.netByName(n.Network)
				if err != nil {
					return err
				}
				offset := 20*(int(o.id)-1) + i + 1
				a, err := leaseAddr(nobj.def, offset)
				if err != nil {
					return err
				}
				ifc.Addrs = []driver.IPAddr{a}
			} else {
				ifc.Addrs = []driver.IPAddr{{Type: 0, Prefix: 24, Addr: fmt.Sprintf("192.168.0.%d", 1+i)}}
			}
			out = append(out, ifc)
		}
		return nil
	})
	return out, err
}

// leaseAddr is testDomainInterfaceAddressFromNet for the network's first
// <ip>.
func leaseAddr(def *conf.Network, offset int) (driver.IPAddr, error) {
	if len(def.IPs) == 0 {
		return driver.IPAddr{}, errInternal("network '%s' has no IP address", def.Name)
	}
	ip := def.IPs[0]
	start := ip.Address
	if ip.DHCPStart != "" {
		start = ip.DHCPStart
	}
	addr := net.ParseIP(start)
	if addr == nil {
		return driver.IPAddr{}, errInternal("invalid address '%s'", start)
	}
	a := driver.IPAddr{Prefix: uint32(ipPrefix(ip))}
	if ip.Family == "ipv6" {
		a.Type = 1
		v6 := append(net.IP{}, addr.To16()...)
		v6[15] += byte(offset)
		a.Addr = v6.String()
	} else {
		v4 := addr.To4()
		n := uint32(v4[0])<<24 | uint32(v4[1])<<16 | uint32(v4[2])<<8 | uint32(v4[3])
		n += uint32(offset)
		a.Addr = net.IPv4(byte(n>>24), byte(n>>16), byte(n>>8), byte(n)).String()
	}
	return a, nil
}

// ipPrefix is virSocketAddrGetIPPrefix: the prefix, else the netmask's
// bits, else the natural prefix of the address's class.
func ipPrefix(ip *conf.NetworkIP) int {
	if ip.Prefix > 0 {
		return int(ip.Prefix)
	}
	if m := net.ParseIP(ip.Netmask).To4(); m != nil {
		return bits.OnesCount32(uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3]))
	}
	if v4 := net.ParseIP(ip.Address).To4(); v4 != nil {
		switch {
		case v4[0] < 128:
			return 8
		case v4[0] < 192:
			return 16
		case v4[0] < 224:
			return 24
		}
		return -1
	}
	return 64
}
