package nodedev

import (
	"fmt"
	"strings"
)

// xmlBuf is virBuffer with its indentation.
type xmlBuf struct {
	sb     strings.Builder
	indent int
}

func (b *xmlBuf) line(format string, args ...any) {
	b.sb.WriteString(strings.Repeat(" ", b.indent))
	fmt.Fprintf(&b.sb, format, args...)
	b.sb.WriteByte('\n')
}

func (b *xmlBuf) in()  { b.indent += 2 }
func (b *xmlBuf) out() { b.indent -= 2 }

// esc is virBufferEscapeString's escaping for text and attributes.
func esc(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '<':
			sb.WriteString("&lt;")
		case r == '>':
			sb.WriteString("&gt;")
		case r == '&':
			sb.WriteString("&amp;")
		case r == '"':
			sb.WriteString("&quot;")
		case r == '\'':
			sb.WriteString("&apos;")
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r':
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

var pcieSpeeds = []string{"", "2.5", "5", "8", "16", "32", "64"}

var pciHeaderTypes = []string{"endpoint", "pci-bridge", "cardbus-bridge"}

func fmtAddr(a PCIAddr) string {
	return fmt.Sprintf("<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%d'/>", a.Domain, a.Bus, a.Slot, a.Function)
}

// Format is virNodeDeviceDefFormat.
func (d *Device) Format() string {
	b := &xmlBuf{}
	b.line("<device>")
	b.in()
	b.line("<name>%s</name>", esc(d.Name))
	if d.Path != "" {
		b.line("<path>%s</path>", esc(d.Path))
	}
	if d.Devnode != "" {
		b.line("<devnode type='dev'>%s</devnode>", esc(d.Devnode))
	}
	for _, l := range d.Devlinks {
		b.line("<devnode type='link'>%s</devnode>", esc(l))
	}
	if d.Parent != "" {
		b.line("<parent>%s</parent>", esc(d.Parent))
	}
	if d.Driver != "" {
		b.line("<driver>")
		b.in()
		b.line("<name>%s</name>", esc(d.Driver))
		b.out()
		b.line("</driver>")
	}
	b.line("<capability type='%s'>", d.Cap.Type)
	b.in()
	c := &d.Cap
	switch {
	case c.System != nil:
		formatSystem(b, c.System)
	case c.PCI != nil:
		formatPCI(b, c.PCI)
	case c.USBDev != nil:
		u := c.USBDev
		b.line("<bus>%d</bus>", u.Bus)
		b.line("<device>%d</device>", u.Device)
		if u.ProductName != "" {
			b.line("<product id='0x%04x'>%s</product>", u.Product, esc(u.ProductName))
		} else {
			b.line("<product id='0x%04x' />", u.Product)
		}
		if u.VendorName != "" {
			b.line("<vendor id='0x%04x'>%s</vendor>", u.Vendor, esc(u.VendorName))
		} else {
			b.line("<vendor id='0x%04x' />", u.Vendor)
		}
	case c.USBIf != nil:
		u := c.USBIf
		b.line("<number>%d</number>", u.Number)
		b.line("<class>%d</class>", u.Class)
		b.line("<subclass>%d</subclass>", u.Subclass)
		b.line("<protocol>%d</protocol>", u.Protocol)
	case c.Net != nil:
		formatNet(b, c.Net)
	case c.SCSIHost != nil:
		formatSCSIHost(b, c.SCSIHost)
	case c.SCSITarget != nil:
		t := c.SCSITarget
		b.line("<target>%s</target>", esc(t.Name))
		if t.Rport != "" {
			b.line("<capability type='fc_remote_port'>")
			b.in()
			b.line("<rport>%s</rport>", t.Rport)
			b.line("<wwpn>%s</wwpn>", t.RportWWPN)
			b.out()
			b.line("</capability>")
		}
	case c.SCSI != nil:
		s := c.SCSI
		b.line("<host>%d</host>", s.Host)
		b.line("<bus>%d</bus>", s.Bus)
		b.line("<target>%d</target>", s.Target)
		b.line("<lun>%d</lun>", s.Lun)
		if s.Type != "" {
			b.line("<type>%s</type>", esc(s.Type))
		}
	case c.Storage != nil:
		formatStorage(b, c.Storage)
	case c.Type == "scsi_generic":
		b.line("<char>%s</char>", esc(c.SGPath))
	case c.Type == "drm":
		b.line("<type>%s</type>", esc(c.DRMType))
	case c.Mdev != nil:
		// virNodeDeviceCapMdevDefFormat
		b.line("<type id='%s'/>", esc(c.Mdev.Type))
		b.line("<uuid>%s</uuid>", esc(c.Mdev.UUID))
		b.line("<parent_addr>%s</parent_addr>", esc(c.Mdev.ParentAddr))
		b.line("<iommuGroup number='%d'/>", c.Mdev.IOMMUGroup)
	}
	b.out()
	b.line("</capability>")
	b.out()
	b.line("</device>")
	return b.sb.String()
}

func formatSystem(b *xmlBuf, s *SystemCap) {
	if s.ProductName != "" {
		b.line("<product>%s</product>", esc(s.ProductName))
	}
	b.line("<hardware>")
	b.in()
	if s.HWVendor != "" {
		b.line("<vendor>%s</vendor>", esc(s.HWVendor))
	}
	if s.HWVersion != "" {
		b.line("<version>%s</version>", esc(s.HWVersion))
	}
	if s.HWSerial != "" {
		b.line("<serial>%s</serial>", esc(s.HWSerial))
	}
	b.line("<uuid>%s</uuid>", s.UUID)
	b.out()
	b.line("</hardware>")
	b.line("<firmware>")
	b.in()
	if s.FWVendor != "" {
		b.line("<vendor>%s</vendor>", esc(s.FWVendor))
	}
	if s.FWVersion != "" {
		b.line("<version>%s</version>", esc(s.FWVersion))
	}
	if s.FWDate != "" {
		b.line("<release_date>%s</release_date>", esc(s.FWDate))
	}
	b.out()
	b.line("</firmware>")
}

func formatPCI(b *xmlBuf, p *PCICap) {
	if p.Class >= 0 {
		b.line("<class>0x%06x</class>", p.Class)
	}
	b.line("<domain>%d</domain>", p.Addr.Domain)
	b.line("<bus>%d</bus>", p.Addr.Bus)
	b.line("<slot>%d</slot>", p.Addr.Slot)
	b.line("<function>%d</function>", p.Addr.Function)
	if p.ProductName != "" {
		b.line("<product id='0x%04x'>%s</product>", p.Product, esc(p.ProductName))
	} else {
		b.line("<product id='0x%04x'/>", p.Product)
	}
	if p.VendorName != "" {
		b.line("<vendor id='0x%04x'>%s</vendor>", p.Vendor, esc(p.VendorName))
	} else {
		b.line("<vendor id='0x%04x'/>", p.Vendor)
	}
	if p.PhysFn != nil {
		b.line("<capability type='phys_function'>")
		b.in()
		b.line("%s", fmtAddr(*p.PhysFn))
		b.out()
		b.line("</capability>")
	}
	if p.HasVFCap {
		open := "<capability type='virt_functions'"
		if p.MaxVFs > 0 {
			open += fmt.Sprintf(" maxCount='%d'", p.MaxVFs)
		}
		if len(p.VirtFns) == 0 {
			b.line("%s/>", open)
		} else {
			b.line("%s>", open)
			b.in()
			for _, a := range p.VirtFns {
				b.line("%s", fmtAddr(a))
			}
			b.out()
			b.line("</capability>")
		}
	}
	if p.HdrType > 0 && p.HdrType < len(pciHeaderTypes) {
		b.line("<capability type='%s'/>", pciHeaderTypes[p.HdrType])
	}
	if len(p.MdevTypes) > 0 {
		b.line("<capability type='mdev_types'>")
		b.in()
		for _, t := range p.MdevTypes {
			b.line("<type id='%s'>", esc(t.ID))
			b.in()
			if t.Name != "" {
				b.line("<name>%s</name>", esc(t.Name))
			}
			b.line("<deviceAPI>%s</deviceAPI>", esc(t.DeviceAPI))
			b.line("<availableInstances>%d</availableInstances>", t.Available)
			b.out()
			b.line("</type>")
		}
		b.out()
		b.line("</capability>")
	}
	if p.VPD != nil {
		formatVPD(b, p.VPD)
	}
	if len(p.IOMMUDevs) > 0 {
		b.line("<iommuGroup number='%d'>", p.IOMMUGroup)
		b.in()
		for _, a := range p.IOMMUDevs {
			b.line("%s", fmtAddr(a))
		}
		b.out()
		b.line("</iommuGroup>")
	}
	if p.NUMANode >= 0 {
		b.line("<numa node='%d'/>", p.NUMANode)
	}
	if p.PCIe {
		if p.LinkCap == nil && p.LinkSta == nil {
			b.line("<pci-express/>")
			return
		}
		b.line("<pci-express>")
		b.in()
		for _, l := range []struct {
			l *PCILink
			v string
		}{{p.LinkCap, "cap"}, {p.LinkSta, "sta"}} {
			if l.l == nil {
				continue
			}
			s := fmt.Sprintf("<link validity='%s'", l.v)
			if l.l.Port >= 0 {
				s += fmt.Sprintf(" port='%d'", l.l.Port)
			}
			if l.l.Speed > 0 && int(l.l.Speed) < len(pcieSpeeds) {
				s += fmt.Sprintf(" speed='%s'", pcieSpeeds[l.l.Speed])
			}
			s += fmt.Sprintf(" width='%d'/>", l.l.Width)
			b.line("%s", s)
		}
		b.out()
		b.line("</pci-express>")
	}
}

// formatLink is virInterfaceLinkFormat.
func formatLink(b *xmlBuf, state string, speed uint) {
	if speed == 0 && state == "" {
		return
	}
	s := "<link"
	if speed > 0 {
		s += fmt.Sprintf(" speed='%d'", speed)
	}
	if state != "" {
		s += fmt.Sprintf(" state='%s'", state)
	}
	b.line("%s/>", s)
}

func formatNet(b *xmlBuf, n *NetCap) {
	b.line("<interface>%s</interface>", esc(n.Ifname))
	if n.Address != "" {
		b.line("<address>%s</address>", esc(n.Address))
	}
	formatLink(b, n.State, n.Speed)
	for _, f := range n.Features {
		b.line("<feature name='%s'/>", f)
	}
	b.line("<capability type='%s'/>", n.Subtype)
}

func formatSCSIHost(b *xmlBuf, h *SCSIHostCap) {
	b.line("<host>%d</host>", h.Host)
	if h.UniqueID != -1 {
		b.line("<unique_id>%d</unique_id>", h.UniqueID)
	}
	if h.FC {
		b.line("<capability type='fc_host'>")
		b.in()
		b.line("<wwnn>%s</wwnn>", esc(h.WWNN))
		b.line("<wwpn>%s</wwpn>", esc(h.WWPN))
		if h.FabricWWN != "" {
			b.line("<fabric_wwn>%s</fabric_wwn>", esc(h.FabricWWN))
		}
		b.out()
		b.line("</capability>")
	}
	if h.Vport {
		b.line("<capability type='vport_ops'>")
		b.in()
		b.line("<max_vports>%d</max_vports>", h.MaxVports)
		b.line("<vports>%d</vports>", h.Vports)
		b.out()
		b.line("</capability>")
	}
}

func formatStorage(b *xmlBuf, s *StorageCap) {
	b.line("<block>%s</block>", esc(s.Block))
	for _, e := range []struct{ tag, v string }{{"bus", s.Bus}, {"drive_type", s.DriveType}, {"model", s.Model}, {"vendor", s.Vendor}, {"serial", s.Serial}} {
		if e.v != "" {
			b.line("<%s>%s</%s>", e.tag, esc(e.v), e.tag)
		}
	}
	if s.Removable {
		b.line("<capability type='removable'>")
		b.in()
		avl := 0
		if s.MediaAvailable {
			avl = 1
		}
		b.line("<media_available>%d</media_available>", avl)
		b.line("<media_size>%d</media_size>", s.MediaSize)
		if s.MediaLabel != "" {
			b.line("<media_label>%s</media_label>", esc(s.MediaLabel))
		}
	} else {
		b.line("<size>%d</size>", s.Size)
	}
	if s.LogicalBlockSize > 0 {
		b.line("<logical_block_size>%d</logical_block_size>", s.LogicalBlockSize)
	}
	if s.NumBlocks > 0 {
		b.line("<num_blocks>%d</num_blocks>", s.NumBlocks)
	}
	if s.Removable {
		b.out()
		b.line("</capability>")
	}
}
