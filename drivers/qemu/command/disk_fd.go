package command

import (
	"strconv"

	"govirt/conf"
	"govirt/virerr"
)

// Disk images QEMU opens through descriptors a client associated with
// the guest (<source file='...' fdgroup='NAME'/>, virDomainFDAssociate),
// as libvirt 9.0's qemuDomainPrepareStorageSourceFDs: each such layer
// gets an fd set holding copies of the group's descriptors (opaque
// NODE-storageN), numbered while node names are assigned (disks last to
// first, each chain top down), and its storage node opens
// /dev/fdset/SET.

// FDGroup is Paths.FDGroup's answer: the descriptor numbers QEMU
// inherits the group's copies as, and whether the client passed it as
// writable (VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_WRITABLE).
type FDGroup struct {
	FDs      []int
	Writable bool
}

// diskFDSet is the fd set of one layer.
type diskFDSet struct {
	set int
	FDGroup
}

// fdGroupOf is a layer's fdgroup attribute ("" for none); only file
// sources have one, as libvirt parses it.
func fdGroupOf(s *conf.DiskSource, el *conf.Element) string {
	if s.Type != "file" {
		return ""
	}
	return attr(child(el, "source"), "fdgroup")
}

// assignDiskFDSets gives each layer of d with an fdgroup its fd set.
func (b *builder) assignDiskFDSets(d *conf.Disk) error {
	for _, l := range chain(d) {
		name := fdGroupOf(l.src, l.el)
		if name == "" {
			continue
		}
		if b.p.FDGroup == nil {
			return virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "file descriptor group '%s' was not associated with the domain", name)
		}
		g, err := b.p.FDGroup(name)
		if err != nil {
			return err
		}
		if b.diskFDs == nil {
			b.diskFDs = map[*conf.DiskSource]*diskFDSet{}
		}
		b.diskFDs[l.src] = &diskFDSet{set: b.fdsets, FDGroup: g}
		b.fdsets++
	}
	return nil
}

// addDiskFDs writes the -add-fd options of d's fd sets, top layer first,
// before the disk's -blockdev nodes.
func (b *builder) addDiskFDs(d *conf.Disk) {
	for _, l := range chain(d) {
		fs := b.diskFDs[l.src]
		if fs == nil {
			continue
		}
		for i, fd := range fs.FDs {
			b.add("-add-fd", "set="+strconv.Itoa(fs.set)+",fd="+strconv.Itoa(fd)+",opaque="+l.src.NodeName+strconv.Itoa(i))
		}
	}
}

// fdStorageProps sets a file storage node to open the layer's fd set.
// QEMU picks a descriptor of the set by access mode, so with a single
// descriptor auto-read-only cannot work: the node is then opened
// read-write when the group was passed writable, else as the layer is
// read-only or not.
func fdStorageProps(o obj, fs *diskFDSet, d *conf.Disk, l chainLayer) obj {
	if len(fs.FDs) != 1 {
		return o.set("auto-read-only", true)
	}
	return o.set("read-only", !fs.Writable && layerReadOnly(d, l))
}

// LayerFDGroup is the fdgroup of the layer s of disk's chain ("" when it
// has none).
func LayerFDGroup(d *conf.Disk, s *conf.DiskSource) string {
	for _, l := range chain(d) {
		if l.src == s {
			return fdGroupOf(l.src, l.el)
		}
	}
	return ""
}
