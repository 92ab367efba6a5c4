package network

import (
	"fmt"
	"net/netip"
	"strings"
)

// dnsmasqFiles is what networkDnsmasqConfContents produces for a network:
// the configuration file, the DHCP hosts file and the additional hosts
// file, named after the network under dir.
type dnsmasqFiles struct {
	conf, hosts, addnHosts string
}

// The files' names escape the network's name as libvirt's
// virBufferEscapeString does.
var nameEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&quot;", "'", "&apos;")

func hostsPath(dir, name string) string { return dir + "/" + nameEscaper.Replace(name) + ".hostsfile" }
func addnHostsPath(dir, name string) string {
	return dir + "/" + nameEscaper.Replace(name) + ".addnhosts"
}

// dnsmasqConfig generates dnsmasq's files exactly as libvirt 9.0 does.
// pidfile is left out of the file when empty.
func dnsmasqConfig(n *netXML, dir, pidfile string) (*dnsmasqFiles, error) {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	wantDNS := n.DNS.Enable != "no"
	w("##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"+
		"##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:\n"+
		"##    virsh net-edit %s\n"+
		"## or other application using the libvirt API.\n"+
		"##\n## dnsmasq conf file created by libvirt\n"+
		"strict-order\n", n.Name)
	if !wantDNS {
		w("port=0\n")
	}
	if wantDNS && len(n.DNS.Forwarders) > 0 {
		noResolv := false
		for _, f := range n.DNS.Forwarders {
			w("server=")
			if f.Domain != "" {
				w("/%s/", f.Domain)
			}
			if a, err := netip.ParseAddr(f.Addr); err == nil {
				w("%s\n", a)
				if f.Domain == "" {
					noResolv = true
				}
			} else {
				w("#\n")
			}
		}
		if noResolv {
			w("no-resolv\n")
		}
	}
	if n.Domain.Name != "" {
		if n.Domain.LocalOnly == "yes" {
			w("local=/%s/\n", n.Domain.Name)
		}
		w("domain=%s\nexpand-hosts\n", n.Domain.Name)
	}
	if wantDNS {
		for _, ip := range n.IPs {
			if ip.LocalPTR != "yes" {
				continue
			}
			ptr, err := ptrDomain(ip)
			if err != nil {
				return nil, err
			}
			w("local=/%s/\n", ptr)
		}
		if n.DNS.ForwardPlainNames == "no" {
			w("domain-needed\nlocal=//\n")
		}
	}
	if pidfile != "" {
		w("pid-file=%s\n", pidfile)
	}
	w("except-interface=lo\nbind-dynamic\ninterface=%s\n", n.Bridge.Name)
	if n.forwardMode() == "" {
		w("dhcp-option=3\nno-resolv\nra-param=*,0,0\n")
	}
	if wantDNS {
		for _, t := range n.DNS.TXT {
			w("txt-record=%s,%s\n", t.Name, t.Value)
		}
		for _, s := range n.DNS.SRV {
			if s.Service == "" || s.Protocol == "" {
				return nil, fmt.Errorf("Missing required 'service' attribute in SRV record of network '%s'", n.Name)
			}
			w("srv-host=_%s._%s", s.Service, s.Protocol)
			if s.Domain != "" {
				w(".%s", s.Domain)
			}
			if s.Target != "" && s.Target != "." {
				w(",%s", s.Target)
				if s.Port != 0 || s.Priority != 0 || s.Weight != 0 {
					port := s.Port
					if port == 0 {
						port = 1
					}
					w(",%d", port)
				}
				if s.Priority != 0 || s.Weight != 0 {
					w(",%d", s.Priority)
				}
				if s.Weight != 0 {
					w(",%d", s.Weight)
				}
			}
			w("\n")
		}
	}
	var v4, v6 *ipXML
	slaac, tftp := false, false
	for _, ip := range n.IPs {
		if ip.v4() {
			if ip.hasDHCP() {
				if v4 != nil {
					return nil, fmt.Errorf("For IPv4, multiple DHCP definitions cannot be specified.")
				}
				v4 = ip
			}
			if ip.TFTP.Root != "" {
				if !tftp {
					w("enable-tftp\n")
					tftp = true
				}
				w("tftp-root=%s\n", ip.TFTP.Root)
			}
		} else {
			if ip.hasDHCP() {
				if v6 != nil {
					return nil, fmt.Errorf("For IPv6, multiple DHCP definitions cannot be specified.")
				}
				v6 = ip
			} else {
				slaac = true
			}
		}
	}
	_ = slaac // libvirt only warns about DHCPv6 next to SLAAC addresses
	var hosts strings.Builder
	leases := 0
	for _, ip := range []*ipXML{v4, v6} {
		if ip != nil {
			leases += dhcpConf(&b, &hosts, ip)
		}
	}
	if leases > 0 {
		w("dhcp-lease-max=%d\n", leases)
	}
	if v4 != nil || v6 != nil {
		w("dhcp-hostsfile=%s\n", hostsPath(dir, n.Name))
	}
	if wantDNS {
		w("addn-hosts=%s\n", addnHostsPath(dir, n.Name))
	}
	if n.MTU.Size > 0 {
		w("dhcp-option=option:mtu,%d\n", n.MTU.Size)
	}
	if v6 != nil {
		w("enable-ra\n")
	} else {
		for _, ip := range n.IPs {
			if ip.v6() && !ip.hasDHCP() {
				w("dhcp-range=%s,ra-only\n", ip.addr)
			}
		}
	}
	for _, o := range n.Options {
		for _, v := range o.Option {
			w("%s\n", v.Value)
		}
	}
	return &dnsmasqFiles{conf: b.String(), hosts: hosts.String(), addnHosts: addnHosts(n)}, nil
}

