package conf

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"govirt/uuid"
	"govirt/virerr"
)

// NetworkPort is libvirt 9.0's <networkport> (virNetworkPortDef): the
// connection of one guest NIC to a virtual network, as the network
// driver hands it out (virNetworkPortCreateXML) and keeps it in its
// state directory.
type NetworkPort struct {
	UUID      uuid.UUID
	OwnerName string
	OwnerUUID uuid.UUID
	Group     string // portgroup, "" when none
	MAC       string // lower case, as virMacAddrFormat

	// In and Out are the <bandwidth> directions (nil when absent),
	// ClassID the network QoS class the port holds (0 when none).
	In, Out *BandwidthRate
	ClassID uint64

	Isolated   string // <port isolated=''>: yes, no or ""
	TrustGuest string // <rxfilters trustGuest=''>: yes, no or ""

	// PlugType is none, network, bridge, direct or hostdev-pci.
	PlugType        string
	Bridge          string // network, bridge
	MACTableManager string // network, bridge: kernel, libvirt or ""
	Dev, Mode       string // direct: link device and macvtap mode
	Managed         string // hostdev-pci: yes, no or ""
	Driver          string // hostdev-pci: <driver name=''>
	PCI             [4]uint64

	virtualPort *node // kept as given (virNetDevVPortProfile)
	vlan        *node // kept as given (virNetDevVlan)
}

// NetworkPortCreateReclaim and NetworkPortCreateValidate are
// virNetworkPortCreateFlags.
const (
	NetworkPortCreateReclaim  = 1 << 0
	NetworkPortCreateValidate = 1 << 1
)

func errPort(code virerr.Code, format string, a ...any) error {
	return virerr.New(virerr.FromNetwork, code, format, a...)
}

// VirtualPortType is the <virtualport type=”> of the port, "" without one.
func (p *NetworkPort) VirtualPortType() string {
	if p.virtualPort == nil {
		return ""
	}
	return p.virtualPort.attr("type")
}

// HasVLAN says whether the port has a <vlan>.
func (p *NetworkPort) HasVLAN() bool { return p.vlan != nil && len(p.vlan.elems()) > 0 }

