package network

import (
	"encoding/xml"
	"fmt"
	"govirt/conf"
	"math/big"
	"net/netip"
	"strconv"
)

// netXML is the part of a <network> document the bridge driver acts on:
// what dnsmasq's configuration and the firewall rules are made from. The
// definition itself (kept, formatted, shown) is conf.Network; this is a
// read-only view of the same XML.
type netXML struct {
	Name    string `xml:"name"`
	Forward *struct {
		Mode string `xml:"mode,attr"`
		Dev  string `xml:"dev,attr"`
	} `xml:"forward"`
	Bridge struct {
		Name  string `xml:"name,attr"`
		STP   string `xml:"stp,attr"`
		Delay string `xml:"delay,attr"`
		// MACTableManager goes into the ports' plug (network ports).
		MACTableManager string `xml:"macTableManager,attr"`
	} `xml:"bridge"`
	TrustGuestRxFilters string        `xml:"trustGuestRxFilters,attr"`
	Bandwidth           *bandwidthXML `xml:"bandwidth"`
	Port                struct {
		Isolated string `xml:"isolated,attr"`
	} `xml:"port"`
	PortGroups []portGroupXML `xml:"portgroup"`
	MAC        struct {
		Address string `xml:"address,attr"`
	} `xml:"mac"`
	MTU struct {
		Size int `xml:"size,attr"`
	} `xml:"mtu"`
	Domain struct {
		Name      string `xml:"name,attr"`
		LocalOnly string `xml:"localOnly,attr"`
	} `xml:"domain"`
	DNS struct {
		Enable            string `xml:"enable,attr"`
		ForwardPlainNames string `xml:"forwardPlainNames,attr"`
		Forwarders        []struct {
			Domain string `xml:"domain,attr"`
			Addr   string `xml:"addr,attr"`
		} `xml:"forwarder"`
		TXT []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"txt"`
		Hosts []struct {
			IP        string   `xml:"ip,attr"`
			Hostnames []string `xml:"hostname"`
		} `xml:"host"`
		SRV []struct {
			Service  string `xml:"service,attr"`
			Protocol string `xml:"protocol,attr"`
			Domain   string `xml:"domain,attr"`
			Target   string `xml:"target,attr"`
			Port     int    `xml:"port,attr"`
			Priority int    `xml:"priority,attr"`
			Weight   int    `xml:"weight,attr"`
		} `xml:"srv"`
	} `xml:"dns"`
	IPs     []*ipXML `xml:"ip"`
	Options []struct {
		Option []struct {
			Value string `xml:"value,attr"`
		} `xml:"option"`
	} `xml:"http://libvirt.org/schemas/network/dnsmasq/1.0 options"`
}

// bandwidthXML is a <bandwidth> of the network or a portgroup.
type bandwidthXML struct {
	Inbound  *rateXML `xml:"inbound"`
	Outbound *rateXML `xml:"outbound"`
}

type rateXML struct {
	Average uint64 `xml:"average,attr"`
	Peak    uint64 `xml:"peak,attr"`
	Burst   uint64 `xml:"burst,attr"`
	Floor   uint64 `xml:"floor,attr"`
}

func (b *bandwidthXML) rates() (in, out *conf.BandwidthRate) {
	conv := func(r *rateXML) *conf.BandwidthRate {
		if r == nil || (r.Average == 0 && r.Floor == 0) {
			return nil
		}
		return &conf.BandwidthRate{Average: r.Average, Peak: r.Peak, Burst: r.Burst, Floor: r.Floor}
	}
	return conv(b.Inbound), conv(b.Outbound)
}

// portGroupXML is a <portgroup>: what a port naming it inherits.
type portGroupXML struct {
	Name                string        `xml:"name,attr"`
	Default             string        `xml:"default,attr"`
	TrustGuestRxFilters string        `xml:"trustGuestRxFilters,attr"`
	Bandwidth           *bandwidthXML `xml:"bandwidth"`
}

// portGroup is virPortGroupFindByName: the named group, or the default
// one when name is empty.
func (n *netXML) portGroup(name string) *portGroupXML {
	for i := range n.PortGroups {
		g := &n.PortGroups[i]
		if (name == "" && g.Default == "yes") || (name != "" && g.Name == name) {
			return g
		}
	}
	return nil
}

type leaseXML struct {
	Expiry uint64 `xml:"expiry,attr"`
	Unit   string `xml:"unit,attr"`
}

type ipXML struct {
	Family   string `xml:"family,attr"`
	Address  string `xml:"address,attr"`
	Netmask  string `xml:"netmask,attr"`
	Prefix   string `xml:"prefix,attr"`
	LocalPTR string `xml:"localPtr,attr"`
	TFTP     struct {
		Root string `xml:"root,attr"`
	} `xml:"tftp"`
	DHCP struct {
		Ranges []struct {
			Start string    `xml:"start,attr"`
			End   string    `xml:"end,attr"`
			Lease *leaseXML `xml:"lease"`
		} `xml:"range"`
		Hosts []struct {
			MAC   string    `xml:"mac,attr"`
			ID    string    `xml:"id,attr"`
			Name  string    `xml:"name,attr"`
			IP    string    `xml:"ip,attr"`
			Lease *leaseXML `xml:"lease"`
		} `xml:"host"`
		Bootp struct {
			File   string `xml:"file,attr"`
			Server string `xml:"server,attr"`
		} `xml:"bootp"`
	} `xml:"dhcp"`

	addr netip.Addr
}

func parseNetXML(doc []byte) (*netXML, error) {
	var n netXML
	if err := xml.Unmarshal(doc, &n); err != nil {
		return nil, err
	}
	for _, ip := range n.IPs {
		a, err := netip.ParseAddr(ip.Address)
		if err != nil {
			return nil, fmt.Errorf("invalid IP address '%s' in network '%s'", ip.Address, n.Name)
		}
		ip.addr = a
	}
	return &n, nil
}

// forwardMode is "" for an isolated network, else nat, route, bridge...
func (n *netXML) forwardMode() string {
	if n.Forward == nil {
		return ""
	}
	if n.Forward.Mode == "" {
		return "nat"
	}
	return n.Forward.Mode
}

func (ip *ipXML) v4() bool { return ip.addr.Is4() }
func (ip *ipXML) v6() bool { return ip.addr.Is6() && !ip.addr.Is4In6() }

func (ip *ipXML) hasDHCP() bool { return len(ip.DHCP.Ranges) > 0 || len(ip.DHCP.Hosts) > 0 }

// prefix is virNetworkIPDefPrefix: the explicit prefix, the netmask's, or
// the classful default for IPv4 (64 for IPv6).
func (ip *ipXML) prefix() int {
	if ip.Prefix != "" {
		p, err := strconv.Atoi(ip.Prefix)
		if err != nil {
			return -1
		}
		return p
	}
	if ip.Netmask != "" {
		m, err := netip.ParseAddr(ip.Netmask)
		if err != nil || !m.Is4() {
			return -1
		}
		b := m.As4()
		ones := 0
		for _, x := range b {
			for i := 7; i >= 0; i-- {
				if x&(1<<i) == 0 {
					return ones
				}
				ones++
			}
		}
		return ones
	}
	if ip.v6() {
		return 64
	}
	first := ip.addr.As4()[0]
	switch {
	case first < 128:
		return 8
	case first < 192:
		return 16
	case first < 224:
		return 24
	}
	return -1
}

// network is the address's network in CIDR notation (libvirt's
// virSocketAddrFormatWithPrefix with masking).
func (ip *ipXML) network() string {
	p, err := ip.addr.Prefix(ip.prefix())
	if err != nil {
		return ip.Address
	}
	return p.String()
}

// netmask4 is the IPv4 netmask of a prefix length.
func netmask4(prefix int) string {
	m := uint32(0xffffffff) << (32 - prefix)
	if prefix == 0 {
		m = 0
	}
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

// rangeSize is the number of addresses from start to end inclusive.
func rangeSize(start, end string) int {
	s, err1 := netip.ParseAddr(start)
	e, err2 := netip.ParseAddr(end)
	if err1 != nil || err2 != nil {
		return 0
	}
	a := new(big.Int).SetBytes(s.AsSlice())
	b := new(big.Int).SetBytes(e.AsSlice())
	d := new(big.Int).Sub(b, a)
	if d.Sign() < 0 {
		return 0
	}
	return int(d.Int64()) + 1
}

// leaseTime is networkBuildDnsmasqLeaseTime.
func leaseTime(l *leaseXML) string {
	if l == nil {
		return ""
	}
	if l.Expiry == 0 {
		return "infinite"
	}
	unit := l.Unit
	if unit == "" {
		unit = "minutes"
	}
	return fmt.Sprintf("%d%c", l.Expiry, unit[0])
}
