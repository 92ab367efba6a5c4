package conf

// DiskMirror is a disk's <mirror>: where a block copy writes, or, for an
// active commit, the image the disk pivots to. libvirt writes it in live
// XML only, while the job runs.
type DiskMirror struct {
	Source DiskSource // the destination image and its backing chain
	Job    string     // copy, active-commit
	Ready  string     // "", yes, pivot, abort
}

// mirrorFromNode reads <mirror type='file' file='...' format='...' job='...'
// ready='...'> with its <format>, <source> and <backingStore> children;
// the file and format attributes are the legacy spelling libvirt still
// writes for the file type and reads when the children are missing.
func mirrorFromNode(n *node) *DiskMirror {
	if n == nil {
		return nil
	}
	typ := n.attr("type")
	if typ == "" {
		typ = "file"
	}
	format := n.str("format/@type")
	if format == "" {
		format = n.attr("format")
	}
	m := &DiskMirror{Job: n.attr("job"), Ready: n.attr("ready")}
	m.Source = sourceFromNode(n, typ, format)
	if m.Source.Path == "" && typ == "file" {
		m.Source.Path = n.attr("file")
	}
	m.Source.Index = n.intAt("source/@index", 0)
	if bs := n.child("backingStore"); bs != nil {
		m.Source.Backing = backingFromNode(bs)
	}
	return m
}

// writeMirror writes <mirror> in libvirt's layout, or removes it.
func writeMirror(disk *node, m *DiskMirror) {
	el := disk.child("mirror")
	if m == nil {
		if el != nil {
			disk.removeChild(el)
		}
		return
	}
	if el == nil {
		el = newElem("mirror")
		disk.insertChild(el)
	}
	el.put("@type", m.Source.Type)
	if m.Source.Type == "file" {
		el.put("@file", m.Source.Path)
		el.put("@format", m.Source.Format)
	} else {
		el.put("@file", "")
		el.put("@format", "")
	}
	el.put("@job", m.Job)
	el.put("@ready", m.Ready)
	el.put("format/@type", m.Source.Format)
	writeSource(el, &m.Source)
	el.putInt("source/@index", m.Source.Index, 0)
	writeBacking(el, m.Source.Backing)
}

// dropPrivateData removes the daemon-only <privateData> of disk sources
// (block node names) from everything but status XML: libvirt only writes
// it with VIR_DOMAIN_DEF_FORMAT_STATUS, never to clients.
func dropPrivateData(devs *node) {
	for _, disk := range devs.childrenNamed("disk") {
		dropSourcePrivate(disk)
		if m := disk.child("mirror"); m != nil {
			dropSourcePrivate(m)
		}
	}
}

// dropSourcePrivate strips privateData from el's <source> and down its
// <backingStore> chain.
func dropSourcePrivate(el *node) {
	for el != nil {
		if src := el.child("source"); src != nil {
			if p := src.child("privateData"); p != nil {
				src.removeChild(p)
			}
		}
		el = el.child("backingStore")
	}
}

// Clone returns a deep copy of the source and its backing chain.
func (s *DiskSource) Clone() DiskSource { return s.clone() }
