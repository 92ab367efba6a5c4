package conf

import (
	"crypto/rand"
	"strconv"
	"strings"

	"govirt/virerr"
)

// NodeDevice is a <device> document (virNodeDeviceDef). The SCSI host
// capability, the one the node device calls act on (vHBA creation), is
// modelled; every other capability is kept as written.
type NodeDevice struct {
	Name            string
	Path            string // sysfs path
	Devnode         string
	Devlinks        []string
	Parent          string
	ParentWWNN      string
	ParentWWPN      string
	ParentFabricWWN string
	Driver          string
	Caps            []NodeDevCap
}

// NodeDevCap is one top-level <capability>.
type NodeDevCap struct {
	Type string
	// scsi_host
	Host, UniqueID    int // UniqueID -1: none
	FCHost, VportOps  bool
	WWNN, WWPN        string
	FabricWWN         string
	MaxVports, Vports int
	x                 *node // any other type: the element as written
}

// NodeDevCapTypes are virNodeDevCapType's names, in its order (which is
// also the order of the VIR_CONNECT_LIST_NODE_DEVICES_CAP_* bits).
var NodeDevCapTypes = []string{"system", "pci", "usb_device", "usb", "net", "scsi_host", "scsi_target", "scsi",
	"storage", "fc_host", "vports", "scsi_generic", "drm", "mdev_types", "mdev", "ccw", "css", "vdpa",
	"ap_card", "ap_queue", "ap_matrix", "vpd"}

// Node device parse modes (libvirt's EXISTING_DEVICE, CREATE_DEVICE).
const (
	NodeDevExisting = iota
	NodeDevCreate
)

// ParseNodeDevice reads a <device> document as virNodeDeviceDefParse.
func ParseNodeDevice(data []byte, mode int) (*NodeDevice, error) {
	root, err := parseTree(data, virerr.FromNodedev, docNames["device"])
	if err != nil {
		return nil, err
	}
	if root.name != "device" {
		return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "expecting root element of 'device', not '%s'", root.name)
	}
	return nodeDeviceFromTree(root, mode)
}

func nodeDeviceFromTree(root *node, mode int) (*NodeDevice, error) {
	const from = virerr.FromNodedev
	d := &NodeDevice{}
	if mode == NodeDevExisting {
		name, ok := root.get("name")
		if !ok {
			return nil, virerr.New(from, virerr.ErrNoName, "")
		}
		d.Name = strings.TrimSpace(name)
	} else {
		d.Name = "new device"
	}
	d.Path = root.str("path")
	for _, dn := range root.childrenNamed("devnode") {
		switch dn.attr("type") {
		case "dev":
			d.Devnode = dn.textContent()
		case "link":
			d.Devlinks = append(d.Devlinks, dn.textContent())
		case "":
			return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "Missing required attribute 'type' in element 'devnode'")
		default:
			return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "Invalid value for attribute 'type' in element 'devnode': '%s'.", dn.attr("type"))
		}
	}
	if p := root.child("parent"); p != nil {
		d.Parent = p.textContent()
		d.ParentWWNN, d.ParentWWPN, d.ParentFabricWWN = p.attr("wwnn"), p.attr("wwpn"), p.attr("fabric_wwn")
	}
	if d.ParentWWNN != "" && d.ParentWWPN == "" {
		return nil, virerr.New(from, virerr.ErrXMLError, "when providing parent wwnn='%s', the wwpn must also be provided", d.ParentWWNN)
	}
	if d.ParentWWNN == "" && d.ParentWWPN != "" {
		return nil, virerr.New(from, virerr.ErrXMLError, "when providing parent wwpn='%s', the wwnn must also be provided", d.ParentWWPN)
	}
	// <driver> is not read: libvirt fills it from udev only.
	caps := root.childrenNamed("capability")
	if len(caps) == 0 {
		return nil, virerr.New(from, virerr.ErrInternalError, "no device capabilities for '%s'", d.Name)
	}
	for _, cn := range caps {
		c, err := parseNodeDevCap(d, cn, mode)
		if err != nil {
			return nil, err
		}
		d.Caps = append(d.Caps, c)
	}
	return d, nil
}

func parseNodeDevCap(d *NodeDevice, cn *node, mode int) (NodeDevCap, error) {
	const from = virerr.FromNodedev
	t := cn.attr("type")
	// virXMLPropEnum's errors, from its file (VIR_FROM_XML).
	if _, ok := cn.get("@type"); !ok {
		return NodeDevCap{}, virerr.New(virerr.FromXML, virerr.ErrXMLError, "Missing required attribute 'type' in element 'capability'")
	}
	known := false
	for _, k := range NodeDevCapTypes {
		known = known || k == t
	}
	if !known {
		return NodeDevCap{}, virerr.New(virerr.FromXML, virerr.ErrXMLError, "Invalid value for attribute 'type' in element 'capability': '%s'.", t)
	}
	c := NodeDevCap{Type: t}
	if t != "scsi_host" {
		c.x = cn.clone()
		return c, nil
	}
	if mode == NodeDevExisting {
		s, ok := cn.get("host")
		if !ok {
			return c, virerr.New(from, virerr.ErrInternalError, "no SCSI host ID supplied for '%s'", d.Name)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 31)
		if err != nil {
			return c, virerr.New(from, virerr.ErrInternalError, "invalid SCSI host ID supplied for '%s'", d.Name)
		}
		c.Host = int(v)
		c.UniqueID = -1
		if s, ok := cn.get("unique_id"); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			if err != nil {
				return c, virerr.New(from, virerr.ErrInternalError, "invalid unique_id supplied for '%s'", d.Name)
			}
			c.UniqueID = int(v)
		}
	}
	for _, sub := range cn.childrenNamed("capability") {
		switch sub.attr("type") {
		case "vport_ops":
			c.VportOps = true
		case "fc_host":
			c.FCHost = true
			c.WWNN, c.WWPN, c.FabricWWN = sub.str("wwnn"), sub.str("wwpn"), sub.str("fabric_wwn")
			if c.WWNN == "" {
				c.WWNN = randomWWN()
			}
			if c.WWPN == "" {
				c.WWPN = randomWWN()
			}
		case "":
			return c, virerr.New(from, virerr.ErrInternalError, "missing SCSI host capability type for '%s'", d.Name)
		default:
			return c, virerr.New(from, virerr.ErrInternalError, "unknown SCSI host capability type '%s' for '%s'", sub.attr("type"), d.Name)
		}
	}
	return c, nil
}