// ParseNetworkPort reads a <networkport> document with the checks and
// messages of virNetworkPortDefParseXML.
func ParseNetworkPort(data []byte) (*NetworkPort, error) {
	root, err := parseTree(data, virerr.FromNetwork, "(networkport_definition)")
	if err != nil {
		return nil, err
	}
	if root.name != "networkport" {
		return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "expecting root element of 'networkport', not '%s'", root.name)
	}
	p := &NetworkPort{}
	s := strings.TrimSpace
	u := root.str("uuid")
	if u == "" {
		return nil, errPort(virerr.ErrInternalError, "network port has no uuid")
	}
	if p.UUID, err = uuid.Parse(s(u)); err != nil {
		return nil, errPort(virerr.ErrInternalError, "Unable to parse UUID '%s'", u)
	}
	if p.OwnerName = root.str("owner/name"); p.OwnerName == "" {
		return nil, errPort(virerr.ErrInternalError, "network port has no owner name")
	}
	ou := root.str("owner/uuid")
	if ou == "" {
		return nil, errPort(virerr.ErrInternalError, "network port has no owner UUID")
	}
	if p.OwnerUUID, err = uuid.Parse(s(ou)); err != nil {
		return nil, errPort(virerr.ErrInternalError, "Unable to parse UUID '%s'", ou)
	}
	p.Group = root.str("group")
	if vp := root.child("virtualport"); vp != nil {
		p.virtualPort = vp.clone()
	}
	mac := root.str("mac/@address")
	if mac == "" {
		return nil, errPort(virerr.ErrInternalError, "network port has no mac")
	}
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return nil, errPort(virerr.ErrInternalError, "Unable to parse MAC '%s'", mac)
	}
	p.MAC = hw.String()
	if b := root.child("bandwidth"); b != nil {
		if err := p.parseBandwidth(b); err != nil {
			return nil, err
		}
	}
	if v := root.child("vlan"); v != nil {
		p.vlan = v.clone()
	}
	if p.Isolated, err = yesNoAttr(root.child("port"), "isolated"); err != nil {
		return nil, err
	}
	if p.TrustGuest, err = yesNoAttr(root.child("rxfilters"), "trustGuest"); err != nil {
		return nil, err
	}
	plug := root.child("plug")
	if plug == nil || plug.attr("type") == "" {
		p.PlugType = "none"
		return p, nil
	}
	p.PlugType = plug.attr("type")
	switch p.PlugType {
	case "none":
	case "network", "bridge":
		if p.Bridge = plug.attr("bridge"); p.Bridge == "" && plug.attrIndex("bridge") < 0 {
			return nil, errPort(virerr.ErrXMLError, "Missing network port bridge name")
		}
		if m := plug.attr("macTableManager"); plug.attrIndex("macTableManager") >= 0 {
			if m != "kernel" && m != "libvirt" {
				return nil, errPort(virerr.ErrXMLError, "Invalid macTableManager setting '%s' in network port", m)
			}
			p.MACTableManager = m
		}
	case "direct":
		if plug.attrIndex("dev") < 0 {
			return nil, errPort(virerr.ErrXMLError, "Missing network port link device name")
		}
		p.Dev = plug.attr("dev")
		p.Mode = "vepa" // virNetDevMacVLanMode's first value
		if plug.attrIndex("mode") >= 0 {
			switch m := plug.attr("mode"); m {
			case "vepa", "private", "bridge", "passthrough":
				p.Mode = m
			default:
				return nil, errPort(virerr.ErrXMLError, "Invalid mode setting '%s' in network port", m)
			}
		}
	case "hostdev-pci":
		if p.Managed, err = yesNoAttr(plug, "managed"); err != nil {
			return nil, err
		}
		if d := plug.child("driver"); d != nil && d.attrIndex("name") >= 0 {
			switch n := d.attr("name"); n {
			case "kvm", "vfio", "xen":
				p.Driver = n
			default:
				return nil, errPort(virerr.ErrXMLError, "Missing network port driver name")
			}
		}
		a := plug.child("address")
		if a == nil {
			return nil, errPort(virerr.ErrXMLError, "Missing network port PCI address")
		}
		for i, f := range []string{"domain", "bus", "slot", "function"} {
			if a.attrIndex(f) < 0 {
				continue
			}
			v, err := strconv.ParseUint(a.attr(f), 0, 32)
			if err != nil {
				return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "Invalid value for attribute '%s' in element 'address': '%s'. Expected non-negative integer value", f, a.attr(f))
			}
			p.PCI[i] = v
		}
	default:
		return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "Invalid value for attribute 'type' in element 'plug': '%s'.", p.PlugType)
	}
	return p, nil
}

// yesNoAttr is virXMLPropTristateBool without a required value.
func yesNoAttr(n *node, name string) (string, error) {
	if n == nil || n.attrIndex(name) < 0 {
		return "", nil
	}
	switch v := n.attr(name); v {
	case "yes", "no":
		return v, nil
	default:
		return "", virerr.New(virerr.FromXML, virerr.ErrXMLError, "Invalid value for attribute '%s' in element '%s': '%s'. Expected one of 'yes', 'no'", name, n.name, v)
	}
}

