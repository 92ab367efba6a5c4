package network

import (
	"strings"

	"govirt/conf"
	"govirt/drivers/internal/safepath"
	"govirt/virerr"
)

// checkLines refuses a definition with a line break (or NUL) in any value
// that is written into dnsmasq's configuration, hosts or addnhosts file, or
// that names the bridge. dnsmasq reads those files line by line, so a
// newline in a TXT value or a host name is an extra configuration line of
// the client's choosing (an option dnsmasq runs as root with). libvirt
// refuses a newline in the network name (networkValidate) and leaves the
// other fields to its XML parser's attribute normalisation; an escaped
// "&#10;" gets through that, so every field is checked here with the
// error shape of libvirt's virXMLCheckIllegalChars.
func checkLines(n *netXML) error {
	if n == nil {
		return nil
	}
	fields := []struct{ what, v string }{
		{"name", n.Name},
		{"bridge name", n.Bridge.Name},
		{"domain name", n.Domain.Name},
	}
	if n.Forward != nil {
		fields = append(fields, struct{ what, v string }{"forward dev", n.Forward.Dev})
	}
	add := func(what, v string) { fields = append(fields, struct{ what, v string }{what, v}) }
	for _, f := range n.DNS.Forwarders {
		add("DNS forwarder domain", f.Domain)
		add("DNS forwarder address", f.Addr)
	}
	for _, t := range n.DNS.TXT {
		add("DNS TXT record name", t.Name)
		add("DNS TXT record value", t.Value)
	}
	for _, h := range n.DNS.Hosts {
		add("DNS host address", h.IP)
		for _, hn := range h.Hostnames {
			add("DNS hostname", hn)
		}
	}
	for _, s := range n.DNS.SRV {
		add("DNS SRV service", s.Service)
		add("DNS SRV protocol", s.Protocol)
		add("DNS SRV domain", s.Domain)
		add("DNS SRV target", s.Target)
	}
	for _, ip := range n.IPs {
		add("TFTP root", ip.TFTP.Root)
		add("BOOTP file", ip.DHCP.Bootp.File)
		add("BOOTP server", ip.DHCP.Bootp.Server)
		for _, r := range ip.DHCP.Ranges {
			add("DHCP range start", r.Start)
			add("DHCP range end", r.End)
		}
		for _, h := range ip.DHCP.Hosts {
			add("DHCP host mac", h.MAC)
			add("DHCP host id", h.ID)
			add("DHCP host name", h.Name)
			add("DHCP host ip", h.IP)
		}
	}
	for _, o := range n.Options {
		for _, v := range o.Option {
			add("dnsmasq option", v.Value)
		}
	}
	for _, f := range fields {
		if i := strings.IndexAny(f.v, "\n\r\x00"); i >= 0 {
			return virerr.New(virerr.FromXML, virerr.ErrXMLDetail, "invalid char in %s: %c", f.what, f.v[i])
		}
	}
	// The bridge name is also a file name under /proc/sys/net.
	if b := strings.ReplaceAll(n.Bridge.Name, "%d", "0"); b != "" && (!safepath.Plain(b) || strings.ContainsAny(b, " \t:")) {
		return errNet(virerr.ErrXMLError, "bridge name '%s' in network '%s' is not a valid interface name", b, n.Name)
	}
	return nil
}

// checkDef runs checkLines on a definition.
func checkDef(def *conf.Network) error {
	nx, err := netXMLOf(def)
	if err != nil {
		return errNet(virerr.ErrXMLError, "%v", err)
	}
	return checkLines(nx)
}
