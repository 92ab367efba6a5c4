package conf

import (
	"strings"

	"govirt/uuid"
	"govirt/virerr"
)

// Network is a <network> document.
type Network struct {
	Name        string
	UUID        uuid.UUID
	BridgeName  string // <bridge name=''>
	ForwardMode string // <forward mode=''>; "" when <forward> is absent (isolated)
	ForwardDev  string // <forward dev=''>
	Domain      string // <domain name=''>
	MAC         string // <mac address=''>
	MTU         uint   // <mtu size=''>, 0 when unset
	IPs         []*NetworkIP
	x           *node
}

// NetworkIP is an <ip> of a network.
type NetworkIP struct {
	Address   string
	Netmask   string
	Prefix    uint
	Family    string // ipv4 when "", ipv6
	DHCPStart string // first <dhcp><range>
	DHCPEnd   string
	DHCPHosts []*NetworkDHCPHost
	TFTPRoot  string
	x         *node
}

// NetworkDHCPHost is a static <dhcp><host> entry.
type NetworkDHCPHost struct {
	MAC  string
	ID   string
	Name string
	IP   string
	x    *node
}

// ParseNetwork reads a <network> document.
func ParseNetwork(data []byte, flags ParseFlags) (*Network, error) {
	root, err := parseRoot(data, "network", virerr.FromNetwork, flags)
	if err != nil {
		return nil, err
	}
	n := &Network{x: root}
	name, ok := root.get("name")
	if !ok || name == "" {
		return nil, virerr.New(virerr.FromNetwork, virerr.ErrNoName, "")
	}
	if strings.Contains(name, "/") {
		// virXMLCheckIllegalChars in virNetworkDefParseXML.
		return nil, virerr.New(virerr.FromXML, virerr.ErrXMLDetail, "invalid char in name: /")
	}
	n.Name = name
	if n.UUID, err = parseUUIDElem(root, virerr.FromNetwork, virerr.ErrInternalError); err != nil {
		return nil, err
	}
	n.BridgeName = root.str("bridge/@name")
	n.ForwardMode = root.str("forward/@mode")
	if root.child("forward") != nil && n.ForwardMode == "" {
		n.ForwardMode = "nat"
	}
	n.ForwardDev = root.str("forward/@dev")
	n.Domain = root.str("domain/@name")
	n.MAC = root.str("mac/@address")
	n.MTU = uint(root.uintAt("mtu/@size"))
	for _, ipn := range root.childrenNamed("ip") {
		ip := &NetworkIP{
			Address:   ipn.attr("address"),
			Netmask:   ipn.attr("netmask"),
			Prefix:    uint(ipn.uintAt("@prefix")),
			Family:    ipn.attr("family"),
			DHCPStart: ipn.str("dhcp/range/@start"),
			DHCPEnd:   ipn.str("dhcp/range/@end"),
			TFTPRoot:  ipn.str("tftp/@root"),
			x:         ipn,
		}
		for _, h := range ipn.child("dhcp").childrenNamed("host") {
			ip.DHCPHosts = append(ip.DHCPHosts, &NetworkDHCPHost{
				MAC: h.attr("mac"), ID: h.attr("id"), Name: h.attr("name"), IP: h.attr("ip"), x: h})
		}
		n.IPs = append(n.IPs, ip)
	}
	if err := checkNetwork(root, name); err != nil {
		return nil, err
	}
	return n, nil
}

// Format writes the document.
func (n *Network) Format(flags FormatFlags) ([]byte, error) {
	root := cloneOr(n.x, "network")
	root.put("name", n.Name)
	putUUID(root, n.UUID)
	// libvirt writes the forward mode it assumed for a bare <forward>.
	if n.ForwardMode == "" {
		if f := root.child("forward"); f != nil {
			root.removeChild(f)
		}
	} else {
		root.put("forward/@mode", n.ForwardMode)
	}
	root.put("forward/@dev", n.ForwardDev)
	if f := root.child("forward"); f != nil {
		orderAttrs(f, "dev", "mode")
	}
	root.put("bridge/@name", n.BridgeName)
	n.bridgeDefaults(root)
	root.put("mac/@address", n.MAC)
	root.putUint("mtu/@size", uint64(n.MTU), nil)
	root.put("domain/@name", n.Domain)
	ips := make([]*node, len(n.IPs))
	for i, ip := range n.IPs {
		ips[i] = ip.toNode()
	}
	root.fillSlots("ip", ips)
	return writeTree(root), nil
}

// bridgeDefaults writes the spanning tree settings libvirt assumes for a
// network that has a bridge of its own (isolated, nat, route, open):
// stp on, no delay.
func (n *Network) bridgeDefaults(root *node) {
	switch n.ForwardMode {
	case "", "nat", "route", "open":
	default:
		return
	}
	br := root.ensureChild("bridge")
	if br.attrIndex("stp") < 0 {
		br.setAttr("stp", "on")
	}
	if br.attrIndex("delay") < 0 {
		br.setAttr("delay", "0")
	}
	orderAttrs(br, "name", "zone", "stp", "delay", "macTableManager")
}

func (ip *NetworkIP) toNode() *node {
	el := cloneOr(ip.x, "ip")
	el.open = true // libvirt always opens <ip>
	el.put("@family", ip.Family)
	el.put("@address", ip.Address)
	el.put("@netmask", ip.Netmask)
	el.putUint("@prefix", uint64(ip.Prefix), nil)
	el.put("tftp/@root", ip.TFTPRoot)
	el.put("dhcp/range/@start", ip.DHCPStart)
	el.put("dhcp/range/@end", ip.DHCPEnd)
	if len(ip.DHCPHosts) == 0 && el.child("dhcp") == nil {
		return el
	}
	hosts := make([]*node, len(ip.DHCPHosts))
	for i, h := range ip.DHCPHosts {
		hn := cloneOr(h.x, "host")
		hn.put("@mac", h.MAC)
		hn.put("@id", h.ID)
		hn.put("@name", h.Name)
		hn.put("@ip", h.IP)
		hosts[i] = hn
	}
	el.ensureChild("dhcp").fillSlots("host", hosts)
	return el
}

// Clone returns a deep copy.
func (n *Network) Clone() *Network {
	if n == nil {
		return nil
	}
	c := *n
	c.x = n.x.clone()
	c.IPs = cloneList(n.IPs, func(ip *NetworkIP) *NetworkIP {
		d := *ip
		d.x = ip.x.clone()
		d.DHCPHosts = cloneList(ip.DHCPHosts, func(h *NetworkDHCPHost) *NetworkDHCPHost {
			e := *h
			e.x = h.x.clone()
			return &e
		})
		return &d
	})
	return &c
}
