package conf

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"govirt/virerr"
)

// DomainCheckpoint is a <domaincheckpoint> document
// (virDomainCheckpointDef).
type DomainCheckpoint struct {
	Name         string
	Description  string
	Parent       string // <parent><name>
	CreationTime int64
	Disks        []CheckpointDisk
	Domain       *Domain // the embedded <domain>; nil when absent
}

// CheckpointDisk is one <disks><disk>. Type is "" (default, written
// without the attribute), "no" or "bitmap".
type CheckpointDisk struct {
	Name   string
	Type   string
	Bitmap string
}

// CheckpointParseRedefine is VIR_DOMAIN_CHECKPOINT_PARSE_REDEFINE: the
// document is one a client saved earlier, so name and creation time must
// be there and parent and domain are taken from it.
const CheckpointParseRedefine ParseFlags = 1 << 30

// ParseDomainCheckpoint reads a <domaincheckpoint> document as
// virDomainCheckpointDefParseString does. A new checkpoint (no redefine)
// gets the creation time now and, without a name, that time as its name.
func ParseDomainCheckpoint(data []byte, flags ParseFlags) (*DomainCheckpoint, error) {
	const from = virerr.FromDomainCheckpoint
	root, err := parseTree(data, from, docNames["domaincheckpoint"])
	if err != nil {
		return nil, err
	}
	if root.name != "domaincheckpoint" {
		// virXMLParse's own check, reported from its file (VIR_FROM_XML).
		return nil, virerr.New(virerr.FromXML, virerr.ErrXMLError, "expecting root element of 'domaincheckpoint', not '%s'", root.name)
	}
	if err := checkCheckpointSchema(root); err != nil {
		return nil, err
	}
	c := &DomainCheckpoint{Name: root.str("name"), Description: root.str("description")}
	_, hasName := root.get("name")
	if flags&CheckpointParseRedefine != 0 {
		if !hasName {
			return nil, virerr.New(from, virerr.ErrXMLError, "a redefined checkpoint must have a name")
		}
		ct, err := strconv.ParseInt(strings.TrimSpace(root.str("creationTime")), 10, 64)
		if err != nil {
			return nil, virerr.New(from, virerr.ErrInternalError, "missing creationTime from existing checkpoint")
		}
		c.CreationTime = ct
		c.Parent = root.str("parent/name")
		if dn := root.child("domain"); dn != nil {
			if c.Domain, err = domainFromTree(dn, 0); err != nil {
				return nil, err
			}
		}
	} else {
		c.CreationTime = time.Now().Unix()
		if !hasName {
			c.Name = strconv.FormatInt(c.CreationTime, 10)
		}
	}
	for _, dn := range root.child("disks").elems() {
		d := CheckpointDisk{Name: dn.attr("name"), Type: dn.attr("checkpoint"), Bitmap: dn.attr("bitmap")}
		if d.Type == "" {
			d.Type = "bitmap"
		}
		c.Disks = append(c.Disks, d)
	}
	return c, nil
}

// checkCheckpointSchema is the part of domaincheckpoint.rng a client can
// get wrong: the known elements and the values of <disk checkpoint>.
func checkCheckpointSchema(root *node) error {
	bad := func() error {
		return schemaError(virerr.FromDomainCheckpoint, schemaDir+"/domaincheckpoint.rng", "Element '%s' failed to validate", root.name)
	}
	for _, k := range root.elems() {
		switch k.name {
		case "name", "description", "parent", "creationTime", "domain":
		case "disks":
			for _, d := range k.elems() {
				if d.name != "disk" || d.attr("name") == "" {
					return bad()
				}
				if t := d.attr("checkpoint"); t != "" && t != "no" && t != "bitmap" {
					return bad()
				}
			}
		default:
			return bad()
		}
	}
	return nil
}

// schemaDir is where libvirt 9.0's Debian package keeps its schemas.
const schemaDir = "/usr/share/libvirt/schemas"

// CheckpointFormatNoDomain leaves the domain out
// (VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN); FormatSecure is shared.
const CheckpointFormatNoDomain FormatFlags = 1 << 28