// dhcpConf is networkDnsmasqConfDHCP; it returns the number of leases
// the ranges hold.
func dhcpConf(b, hosts *strings.Builder, ip *ipXML) int {
	prefix := ip.prefix()
	leases := 0
	for _, r := range ip.DHCP.Ranges {
		if ip.v6() {
			fmt.Fprintf(b, "dhcp-range=%s,%s,%d", r.Start, r.End, prefix)
		} else {
			fmt.Fprintf(b, "dhcp-range=%s,%s,%s", r.Start, r.End, netmask4(prefix))
		}
		if lt := leaseTime(r.Lease); lt != "" {
			fmt.Fprintf(b, ",%s", lt)
		}
		b.WriteString("\n")
		leases += rangeSize(r.Start, r.End)
	}
	if len(ip.DHCP.Ranges) == 0 && len(ip.DHCP.Hosts) > 0 {
		fmt.Fprintf(b, "dhcp-range=%s,static", ip.addr)
		if ip.v6() {
			fmt.Fprintf(b, ",%d", prefix)
		}
		b.WriteString("\n")
	}
	for _, h := range ip.DHCP.Hosts {
		a, err := netip.ParseAddr(h.IP)
		if err != nil {
			continue
		}
		var line string
		switch {
		case ip.v6():
			switch {
			case h.Name != "" && h.ID != "":
				line = "id:" + h.ID + "," + h.Name
			case h.Name != "":
				line = h.Name
			case h.ID != "":
				line = "id:" + h.ID
			}
			line += ",[" + a.String() + "]"
		case h.Name != "" && h.MAC != "":
			line = h.MAC + "," + a.String() + "," + h.Name
		case h.Name != "":
			line = h.Name + "," + a.String()
		default:
			line = h.MAC + "," + a.String()
		}
		if lt := leaseTime(h.Lease); lt != "" {
			line += "," + lt
		}
		hosts.WriteString(line + "\n")
	}
	if ip.v4() {
		if ip.hasDHCP() {
			b.WriteString("dhcp-no-override\ndhcp-authoritative\n")
		}
		if f := ip.DHCP.Bootp.File; f != "" {
			if ip.DHCP.Bootp.Server != "" {
				fmt.Fprintf(b, "dhcp-boot=%s,,%s\n", f, ip.DHCP.Bootp.Server)
			} else {
				fmt.Fprintf(b, "dhcp-boot=%s\n", f)
			}
		}
	}
	return leases
}

// addnHosts is the <dns><host> list in hosts(5) form, one line per
// address, as dnsmasq's addnhostsWrite.
func addnHosts(n *netXML) string {
	if n.DNS.Enable == "no" {
		return ""
	}
	var order []string
	names := map[string][]string{}
	for _, h := range n.DNS.Hosts {
		a, err := netip.ParseAddr(h.IP)
		if err != nil {
			continue
		}
		k := a.String()
		if _, ok := names[k]; !ok {
			order = append(order, k)
		}
		names[k] = append(names[k], h.Hostnames...)
	}
	var b strings.Builder
	for _, k := range order {
		b.WriteString(k + "\t")
		for _, h := range names[k] {
			b.WriteString(h + "\t")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// ptrDomain is virSocketAddrPTRDomain: the reverse zone of the network.
func ptrDomain(ip *ipXML) (string, error) {
	prefix := ip.prefix()
	bytes := ip.addr.AsSlice()
	var parts []string
	if ip.v4() {
		if prefix <= 0 || prefix%8 != 0 {
			return "", fmt.Errorf("PTR domain for IPv4 network with prefix %d cannot be automatically created", prefix)
		}
		for i := prefix/8 - 1; i >= 0; i-- {
			parts = append(parts, fmt.Sprint(bytes[i]))
		}
		return strings.Join(parts, ".") + ".in-addr.arpa", nil
	}
	if prefix <= 0 || prefix%4 != 0 {
		return "", fmt.Errorf("PTR domain for IPv6 network with prefix %d cannot be automatically created", prefix)
	}
	for i := prefix/4 - 1; i >= 0; i-- {
		nib := bytes[i/2]
		if i%2 == 0 {
			nib >>= 4
		}
		parts = append(parts, fmt.Sprintf("%x", nib&0xf))
	}
	return strings.Join(parts, ".") + ".ip6.arpa", nil
}
