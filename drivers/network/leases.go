package network

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"govirt/driver"
)

var _ driver.NetworkLeases = (*Manager)(nil)

// NetworkGetDHCPLeases is net-dhcp-leases. libvirt reads the status file
// its lease helper keeps; govirt reads dnsmasq's own lease file:
//
//	EXPIRY MAC IP HOSTNAME CLIENTID      (DHCPv4)
//	duid SERVER-DUID
//	EXPIRY IAID IP HOSTNAME DUID         (DHCPv6)
//
// with "*" for an unknown hostname or client id. Expired leases are left
// out, as libvirt does; mac filters case-insensitively.
func (m *Manager) NetworkGetDHCPLeases(n driver.Network, mac string, flags uint32) ([]driver.NetworkDHCPLease, error) {
	if err := checkFlags(flags, 0, "networkGetDHCPLeases"); err != nil {
		return nil, err
	}
	m.load()
	m.mu.Lock()
	o, err := m.byUUID(n.UUID)
	var x *netXML
	if err == nil {
		def := o.def
		if o.live != nil {
			def = o.live
		}
		x, err = netXMLOf(def)
	}
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	nf, err := m.files(x.Name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(nf.leases)
	if err != nil {
		return []driver.NetworkDHCPLease{}, nil
	}
	return parseLeases(string(data), x, mac, time.Now().Unix()), nil
}

func parseLeases(data string, x *netXML, mac string, now int64) []driver.NetworkDHCPLease {
	out := []driver.NetworkDHCPLease{}
	star := func(s string) string {
		if s == "*" {
			return ""
		}
		return s
	}
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] == "duid" {
			continue
		}
		exp, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || (exp != 0 && exp < now) {
			continue
		}
		addr, err := netip.ParseAddr(f[2])
		if err != nil {
			continue
		}
		l := driver.NetworkDHCPLease{Iface: x.Bridge.Name, ExpiryTime: exp, IPAddr: addr.String(),
			Hostname: star(f[3]), ClientID: star(f[4])}
		if addr.Is4() {
			l.MAC = f[1]
		} else {
			l.Type, l.IAID = 1, f[1]
		}
		if mac != "" && !strings.EqualFold(mac, l.MAC) {
			continue
		}
		for _, ip := range x.IPs {
			if p, err := ip.addr.Prefix(ip.prefix()); err == nil && ip.addr.Is4() == addr.Is4() && p.Contains(addr) {
				l.Prefix = uint32(ip.prefix())
				break
			}
		}
		out = append(out, l)
	}
	return out
}