// Format writes the document as virDomainCheckpointDefFormat does.
func (c *DomainCheckpoint) Format(flags FormatFlags) ([]byte, error) {
	var b strings.Builder
	esc := func(v string) string {
		var e bytes.Buffer
		_ = xml.EscapeText(&e, []byte(v))
		return strings.ReplaceAll(e.String(), "&#39;", "&apos;")
	}
	b.WriteString("<domaincheckpoint>\n")
	fmt.Fprintf(&b, "  <name>%s</name>\n", esc(c.Name))
	if c.Description != "" {
		fmt.Fprintf(&b, "  <description>%s</description>\n", esc(c.Description))
	}
	if c.Parent != "" {
		fmt.Fprintf(&b, "  <parent>\n    <name>%s</name>\n  </parent>\n", esc(c.Parent))
	}
	if c.CreationTime != 0 {
		fmt.Fprintf(&b, "  <creationTime>%d</creationTime>\n", c.CreationTime)
	}
	if len(c.Disks) > 0 {
		b.WriteString("  <disks>\n")
		for _, d := range c.Disks {
			if d.Name == "" {
				continue
			}
			fmt.Fprintf(&b, "    <disk name='%s'", esc(d.Name))
			if d.Type != "" && d.Type != "default" {
				fmt.Fprintf(&b, " checkpoint='%s'", d.Type)
			}
			if d.Bitmap != "" {
				fmt.Fprintf(&b, " bitmap='%s'", esc(d.Bitmap))
			}
			b.WriteString("/>\n")
		}
		b.WriteString("  </disks>\n")
	}
	if c.Domain != nil && flags&CheckpointFormatNoDomain == 0 {
		dom, err := c.Domain.Format(flags&FormatSecure | FormatInactive)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.SplitAfter(strings.TrimRight(string(dom), "\n"), "\n") {
			b.WriteString("  " + line)
		}
		b.WriteString("\n")
	}
	b.WriteString("</domaincheckpoint>\n")
	return []byte(b.String()), nil
}

// Clone returns a deep copy.
func (c *DomainCheckpoint) Clone() *DomainCheckpoint {
	n := *c
	n.Disks = append([]CheckpointDisk(nil), c.Disks...)
	n.Domain = c.Domain.Clone()
	return &n
}

// AlignCheckpointDisks is virDomainCheckpointAlignDisks: one entry per
// disk of c.Domain in its order, named by target; disks the document
// leaves out get a bitmap when it lists none (unless empty or read-only),
// nothing otherwise; bitmaps default to the checkpoint's name.
func (c *DomainCheckpoint) AlignDisks() error {
	const from = virerr.FromDomainCheckpoint
	dom := c.Domain
	if dom == nil {
		return virerr.New(from, virerr.ErrInternalError, "missing domain in checkpoint")
	}
	disks := dom.Devices.Disks
	if len(c.Disks) > len(disks) {
		return virerr.New(from, virerr.ErrConfigUnsupported, "too many disk checkpoint requests for domain")
	}
	if len(disks) == 0 {
		return virerr.New(from, virerr.ErrConfigUnsupported, "domain must have at least one disk to perform checkpoints")
	}
	def := "no"
	if len(c.Disks) == 0 {
		def = "bitmap"
	}
	byDst := map[string]CheckpointDisk{}
	for _, cd := range c.Disks {
		var dd *Disk
		for i := range disks {
			if disks[i].TargetDev == cd.Name || (disks[i].Source.Path != "" && disks[i].Source.Path == cd.Name) {
				dd = disks[i]
				break
			}
		}
		if dd == nil {
			return virerr.New(from, virerr.ErrConfigUnsupported, "no disk named '%s'", cd.Name)
		}
		if _, dup := byDst[dd.TargetDev]; dup {
			return virerr.New(from, virerr.ErrConfigUnsupported, "disk '%s' specified twice", cd.Name)
		}
		if (diskEmpty(dd) || dd.ReadOnly) && cd.Type != "no" {
			return virerr.New(from, virerr.ErrConfigUnsupported, "disk '%s' is empty or readonly", cd.Name)
		}
		cd.Name = dd.TargetDev
		byDst[dd.TargetDev] = cd
	}
	out := make([]CheckpointDisk, len(disks))
	for i := range disks {
		if cd, ok := byDst[disks[i].TargetDev]; ok {
			out[i] = cd
			continue
		}
		out[i] = CheckpointDisk{Name: disks[i].TargetDev, Type: def}
		if diskEmpty(disks[i]) || disks[i].ReadOnly {
			out[i].Type = "no"
		}
	}
	c.Disks = out
	c.AssignBitmapNames()
	return nil
}

// AssignBitmapNames names each bitmap without a name after the checkpoint.
func (c *DomainCheckpoint) AssignBitmapNames() {
	for i := range c.Disks {
		if c.Disks[i].Type == "bitmap" && c.Disks[i].Bitmap == "" {
			c.Disks[i].Bitmap = c.Name
		}
	}
}

// diskEmpty is virStorageSourceIsEmpty: a local source without a path.
func diskEmpty(d *Disk) bool {
	switch d.Source.Type {
	case "network", "volume", "nvme", "vhostuser", "vhostvdpa":
		return false
	}
	return d.Source.Path == ""
}
