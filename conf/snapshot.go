package conf

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"govirt/virerr"
)

// DomainSnapshot is a <domainsnapshot> document.
type DomainSnapshot struct {
	Name         string
	Description  string
	State        string // running, shutoff, disk-snapshot, ...
	Parent       string // <parent><name>
	CreationTime int64  // seconds since the epoch
	Memory       string // <memory snapshot=''>: no, internal, external
	MemoryFile   string // <memory file=''>
	Disks        []SnapshotDisk
	Domain       *Domain // the embedded <domain>; nil when absent
	// InactiveDomain is <inactiveDomain>: the persistent definition of
	// a guest that was running, as libvirt keeps it; nil when absent.
	InactiveDomain *Domain
	x              *node
}

// SnapshotDisk is a <disks><disk> entry.
type SnapshotDisk struct {
	Name       string
	Snapshot   string // no, internal, external, manual
	Type       string // source type attribute: file, block, network
	DriverType string
	SourceFile string // source file=, or dev= for a block device
	// DeleteInProgress is <snapshotDeleteInProgress/>: an external
	// snapshot delete was merging this disk's overlay when it stopped.
	DeleteInProgress bool
	x                *node
}

// ParseDomainSnapshot reads a <domainsnapshot> document. As libvirt does
// for a new snapshot, a missing name becomes the creation time and a
// missing creation time is now.
func ParseDomainSnapshot(data []byte, flags ParseFlags) (*DomainSnapshot, error) {
	root, err := parseRoot(data, "domainsnapshot", virerr.FromDomainSnapshot, flags)
	if err != nil {
		return nil, err
	}
	s := &DomainSnapshot{
		x:           root,
		Name:        root.str("name"),
		Description: root.str("description"),
		State:       root.str("state"),
		Parent:      root.str("parent/name"),
		Memory:      root.str("memory/@snapshot"),
		MemoryFile:  root.str("memory/@file"),
	}
	if ct, ok := root.get("creationTime"); ok {
		v, err := strconv.ParseInt(strings.TrimSpace(ct), 10, 64)
		if err != nil {
			return nil, virerr.New(virerr.FromDomainSnapshot, virerr.ErrXMLError, "missing creationTime from existing snapshot")
		}
		s.CreationTime = v
	} else {
		s.CreationTime = time.Now().Unix()
	}
	if s.Name == "" {
		s.Name = strconv.FormatInt(s.CreationTime, 10)
	}
	for _, dn := range root.child("disks").childrenNamed("disk") {
		d := SnapshotDisk{
			Name:       dn.attr("name"),
			Snapshot:   dn.attr("snapshot"),
			Type:       dn.attr("type"),
			DriverType: dn.str("driver/@type"),
			SourceFile: dn.str("source/@file"),
			x:          dn,
		}
		if d.Type == "block" && d.SourceFile == "" {
			d.SourceFile = dn.str("source/@dev")
		}
		d.DeleteInProgress = dn.child("snapshotDeleteInProgress") != nil
		if d.Name == "" {
			return nil, virerr.New(virerr.FromDomainSnapshot, virerr.ErrXMLError, "missing name from disk snapshot element")
		}
		s.Disks = append(s.Disks, d)
	}
	if dn := root.child("domain"); dn != nil {
		if s.Domain, err = domainFromTree(dn, flags|ParseLive); err != nil {
			return nil, err
		}
	}
	if dn := root.child("inactiveDomain"); dn != nil {
		// A definition of its own: it formats as <domain> when used.
		dn = dn.clone()
		dn.name = "domain"
		if s.InactiveDomain, err = domainFromTree(dn, flags&^ParseLive); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Format writes the document; flags apply to the embedded domain too.
func (s *DomainSnapshot) Format(flags FormatFlags) ([]byte, error) {
	root := cloneOr(s.x, "domainsnapshot")
	root.put("name", s.Name)
	root.put("description", s.Description)
	root.put("state", s.State)
	root.put("parent/name", s.Parent)
	root.putInt("creationTime", int(s.CreationTime), 0)
	// libvirt's attribute order, whatever order the input had.
	root.put("memory/@file", "")
	root.put("memory/@snapshot", s.Memory)
	root.put("memory/@file", s.MemoryFile)
	if len(s.Disks) > 0 || root.child("disks") != nil {
		disks := make([]*node, len(s.Disks))
		for i, d := range s.Disks {
			n := cloneOr(d.x, "disk")
			n.put("@name", d.Name)
			n.put("@snapshot", d.Snapshot)
			n.put("@type", d.Type)
			n.putFlag("snapshotDeleteInProgress", d.DeleteInProgress)
			n.put("driver/@type", d.DriverType)
			if d.Type == "block" {
				n.put("source/@file", "")
				n.put("source/@dev", d.SourceFile)
			} else {
				n.put("source/@dev", "")
				n.put("source/@file", d.SourceFile)
			}
			disks[i] = n
		}
		root.ensureChild("disks").fillSlots("disk", disks)
	}
	var dom []*node
	if s.Domain != nil {
		dom = append(dom, s.Domain.toTree(flags))
	}
	root.fillSlots("domain", dom)
	var idom []*node
	if s.InactiveDomain != nil {
		n := s.InactiveDomain.toTree(flags | FormatInactive)
		n.name = "inactiveDomain"
		idom = append(idom, n)
	}
	root.fillSlots("inactiveDomain", idom)
	return writeTree(root), nil
}

// Clone returns a deep copy.
func (s *DomainSnapshot) Clone() *DomainSnapshot {
	if s == nil {
		return nil
	}
	c := *s
	c.x = s.x.clone()
	c.Domain = s.Domain.Clone()
	c.InactiveDomain = s.InactiveDomain.Clone()
	if s.Disks != nil {
		c.Disks = make([]SnapshotDisk, len(s.Disks))
		for i, d := range s.Disks {
			d.x = d.x.clone()
			c.Disks[i] = d
		}
	}
	return &c
}

// SetCookie replaces the snapshot's <cookie> (libvirt's save cookie: the
// guest CPU as it ran, for a snapshot with memory) with one holding the
// given XML elements; none removes it.
func (s *DomainSnapshot) SetCookie(elems ...[]byte) error {
	if s.x == nil {
		s.x = newElem("domainsnapshot")
	}
	var kids []*node
	if len(elems) > 0 {
		doc := append([]byte("<cookie>"), bytes.Join(elems, nil)...)
		c, err := parseTree(append(doc, "</cookie>"...), virerr.FromDomainSnapshot, "(domain_snapshot)")
		if err != nil {
			return err
		}
		kids = append(kids, c)
	}
	s.x.fillSlots("cookie", kids)
	return nil
}
