package storagepool

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/uuid"
	"govirt/virerr"
)

// poolTypes are libvirt's virStoragePoolType names in enum order; the
// index is the number libvirt puts in "missing backend" errors and the
// bit (after 6) in the pool list filter.
var poolTypes = []string{"dir", "fs", "netfs", "logical", "disk", "iscsi", "scsi", "mpath", "rbd",
	"sheepdog", "gluster", "zfs", "vstorage", "iscsi-direct"}

func poolTypeIndex(typ string) int {
	for i, t := range poolTypes {
		if t == typ {
			return i
		}
	}
	return -1
}

// perms is a <permissions> element; -1 means "not given", as in libvirt.
type perms struct {
	mode     int
	uid, gid int64
}

var noPerms = perms{mode: -1, uid: -1, gid: -1}

func (p perms) set() bool { return p.mode != -1 || p.uid != -1 || p.gid != -1 }

// poolDef is the part of a <pool> the backends act on. It is formatted
// here rather than through conf because a live pool shows values conf does
// not model (the target's permissions as found on disk).
type poolDef struct {
	typ, name string
	uuid      uuid.UUID
	devices   []string
	srcName   string
	srcFormat string
	target    string
	perms     perms
}

func (d *poolDef) clone() *poolDef {
	c := *d
	c.devices = append([]string(nil), d.devices...)
	return &c
}

// parsePoolDef reads a <pool> document for one of the types govirt has a
// backend for.
func parsePoolDef(doc string, validate bool) (*poolDef, error) {
	var pf conf.ParseFlags
	if validate {
		pf |= conf.ParseValidate
	}
	p, err := conf.ParseStoragePool([]byte(doc), pf)
	if err != nil {
		return nil, err
	}
	if p.Type == "" {
		return nil, errStorage(virerr.ErrXMLError, "%s", "storage pool missing type attribute")
	}
	idx := poolTypeIndex(p.Type)
	if idx < 0 {
		return nil, errStorage(virerr.ErrInternalError, "unknown storage pool type %s", p.Type)
	}
	if strings.Contains(p.Name, "/") {
		return nil, errStorage(virerr.ErrXMLError, "name %s cannot contain '/'", p.Name)
	}
	if backendFor(p.Type) == nil {
		return nil, errStorage(virerr.ErrInternalError, "missing backend for pool type %d (%s)", idx, p.Type)
	}
	if p.Type == "logical" {
		// libvirt: the source name defaults to the pool's, the target is
		// always /dev/NAME whatever the document says.
		if p.SourceName == "" {
			p.SourceName = p.Name
		}
		p.TargetPath = lvmDevDir + "/" + p.SourceName
		if p.SourceFormat != "lvm2" && p.SourceFormat != "unknown" {
			return nil, errStorage(virerr.ErrConfigUnsupported, "unknown pool format type %s", p.SourceFormat)
		}
	}
	if p.TargetPath == "" {
		return nil, errStorage(virerr.ErrXMLError, "%s", "missing storage pool target path")
	}
	d := &poolDef{typ: p.Type, name: p.Name, uuid: p.UUID, devices: p.SourceDevices,
		srcName: p.SourceName, srcFormat: p.SourceFormat, target: sanitizePath(p.TargetPath)}
	if d.perms, err = parsePerms(doc); err != nil {
		return nil, err
	}
	return d, nil
}

// sanitizePath is virFileSanitizePath: duplicate and trailing slashes go,
// nothing else is resolved.
func sanitizePath(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

// parsePerms reads <ELEM><permissions> of a pool or volume document.
func parsePerms(doc string) (perms, error) {
	var x struct {
		Target struct {
			Perms *struct {
				Mode  *string `xml:"mode"`
				Owner *string `xml:"owner"`
				Group *string `xml:"group"`
			} `xml:"permissions"`
		} `xml:"target"`
	}
	if err := xml.Unmarshal([]byte(doc), &x); err != nil || x.Target.Perms == nil {
		return noPerms, nil
	}
	out := noPerms
	pp := x.Target.Perms
	if pp.Mode != nil {
		m, err := strconv.ParseInt(strings.TrimSpace(*pp.Mode), 8, 32)
		if err != nil || m&^0o777 != 0 {
			return out, errStorage(virerr.ErrXMLError, "%s", "malformed octal mode")
		}
		out.mode = int(m)
	}
	for _, f := range []struct {
		s    *string
		dst  *int64
		what string
	}{{pp.Owner, &out.uid, "owner"}, {pp.Group, &out.gid, "group"}} {
		if f.s == nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(*f.s), 10, 64)
		if err != nil || v < -1 || v > 1<<32-1 {
			return out, errStorage(virerr.ErrXMLError, "malformed %s element", f.what)
		}
		*f.dst = v
	}
	return out, nil
}

// xmlEsc is virBufferEscapeString's escaping.
func xmlEsc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\'':
			b.WriteString("&apos;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func writePerms(b *strings.Builder, indent string, p perms) {
	if !p.set() {
		return
	}
	fmt.Fprintf(b, "%s<permissions>\n", indent)
	if p.mode != -1 {
		fmt.Fprintf(b, "%s  <mode>0%o</mode>\n", indent, p.mode)
	}
	if p.uid != -1 {
		fmt.Fprintf(b, "%s  <owner>%d</owner>\n", indent, p.uid)
	}
	if p.gid != -1 {
		fmt.Fprintf(b, "%s  <group>%d</group>\n", indent, p.gid)
	}
	fmt.Fprintf(b, "%s</permissions>\n", indent)
}

// format writes the document as virStoragePoolDefFormat does for the
// local pool types.
func (d *poolDef) format(capacity, allocation, available uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<pool type='%s'>\n", d.typ)
	fmt.Fprintf(&b, "  <name>%s</name>\n", xmlEsc(d.name))
	fmt.Fprintf(&b, "  <uuid>%s</uuid>\n", d.uuid)
	fmt.Fprintf(&b, "  <capacity unit='bytes'>%d</capacity>\n", capacity)
	fmt.Fprintf(&b, "  <allocation unit='bytes'>%d</allocation>\n", allocation)
	fmt.Fprintf(&b, "  <available unit='bytes'>%d</available>\n", available)
	b.WriteString("  <source>\n")
	for _, dev := range d.devices {
		fmt.Fprintf(&b, "    <device path='%s'/>\n", xmlEsc(dev))
	}
	if d.srcName != "" {
		fmt.Fprintf(&b, "    <name>%s</name>\n", xmlEsc(d.srcName))
	}
	if d.typ != "dir" && d.srcFormat != "" {
		fmt.Fprintf(&b, "    <format type='%s'/>\n", xmlEsc(d.srcFormat))
	}
	b.WriteString("  </source>\n")
	b.WriteString("  <target>\n")
	fmt.Fprintf(&b, "    <path>%s</path>\n", xmlEsc(d.target))
	writePerms(&b, "    ", d.perms)
	b.WriteString("  </target>\n")
	b.WriteString("</pool>\n")
	return b.String()
}