// parseBandwidth is virNetDevBandwidthParse with floor allowed.
func (p *NetworkPort) parseBandwidth(b *node) error {
	if b.attrIndex("classID") >= 0 {
		v, err := strconv.ParseUint(b.attr("classID"), 10, 32)
		if err != nil {
			return virerr.New(virerr.FromXML, virerr.ErrXMLError, "Invalid value for attribute 'classID' in element 'bandwidth': '%s'. Expected non-negative integer value", b.attr("classID"))
		}
		p.ClassID = v
	}
	read := func(name string) (*BandwidthRate, error) {
		list := b.childrenNamed(name)
		if len(list) == 0 {
			return nil, nil
		}
		if len(list) > 1 {
			return nil, errPort(virerr.ErrXMLError, "Only one child <%s> element allowed", name)
		}
		e := list[0]
		r := &BandwidthRate{}
		for _, f := range []struct {
			attr string
			dst  *uint64
		}{{"average", &r.Average}, {"peak", &r.Peak}, {"burst", &r.Burst}, {"floor", &r.Floor}} {
			if e.attrIndex(f.attr) < 0 {
				continue
			}
			v, err := strconv.ParseUint(e.attr(f.attr), 10, 64)
			if err != nil {
				return nil, errPort(virerr.ErrConfigUnsupported, "could not convert bandwidth %s value '%s'", f.attr, e.attr(f.attr))
			}
			*f.dst = v
		}
		if r.Average == 0 && r.Floor == 0 {
			return nil, errPort(virerr.ErrXMLDetail, "Missing mandatory average or floor attributes")
		}
		if (r.Peak != 0 || r.Burst != 0) && r.Average == 0 {
			return nil, errPort(virerr.ErrXMLDetail, "'peak' and 'burst' require 'average' attribute")
		}
		return r, nil
	}
	var err error
	if p.In, err = read("inbound"); err != nil {
		return err
	}
	if p.Out, err = read("outbound"); err != nil {
		return err
	}
	if p.Out != nil && p.Out.Floor != 0 {
		return errPort(virerr.ErrConfigUnsupported, "'floor' attribute allowed only in <inbound> element")
	}
	return nil
}

// Format writes the port as virNetworkPortDefFormat.
func (p *NetworkPort) Format() []byte {
	root := newElem("networkport")
	text := func(name, v string) *node {
		e := newElem(name)
		e.setText(v)
		return e
	}
	root.kids = append(root.kids, text("uuid", p.UUID.String()))
	owner := newElem("owner")
	owner.kids = append(owner.kids, text("name", p.OwnerName), text("uuid", p.OwnerUUID.String()))
	root.kids = append(root.kids, owner)
	if p.Group != "" {
		root.kids = append(root.kids, text("group", p.Group))
	}
	mac := newElem("mac")
	mac.setAttr("address", p.MAC)
	root.kids = append(root.kids, mac)
	if p.virtualPort != nil {
		root.kids = append(root.kids, p.virtualPort.clone())
	}
	if b := p.bandwidthNode(); b != nil {
		root.kids = append(root.kids, b)
	}
	if p.HasVLAN() {
		root.kids = append(root.kids, p.vlan.clone())
	}
	if p.Isolated != "" {
		e := newElem("port")
		e.setAttr("isolated", p.Isolated)
		root.kids = append(root.kids, e)
	}
	if p.TrustGuest != "" {
		e := newElem("rxfilters")
		e.setAttr("trustGuest", p.TrustGuest)
		root.kids = append(root.kids, e)
	}
	if p.PlugType != "" && p.PlugType != "none" {
		plug := newElem("plug")
		plug.setAttr("type", p.PlugType)
		switch p.PlugType {
		case "network", "bridge":
			plug.setAttr("bridge", p.Bridge)
			if p.MACTableManager != "" {
				plug.setAttr("macTableManager", p.MACTableManager)
			}
		case "direct":
			plug.setAttr("dev", p.Dev)
			plug.setAttr("mode", p.Mode)
		case "hostdev-pci":
			if p.Managed != "" {
				plug.setAttr("managed", p.Managed)
			}
			plug.open = true
			if p.Driver != "" {
				d := newElem("driver")
				d.setAttr("name", p.Driver)
				plug.kids = append(plug.kids, d)
			}
			a := newElem("address")
			a.setAttr("domain", fmt.Sprintf("0x%04x", p.PCI[0]))
			a.setAttr("bus", fmt.Sprintf("0x%02x", p.PCI[1]))
			a.setAttr("slot", fmt.Sprintf("0x%02x", p.PCI[2]))
			a.setAttr("function", fmt.Sprintf("0x%d", p.PCI[3]))
			plug.kids = append(plug.kids, a)
		}
		root.kids = append(root.kids, plug)
	}
	return writeTree(root)
}