// randomWWN is virRandomGenerateWWN for an unknown hypervisor type: the
// NAA 5 prefix with QEMU's OUI, as libvirt picks by default, then 9 random
// hex digits.
func randomWWN() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	id := (uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])) & 0xfffffffff
	return "5" + "001a4a" + leftPad(strconv.FormatUint(id, 16), 9)
}

// HasCap is virNodeDeviceObjHasCap: a SCSI host also answers to fc_host
// and vports when it has them. Other nested capabilities are not modelled.
func (d *NodeDevice) HasCap(t string) bool {
	for _, c := range d.Caps {
		if c.Type == t {
			return true
		}
		if c.Type == "scsi_host" && (t == "fc_host" && c.FCHost || t == "vports" && c.VportOps) {
			return true
		}
		if c.Type == "pci" && c.x != nil {
			for _, sub := range c.x.childrenNamed("capability") {
				if t == "mdev_types" && sub.attr("type") == "mdev_types" || t == "vpd" && sub.attr("type") == "vpd" {
					return true
				}
			}
		}
	}
	return false
}

// SCSIHost returns the scsi_host capability, or nil.
func (d *NodeDevice) SCSIHost() *NodeDevCap {
	for i := range d.Caps {
		if d.Caps[i].Type == "scsi_host" {
			return &d.Caps[i]
		}
	}
	return nil
}

// Clone returns a deep copy.
func (d *NodeDevice) Clone() *NodeDevice {
	n := *d
	n.Devlinks = append([]string(nil), d.Devlinks...)
	n.Caps = make([]NodeDevCap, len(d.Caps))
	for i, c := range d.Caps {
		c.x = c.x.clone()
		n.Caps[i] = c
	}
	return &n
}

// Format writes the document as virNodeDeviceDefFormat does.
func (d *NodeDevice) Format() []byte {
	root := newElem("device")
	text := func(parent *node, name, v string) *node {
		e := newElem(name)
		e.kids = []*node{{kind: textNode, text: v}}
		parent.kids = append(parent.kids, e)
		return e
	}
	text(root, "name", d.Name)
	if d.Path != "" {
		text(root, "path", d.Path)
	}
	if d.Devnode != "" {
		text(root, "devnode", d.Devnode).attrs = []attr{{"type", "dev"}}
	}
	for _, l := range d.Devlinks {
		text(root, "devnode", l).attrs = []attr{{"type", "link"}}
	}
	if d.Parent != "" {
		text(root, "parent", d.Parent)
	}
	if d.Driver != "" {
		drv := newElem("driver")
		text(drv, "name", d.Driver)
		root.kids = append(root.kids, drv)
	}
	for _, c := range d.Caps {
		if c.x != nil {
			root.kids = append(root.kids, stripBlank(c.x.clone()))
			continue
		}
		cn := newElem("capability")
		cn.attrs = []attr{{"type", c.Type}}
		text(cn, "host", strconv.Itoa(c.Host))
		if c.UniqueID != -1 {
			text(cn, "unique_id", strconv.Itoa(c.UniqueID))
		}
		if c.FCHost {
			fc := newElem("capability")
			fc.attrs = []attr{{"type", "fc_host"}}
			text(fc, "wwnn", c.WWNN)
			text(fc, "wwpn", c.WWPN)
			if c.FabricWWN != "" {
				text(fc, "fabric_wwn", c.FabricWWN)
			}
			cn.kids = append(cn.kids, fc)
		}
		if c.VportOps {
			vp := newElem("capability")
			vp.attrs = []attr{{"type", "vport_ops"}}
			text(vp, "max_vports", strconv.Itoa(c.MaxVports))
			text(vp, "vports", strconv.Itoa(c.Vports))
			cn.kids = append(cn.kids, vp)
		}
		root.kids = append(root.kids, cn)
	}
	return writeTree(root)
}

// stripBlank drops whitespace-only text between elements so the writer
// indents the element the way libvirt formats it.
func stripBlank(n *node) *node {
	if len(n.elems()) == 0 {
		return n
	}
	kids := n.kids[:0]
	for _, k := range n.kids {
		if k.kind == textNode && strings.TrimSpace(k.text) == "" {
			continue
		}
		if k.kind == elemNode {
			stripBlank(k)
		}
		kids = append(kids, k)
	}
	n.kids = kids
	return n
}
