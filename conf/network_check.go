package conf

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"govirt/virerr"
)

// checkNetwork applies the checks libvirt's network parser
// (virNetworkDefParseXML and its DNS and DHCP helpers) makes on the parts
// that end up in dnsmasq's files, with its errors: a static DHCP host, a
// DNS host, SRV or TXT record libvirt refuses is refused here too.
func checkNetwork(root *node, name string) error {
	for _, ipn := range root.childrenNamed("ip") {
		v6 := isV6(ipn)
		for _, h := range ipn.child("dhcp").childrenNamed("host") {
			if err := checkDHCPHost(h, name, v6); err != nil {
				return err
			}
		}
	}
	dns := root.child("dns")
	for _, f := range dns.childrenNamed("forwarder") {
		addr, hasAddr := f.get("@addr")
		if hasAddr {
			if _, err := netip.ParseAddr(addr); err != nil {
				return netErr(virerr.ErrXMLError, "Invalid forwarder IP address '%s' in network '%s'", addr, name)
			}
		}
		if _, hasDomain := f.get("@domain"); !hasAddr && !hasDomain {
			return netErr(virerr.ErrXMLError, "Invalid forwarder element, must contain at least one of addr or domain")
		}
	}
	for _, h := range dns.childrenNamed("host") {
		if err := checkDNSHost(h, name); err != nil {
			return err
		}
	}
	for _, s := range dns.childrenNamed("srv") {
		if err := checkSRV(s, name); err != nil {
			return err
		}
	}
	for _, t := range dns.childrenNamed("txt") {
		tn, ok := t.get("@name")
		if !ok {
			return netErr(virerr.ErrXMLDetail, "missing required name attribute in DNS TXT record of network %s", name)
		}
		if strings.ContainsAny(tn, " ,") {
			return netErr(virerr.ErrXMLDetail, "prohibited character in DNS TXT record name '%s' of network %s", tn, name)
		}
		if _, ok := t.get("@value"); !ok {
			return netErr(virerr.ErrXMLDetail, "missing required value attribute in DNS TXT record named '%s' of network %s", tn, name)
		}
	}
	return nil
}

func netErr(code virerr.Code, format string, args ...any) error {
	return virerr.New(virerr.FromNetwork, code, format, args...)
}

// isV6 is the family of an <ip> element's address.
func isV6(ipn *node) bool {
	if a, err := netip.ParseAddr(ipn.attr("address")); err == nil {
		return a.Is6() && !a.Is4In6()
	}
	return ipn.attr("family") == "ipv6"
}

// checkDHCPHost is virNetworkDHCPHostDefParseXML's validation.
func checkDHCPHost(h *node, network string, v6 bool) error {
	mac, hasMAC := h.get("@mac")
	if hasMAC {
		if v6 {
			return netErr(virerr.ErrXMLError, "Invalid to specify MAC address '%s' in network '%s' IPv6 static host definition", mac, network)
		}
		hw, err := net.ParseMAC(mac)
		if err != nil || len(hw) != 6 {
			return netErr(virerr.ErrXMLError, "Cannot parse MAC address '%s' in network '%s'", mac, network)
		}
		if hw[0]&1 != 0 {
			return netErr(virerr.ErrXMLError, "expected unicast mac address, found multicast '%s' in network '%s'", mac, network)
		}
	}
	id, hasID := h.get("@id")
	if hasID {
		if i := strings.IndexFunc(id, func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF:", r) }); i >= 0 {
			return netErr(virerr.ErrXMLError, "Invalid character '%c' in id '%s' of network '%s'", id[i], id, network)
		}
	}
	hn, hasName := h.get("@name")
	if hasName && (hn == "" || !isASCIIAlnum(hn[0])) {
		return netErr(virerr.ErrXMLError, "Cannot use host name '%s' in network '%s'", hn, network)
	}
	ip, hasIP := h.get("@ip")
	if hasIP {
		if _, err := netip.ParseAddr(ip); err != nil {
			return netErr(virerr.ErrXMLError, "Invalid IP address in static host definition for network '%s'", network)
		}
	}
	switch {
	case v6 && !hasID && !hasName:
		return netErr(virerr.ErrXMLError, "Static host definition in IPv6 network '%s' must have id or name attribute", network)
	case !v6 && !hasMAC && !hasName:
		return netErr(virerr.ErrXMLError, "Static host definition in IPv4 network '%s' must have mac or name attribute", network)
	case !hasIP:
		return netErr(virerr.ErrXMLError, "Missing IP address in static host definition for network '%s'", network)
	}
	return nil
}

func isASCIIAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// checkDNSHost is virNetworkDNSHostDefParseXML's validation.
func checkDNSHost(h *node, network string) error {
	ip, ok := h.get("@ip")
	if !ok {
		return netErr(virerr.ErrXMLDetail, "Missing IP address in network '%s' DNS HOST record", network)
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		return netErr(virerr.ErrXMLDetail, "Invalid IP address in network '%s' DNS HOST record", network)
	}
	names := 0
	for _, hn := range h.childrenNamed("hostname") {
		if len(hn.kids) == 0 {
			continue
		}
		if hn.textContent() == "" {
			return netErr(virerr.ErrXMLDetail, "Missing hostname in network '%s' DNS HOST record", network)
		}
		names++
	}
	if names == 0 {
		return netErr(virerr.ErrXMLDetail, "Missing hostname in network '%s' DNS HOST record", network)
	}
	return nil
}

// The characters libvirt allows in SRV service and protocol names: "."
// would end the field in the record dnsmasq is given.
const (
	srvProtocolChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+/"
	srvServiceChars  = srvProtocolChars + "_*"
	srvMaxLength     = 512 - 30 // DNS_RECORD_LENGTH_SRV
)

func onlyChars(s, set string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(set, r) }) < 0
}

// checkSRV is virNetworkDNSSrvDefParseXML's validation.
func checkSRV(s *node, network string) error {
	service, ok := s.get("@service")
	if !ok {
		return netErr(virerr.ErrXMLDetail, "missing required service attribute in DNS SRV record of network '%s'", network)
	}
	if len(service) > srvMaxLength {
		return netErr(virerr.ErrXMLDetail, "service attribute '%s' in network '%s' is too long, limit is %d bytes", service, network, srvMaxLength)
	}
	if !onlyChars(service, srvServiceChars) {
		return netErr(virerr.ErrXMLDetail, "invalid character in service attribute '%s' in DNS SRV record of network '%s'", service, network)
	}
	protocol, ok := s.get("@protocol")
	if !ok {
		return netErr(virerr.ErrXMLDetail, "missing required protocol attribute in DNS SRV record '%s' of network '%s'", service, network)
	}
	if !onlyChars(protocol, srvProtocolChars) {
		return netErr(virerr.ErrXMLDetail, "invalid character in protocol attribute '%s' in DNS SRV record of network '%s'", protocol, network)
	}
	_, hasTarget := s.get("@target")
	for _, f := range []struct{ attr, bad string }{
		{"port", "invalid DNS SRV port attribute"},
		{"priority", "Invalid DNS SRV priority attribute"},
		{"weight", "invalid DNS SRV weight attribute"},
	} {
		v, _ := s.get("@" + f.attr)
		if v == "" {
			// virXPathUInt reads an empty value as absent.
			continue
		}
		if !hasTarget {
			return netErr(virerr.ErrXMLDetail, "DNS SRV %s attribute not permitted without target for service '%s' in network '%s'", f.attr, service, network)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil || n > 65535 || f.attr == "port" && n < 1 {
			return netErr(virerr.ErrXMLDetail, "%s for service '%s' in network '%s'", f.bad, service, network)
		}
	}
	return nil
}