// bandwidthNode is virNetDevBandwidthFormat: classID, then each
// direction's average, peak, floor and burst (zero ones left out).
func (p *NetworkPort) bandwidthNode() *node {
	if p.In == nil && p.Out == nil {
		return nil
	}
	b := newElem("bandwidth")
	if p.ClassID != 0 {
		b.setAttr("classID", strconv.FormatUint(p.ClassID, 10))
	}
	add := func(name string, r *BandwidthRate) {
		if r == nil {
			return
		}
		e := newElem(name)
		for _, a := range []struct {
			name string
			v    uint64
		}{{"average", r.Average}, {"peak", r.Peak}, {"floor", r.Floor}, {"burst", r.Burst}} {
			if a.v != 0 {
				e.setAttr(a.name, strconv.FormatUint(a.v, 10))
			}
		}
		b.kids = append(b.kids, e)
	}
	add("inbound", p.In)
	add("outbound", p.Out)
	return b
}

// Clone returns a deep copy.
func (p *NetworkPort) Clone() *NetworkPort {
	c := *p
	if p.In != nil {
		in := *p.In
		c.In = &in
	}
	if p.Out != nil {
		out := *p.Out
		c.Out = &out
	}
	if p.virtualPort != nil {
		c.virtualPort = p.virtualPort.clone()
	}
	if p.vlan != nil {
		c.vlan = p.vlan.clone()
	}
	return &c
}

// NetworkPortFromInterface is virDomainNetDefToNetworkPort: the port a
// guest NIC of type network asks its network for, before allocation
// (plug type none). uuid is the port's own, new or the one the NIC had.
func NetworkPortFromInterface(id uuid.UUID, owner string, ownerUUID uuid.UUID, n *Interface) *NetworkPort {
	p := &NetworkPort{UUID: id, OwnerName: owner, OwnerUUID: ownerUUID, PlugType: "none"}
	if hw, err := net.ParseMAC(n.MAC); err == nil {
		p.MAC = hw.String()
	} else {
		p.MAC = strings.ToLower(n.MAC)
	}
	p.In, p.Out = InterfaceBandwidth(n)
	if n.x != nil {
		p.Group = n.x.str("source/@portgroup")
		if vp := n.x.child("virtualport"); vp != nil {
			p.virtualPort = vp.clone()
		}
		if v := n.x.child("vlan"); v != nil {
			p.vlan = v.clone()
		}
		p.Isolated = n.x.str("port/@isolated")
		p.TrustGuest = n.x.attr("trustGuestRxFilters")
	}
	return p
}

// SetInterfacePortID puts portid='UUID' on a NIC's <source>, where
// libvirt writes it: after network and portgroup, before bridge.
// A zero UUID removes it.
func SetInterfacePortID(n *Interface, id uuid.UUID) {
	if n.x == nil {
		n.x = n.toNode()
	}
	src := n.x.child("source")
	if src == nil {
		if id.IsZero() {
			return
		}
		src = n.x.ensureChild("source")
	}
	src.delAttr("portid")
	if id.IsZero() {
		return
	}
	at := len(src.attrs)
	for i, a := range src.attrs {
		if a.name != "network" && a.name != "portgroup" {
			at = i
			break
		}
	}
	src.attrs = append(src.attrs, attr{})
	copy(src.attrs[at+1:], src.attrs[at:])
	src.attrs[at] = attr{name: "portid", value: id.String()}
}

// InterfacePortID is the portid of a NIC's <source>, zero when none.
func InterfacePortID(n *Interface) uuid.UUID {
	if n == nil || n.x == nil {
		return uuid.UUID{}
	}
	u, err := uuid.Parse(n.x.str("source/@portid"))
	if err != nil {
		return uuid.UUID{}
	}
	return u
}
