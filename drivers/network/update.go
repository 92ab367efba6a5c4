package network

import (
	"encoding/xml"
	"net"
	"net/netip"
	"slices"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

var _ driver.NetworkUpdater = (*Manager)(nil)

// virNetworkUpdateCommand, virNetworkUpdateSection, virNetworkUpdateFlags.
const (
	updModify   = 1
	updDelete   = 2
	updAddLast  = 3
	updAddFirst = 4

	sectionIPDHCPHost = 4

	updLive   = 1
	updConfig = 2
)

var sectionNames = map[uint32]string{1: "bridge", 2: "domain", 3: "ip", 4: "ip-dhcp-host",
	5: "ip-dhcp-range", 6: "forward", 7: "forward-interface", 8: "forward-pf", 9: "portgroup",
	10: "dns-host", 11: "dns-txt", 12: "dns-srv"}

// NetworkUpdate is networkUpdate for the section users change most:
// static DHCP hosts (ip-dhcp-host), live (the hosts file is rewritten and
// dnsmasq told with SIGHUP, as libvirt's networkRefreshDhcpDaemon),
// persistent or both. Other sections are refused.
func (m *Manager) NetworkUpdate(n driver.Network, command, section uint32, parentIndex int32, doc string, flags uint32) error {
	if err := checkFlags(flags, updLive|updConfig, "networkUpdate"); err != nil {
		return err
	}
	obj, err := m.acquire(n)
	if err != nil {
		return err
	}
	defer obj.op.Unlock()
	// The state cannot change while obj.op is held: a copy is read.
	o := m.state(obj)
	// virNetworkObjConfigChangeSetup
	if flags&(updLive|updConfig) == 0 {
		flags = updConfig
		if o.active {
			flags = updLive
		}
	}
	if flags&updConfig != 0 && !o.persistent {
		return errNet(virerr.ErrOperationInvalid, "cannot change persistent config of a transient network")
	}
	if flags&updLive != 0 && !o.active {
		return errNet(virerr.ErrOperationInvalid, "network is not running")
	}
	if section != sectionIPDHCPHost {
		name, ok := sectionNames[section]
		if !ok {
			return errNet(virerr.ErrOperationUnsupported, "can't update unrecognized section of network")
		}
		return errNet(virerr.ErrOperationUnsupported, "can't update '%s' section of network '%s'", name, o.def.Name)
	}
	var live, cfg *conf.Network
	if flags&updLive != 0 {
		live = o.live.Clone()
		if err := updateDHCPHost(live, command, parentIndex, doc); err != nil {
			return err
		}
		if err := checkDef(live); err != nil {
			return err
		}
	}
	if flags&updConfig != 0 {
		base := o.def
		if o.newDef != nil {
			base = o.newDef
		}
		cfg = base.Clone()
		if err := updateDHCPHost(cfg, command, parentIndex, doc); err != nil {
			return err
		}
		if err := checkDef(cfg); err != nil {
			return err
		}
		if err := m.saveConfig(cfg); err != nil {
			return errNet(virerr.ErrSystemError, "cannot save network config: %v", err)
		}
		m.mu.Lock()
		if obj.active {
			obj.newDef = cfg
		} else {
			obj.def = cfg
		}
		m.mu.Unlock()
	}
	if live != nil {
		m.mu.Lock()
		obj.live = live
		m.mu.Unlock()
		if err := m.saveStatus(live); err != nil {
			m.log.Error("network status not saved", "network", live.Name, "err", err)
		}
		pid, err := m.refreshDnsmasq(live, o.dnsmasqPid)
		m.mu.Lock()
		obj.dnsmasqPid = pid
		m.mu.Unlock()
		return err
	}
	return nil
}

type hostXML struct {
	XMLName xml.Name
	MAC     *string `xml:"mac,attr"`
	ID      *string `xml:"id,attr"`
	Name    *string `xml:"name,attr"`
	IP      *string `xml:"ip,attr"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// updateDHCPHost is virNetworkDefUpdateIPDHCPHost.
func updateDHCPHost(def *conf.Network, command uint32, parentIndex int32, doc string) error {
	var h hostXML
	if err := conf.CheckXML([]byte(doc), virerr.FromNetwork, "network_update_xml"); err != nil {
		return err
	}
	if err := xml.Unmarshal([]byte(doc), &h); err != nil {
		return errNet(virerr.ErrXMLError, "%v", err)
	}
	if h.XMLName.Local != "host" {
		return errNet(virerr.ErrXMLError, "unexpected element <%s>, expecting <host>, while updating network '%s'", h.XMLName.Local, def.Name)
	}
	ipdef, err := ipByIndex(def, parentIndex)
	if err != nil {
		return err
	}
	host := &conf.NetworkDHCPHost{MAC: strings.ToLower(deref(h.MAC)), ID: deref(h.ID), Name: deref(h.Name), IP: deref(h.IP)}
	if host.MAC != "" {
		if _, err := net.ParseMAC(host.MAC); err != nil {
			return errNet(virerr.ErrInternalError, "Cannot parse MAC address '%s' in network '%s'", host.MAC, def.Name)
		}
	}
	// virNetworkDHCPHostDefParseXML's checks of id and name.
	if i := strings.IndexFunc(host.ID, func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF:", r) }); i >= 0 {
		return errNet(virerr.ErrXMLError, "Invalid character '%c' in id '%s' of network '%s'", host.ID[i], host.ID, def.Name)
	}
	if h.Name != nil && (host.Name == "" || !isAlnum(host.Name[0])) {
		return errNet(virerr.ErrXMLError, "Cannot use host name '%s' in network '%s'", host.Name, def.Name)
	}
	var addr netip.Addr
	if host.IP != "" {
		if addr, err = netip.ParseAddr(host.IP); err != nil {
			return errNet(virerr.ErrInternalError, "Invalid IP address in static host definition for network '%s'", def.Name)
		}
	}
	partial := command == updDelete
	if !partial {
		if !addr.IsValid() {
			return errNet(virerr.ErrXMLError, "Missing IP address in static host definition for network '%s'", def.Name)
		}
		fam, _ := netip.ParseAddr(ipdef.Address)
		if fam.Is4() != addr.Is4() {
			return errNet(virerr.ErrOperationInvalid, "the address family of a host entry IP must match the address family of the dhcp element's parent")
		}
		if addr.Is4() && host.MAC == "" && host.Name == "" {
			return errNet(virerr.ErrXMLError, "Static host definition in IPv4 network '%s' must have mac or name attribute", def.Name)
		}
	}
	sameIP := func(x *conf.NetworkDHCPHost) bool {
		a, err := netip.ParseAddr(x.IP)
		return err == nil && addr.IsValid() && a == addr
	}
	sameMAC := func(x *conf.NetworkDHCPHost) bool {
		return host.MAC != "" && x.MAC != "" && strings.EqualFold(host.MAC, x.MAC)
	}
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	switch command {
	case updModify:
		i := slices.IndexFunc(ipdef.DHCPHosts, func(x *conf.NetworkDHCPHost) bool {
			return sameMAC(x) || sameIP(x) || (host.Name != "" && host.Name == x.Name)
		})
		if i < 0 {
			return errNet(virerr.ErrOperationInvalid, "couldn't locate an existing dhcp host entry with \"mac='%s'\" \"name='%s'\" \"ip='%s'\" in network '%s'",
				unknown(host.MAC), host.Name, unknown(host.IP), def.Name)
		}
		ipdef.DHCPHosts = slices.Clone(ipdef.DHCPHosts)
		ipdef.DHCPHosts[i] = host
	case updAddFirst, updAddLast:
		for _, x := range ipdef.DHCPHosts {
			if sameMAC(x) || (host.Name != "" && host.Name == x.Name) || sameIP(x) {
				return errNet(virerr.ErrOperationInvalid, "there is an existing dhcp host entry in network '%s' that matches \"<host mac='%s' name='%s' ip='%s'/>\"",
					def.Name, unknown(host.MAC), host.Name, unknown(host.IP))
			}
		}
		if command == updAddFirst {
			ipdef.DHCPHosts = append([]*conf.NetworkDHCPHost{host}, ipdef.DHCPHosts...)
		} else {
			ipdef.DHCPHosts = append(slices.Clip(ipdef.DHCPHosts), host)
		}
	case updDelete:
		i := slices.IndexFunc(ipdef.DHCPHosts, func(x *conf.NetworkDHCPHost) bool {
			return (host.MAC == "" || x.MAC == "" || strings.EqualFold(host.MAC, x.MAC)) &&
				(host.Name == "" || host.Name == x.Name) && (!addr.IsValid() || sameIP(x))
		})
		if i < 0 {
			return errNet(virerr.ErrOperationInvalid, "couldn't locate a matching dhcp host entry in network '%s'", def.Name)
		}
		ipdef.DHCPHosts = slices.Delete(slices.Clone(ipdef.DHCPHosts), i, i+1)
	default:
		return errNet(virerr.ErrOperationUnsupported, "unrecognized network update command code %d", command)
	}
	return nil
}

// ipByIndex is virNetworkIPDefByIndex: the <ip> at parentIndex, or for -1
// the one with DHCP (else the first IPv4, else the first IPv6).
func ipByIndex(def *conf.Network, parentIndex int32) (*conf.NetworkIP, error) {
	if parentIndex >= 0 {
		if int(parentIndex) >= len(def.IPs) {
			return nil, errNet(virerr.ErrOperationInvalid, "couldn't update dhcp host entry - no <ip> element found at index %d in network '%s'", parentIndex, def.Name)
		}
		return def.IPs[parentIndex], nil
	}
	for _, ip := range def.IPs {
		if ip.DHCPStart != "" || len(ip.DHCPHosts) > 0 {
			return ip, nil
		}
	}
	for _, v6 := range []bool{false, true} {
		for _, ip := range def.IPs {
			if (ip.Family == "ipv6") == v6 {
				return ip, nil
			}
		}
	}
	return nil, errNet(virerr.ErrOperationInvalid, "couldn't update dhcp host entry - no <ip> element found in network '%s'", def.Name)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
