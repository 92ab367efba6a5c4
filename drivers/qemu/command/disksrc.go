package command

import (
	"fmt"
	"strconv"

	"govirt/conf"
)

// Parts of a disk source read from its element: storage slices, the qcow2
// metadata cache, NVMe addresses.

// sourceEmpty reports a source without an image: an empty CD-ROM or
// floppy drive (virStorageSourceIsEmpty).
func sourceEmpty(s *conf.DiskSource) bool {
	switch s.Type {
	case "":
		return true
	case "network":
		return s.Protocol == ""
	case "nvme", "vhostuser":
		return false
	}
	return s.Path == ""
}

// slice is a <slice type='storage'> of a source.
type slice struct{ offset, size uint64 }

func storageSlice(el *conf.Element) *slice {
	for _, s := range kids(child(el, "source", "slices"), "slice") {
		if attr(s, "type") == "storage" {
			return &slice{offset: uintOr(attr(s, "offset"), 0), size: uintOr(attr(s, "size"), 0)}
		}
	}
	return nil
}

// needsSliceNode: a raw image takes its slice as offset/size of the format
// node; any other format (or LUKS) needs a raw node of its own beneath.
func needsSliceNode(s *conf.DiskSource, el *conf.Element) bool {
	if storageSlice(el) == nil {
		return false
	}
	if format(s) != "raw" {
		return true
	}
	enc := encryptionOf(el)
	return enc != nil && enc.format == "luks"
}

func sliceNodeName(s *conf.DiskSource) string {
	return fmt.Sprintf("libvirt-%d-slice-sto", nodeIndex(s))
}

// nodeIndex is the number in a layer's node names (libvirt-N-storage).
func nodeIndex(s *conf.DiskSource) int {
	var n int
	fmt.Sscanf(s.NodeName, "libvirt-%d-", &n)
	return n
}

// metadataCacheSize is the qcow2 cache-size in bytes: <metadata_cache>
// of the disk's <driver> or a backing layer's <format>.
func metadataCacheSize(el *conf.Element) uint64 {
	holder := child(el, "driver")
	if el != nil && el.Name() == "backingStore" {
		holder = child(el, "format")
	}
	m := child(holder, "metadata_cache", "max_size")
	if m == nil {
		return 0
	}
	n, err := conf.ScaledBytes(m.Text(), attr(m, "unit"), "bytes")
	if err != nil {
		return 0
	}
	return n
}

// pciAddrString is a PCI <address> as QEMU's "DDDD:BB:SS.F".
func pciAddrString(a *conf.Element) string {
	num := func(name string) uint64 {
		v, _ := strconv.ParseUint(attr(a, name), 0, 64)
		return v
	}
	return fmt.Sprintf("%04x:%02x:%02x.%x", num("domain"), num("bus"), num("slot"), num("function"))
}

// kids is e's children called name; none when e is nil.
func kids(e *conf.Element, name string) []*conf.Element {
	if e == nil {
		return nil
	}
	return e.Children(name)
}

// SourceEmpty reports a disk source without an image (an empty CD-ROM or
// floppy drive), as the builder sees it.
func SourceEmpty(s *conf.DiskSource) bool { return sourceEmpty(s) }
