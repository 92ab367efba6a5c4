package conf

import (
	"govirt/virerr"
)

// HostInterface is a host network interface document (virInterfaceDef):
// the root <interface type='ethernet|bridge|bond|vlan' name=”> the
// interface APIs exchange. Interface is the domain's device of the same
// element name.
type HostInterface struct {
	Type      string // ethernet, bridge, bond, vlan
	Name      string
	MAC       string // <mac address=''>
	StartMode string // <start mode=''>: onboot, hotplug, none
	MTU       uint   // <mtu size=''>, 0 when unset
	x         *node
}

// ParseHostInterface reads a host <interface> document.
func ParseHostInterface(data []byte, flags ParseFlags) (*HostInterface, error) {
	root, err := parseRoot(data, "interface", virerr.FromInterface, flags)
	if err != nil {
		return nil, err
	}
	i := &HostInterface{x: root, Type: root.attr("type"), Name: root.attr("name")}
	if i.Type == "" {
		return nil, virerr.New(virerr.FromInterface, virerr.ErrXMLError, "interface misses the type attribute")
	}
	if i.Name == "" && i.Type != "vlan" {
		return nil, virerr.New(virerr.FromInterface, virerr.ErrXMLError, "interface has no name")
	}
	i.MAC = root.str("mac/@address")
	i.StartMode = root.str("start/@mode")
	i.MTU = uint(root.uintAt("mtu/@size"))
	return i, nil
}

// Format writes the document.
func (i *HostInterface) Format(flags FormatFlags) ([]byte, error) {
	root := cloneOr(i.x, "interface")
	root.put("@type", i.Type)
	root.put("@name", i.Name)
	root.put("start/@mode", i.StartMode)
	root.putUint("mtu/@size", uint64(i.MTU), nil)
	root.put("mac/@address", i.MAC)
	ifaceOrder(root)
	return writeTree(root), nil
}

// ifaceRank is where virInterfaceDefDevFormat writes each child of a
// top-level interface: start, mtu, protocol, link, then the type's own
// part (an ethernet's mac, the bridge, bond or vlan element).
var ifaceRank = map[string]int{"start": 0, "mtu": 1, "protocol": 2, "link": 3, "mac": 4, "bridge": 4, "bond": 4, "vlan": 4}

// ifaceOrder puts the children of a document written in another order in
// libvirt's; unknown ones stay last, in their order.
func ifaceOrder(root *node) {
	rank := func(k *node) int {
		if k.kind != elemNode {
			return 5
		}
		if r, ok := ifaceRank[k.name]; ok {
			return r
		}
		return 5
	}
	kids := make([]*node, 0, len(root.kids))
	for r := 0; r <= 5; r++ {
		for _, k := range root.kids {
			if rank(k) == r {
				kids = append(kids, k)
			}
		}
	}
	root.kids = kids
}

// Clone returns a deep copy.
func (i *HostInterface) Clone() *HostInterface {
	if i == nil {
		return nil
	}
	c := *i
	c.x = i.x.clone()
	return &c
}
