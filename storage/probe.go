// Package storage inspects disk images natively: it recognises qcow2 (and
// the legacy qcow), qed, vmdk, vpc, vdi and raw images from their headers,
// and walks backing chains the way QEMU resolves them.
//
// The parsers read only bounded amounts of data at offsets they have checked
// against the image size, so a hostile image can make a probe fail but never
// panic it or make it allocate more than a few megabytes.
//
// Probing a format is what lets a guest that can write a raw disk turn it
// into a qcow2 image pointing at /etc/shadow. DetectChain therefore only
// probes when the caller explicitly allows it; Probe itself is the
// low-level primitive and always probes.
package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Format names, spelled as QEMU and libvirt spell them.
const (
	FormatRaw   = "raw"
	FormatQcow2 = "qcow2"
	FormatQcow  = "qcow"
	FormatQED   = "qed"
	FormatVMDK  = "vmdk"
	FormatVPC   = "vpc"
	FormatVDI   = "vdi"
)

// KnownFormat reports whether format is one this package can inspect.
func KnownFormat(format string) bool {
	switch format {
	case FormatRaw, FormatQcow2, FormatQcow, FormatQED, FormatVMDK, FormatVPC, FormatVDI:
		return true
	}
	return false
}

// ImageInfo is what an image's header says about it.
type ImageInfo struct {
	Format      string
	VirtualSize uint64
	// BackingFile is the backing name exactly as written in the image.
	BackingFile string
	// BackingFormat is the backing format the image declares; "" when the
	// image names a backing file without saying what format it is.
	BackingFormat string
	ClusterSize   uint32
	Encrypted     bool
	// EncryptionFormat is "aes" or "luks" for encrypted qcow/qcow2 images.
	EncryptionFormat string
	// DataFile is the external data file of a qcow2 image, as written.
	DataFile string
	// DataFileRaw: the external data file is itself a valid raw image.
	DataFileRaw bool

	// qcow2 details, zero for other formats.
	Version              uint32 // header version (qcow2: 2 or 3; vmdk: 1-3)
	Compat               string // "0.10" or "1.1", as qemu-img reports it
	IncompatibleFeatures uint64
	CompatibleFeatures   uint64
	AutoclearFeatures    uint64
	Dirty                bool
	Corrupt              bool
	LazyRefcounts        bool
	ExtendedL2           bool

	// CreateType is the VMDK descriptor's createType.
	CreateType string
	// Subformat is the VPC disk type: "fixed", "dynamic" or "differencing".
	Subformat string

	// Filled by ProbeFile only: the file's apparent size and the bytes
	// actually allocated to it on the host.
	PhysicalSize uint64
	Allocation   uint64
}

// Upper bounds on what a header may ask us to read. QEMU itself limits a
// qcow2 backing name to 1023 bytes; the others are generous PATH_MAX-ish
// caps that keep hostile headers from driving allocation.
const (
	maxBackingName = 1023
	maxPathName    = 4095
	maxDescriptor  = 1 << 20
)

// reader couples an io.ReaderAt with the size the caller vouches for, so
// that every read can be checked against the end of the image first.
type reader struct {
	r    io.ReaderAt
	size int64
}

// read returns up to n bytes at off; fewer when the image ends first. The
// caller bounds n, so the allocation is bounded.
func (r reader) read(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("%w: negative offset or length", ErrInvalidImage)
	}
	if off >= r.size {
		return nil, nil
	}
	if rest := r.size - off; int64(n) > rest {
		n = int(rest)
	}
	buf := make([]byte, n)
	m, err := r.r.ReadAt(buf, off)
	if m == n {
		return buf, nil
	}
	if errors.Is(err, io.EOF) {
		// The file is shorter than the caller said; treat it as ending here.
		return buf[:m], nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

// readExact is read for structures that must be complete.
func (r reader) readExact(off int64, n int, what string) ([]byte, error) {
	b, err := r.read(off, n)
	if err != nil {
		return nil, err
	}
	if len(b) < n {
		return nil, fmt.Errorf("%w: %s at offset %d is truncated (%d of %d bytes)",
			ErrInvalidImage, what, off, len(b), n)
	}
	return b, nil
}

// Probe identifies the format of the image in r (size bytes long) from its
// header and parses it. Anything without a recognised signature is raw.
func Probe(r io.ReaderAt, size int64) (*ImageInfo, error) {
	if size < 0 {
		return nil, fmt.Errorf("%w: negative image size %d", ErrInvalidImage, size)
	}
	rd := reader{r, size}
	head, err := rd.read(0, 512)
	if err != nil {
		return nil, err
	}
	format, err := sniff(rd, head)
	if err != nil {
		return nil, err
	}
	return parse(rd, format)
}

// ProbeAs parses the image in r as the given format without guessing: a
// header that does not carry that format's signature is an error, except
// for raw, which has no header and is accepted whatever it contains.
func ProbeAs(r io.ReaderAt, size int64, format string) (*ImageInfo, error) {
	if size < 0 {
		return nil, fmt.Errorf("%w: negative image size %d", ErrInvalidImage, size)
	}
	if !KnownFormat(format) {
		return nil, fmt.Errorf("%w: '%s'", ErrUnknownFormat, format)
	}
	rd := reader{r, size}
	if format != FormatRaw {
		head, err := rd.read(0, 512)
		if err != nil {
			return nil, err
		}
		got, err := sniff(rd, head)
		if err != nil && got == "" {
			return nil, err
		}
		// qcow images share qcow2's magic; sniff distinguishes them by
		// version, so a mismatch here is a real mismatch.
		if got != format {
			return nil, fmt.Errorf("%w: image has no %s header", ErrInvalidImage, format)
		}
	}
	return parse(rd, format)
}

// sniff names the format whose signature the image carries. It returns
// "raw" when there is none. The trailing-footer check for fixed VHDs comes
// last so that a signature at offset 0 always wins.
func sniff(rd reader, head []byte) (string, error) {
	switch {
	case hasPrefix(head, qcowMagic):
		if len(head) < 8 {
			return "", fmt.Errorf("%w: qcow header is truncated", ErrInvalidImage)
		}
		switch v := binary.BigEndian.Uint32(head[4:]); v {
		case 1:
			return FormatQcow, nil
		case 2, 3:
			return FormatQcow2, nil
		default:
			return FormatQcow2, fmt.Errorf("%w: unsupported qcow2 version %d", ErrInvalidImage, v)
		}
	case hasPrefix(head, qedMagic):
		return FormatQED, nil
	case hasPrefix(head, vmdkMagic), hasPrefix(head, vmdkDescMagic):
		return FormatVMDK, nil
	case hasPrefix(head, vpcMagic):
		return FormatVPC, nil
	case len(head) >= 68 && binary.LittleEndian.Uint32(head[64:]) == vdiSignature:
		return FormatVDI, nil
	}
	if ok, err := hasVPCFooter(rd); err != nil {
		return "", err
	} else if ok {
		return FormatVPC, nil
	}
	return FormatRaw, nil
}

func parse(rd reader, format string) (*ImageInfo, error) {
	var (
		info *ImageInfo
		err  error
	)
	switch format {
	case FormatRaw:
		info = &ImageInfo{Format: FormatRaw, VirtualSize: uint64(rd.size)}
	case FormatQcow2:
		info, err = parseQcow2(rd)
	case FormatQcow:
		info, err = parseQcow(rd)
	case FormatQED:
		info, err = parseQED(rd)
	case FormatVMDK:
		info, err = parseVMDK(rd)
	case FormatVPC:
		info, err = parseVPC(rd)
	case FormatVDI:
		info, err = parseVDI(rd)
	default:
		return nil, fmt.Errorf("%w: '%s'", ErrUnknownFormat, format)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	return info, nil
}

// ProbeFile probes the image at path and adds its physical size and host
// allocation.
func ProbeFile(path string) (*ImageInfo, error) {
	return probeFile(path, "")
}

// ProbeFileAs parses the image at path as format (see ProbeAs).
func ProbeFileAs(path, format string) (*ImageInfo, error) {
	if format == "" {
		return nil, fmt.Errorf("%w: empty format for '%s'", ErrUnknownFormat, path)
	}
	return probeFile(path, format)
}

func probeFile(path, format string) (*ImageInfo, error) {
	f, st, size, err := openImage(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return inspectOpen(f, path, st, size, format)
}

// openImage opens path for reading without blocking on FIFOs and returns
// its size: the apparent size for files, the device size for block devices.
func openImage(path string) (*os.File, *syscall.Stat_t, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		f.Close()
		return nil, nil, 0, fmt.Errorf("cannot stat '%s'", path)
	}
	size := fi.Size()
	switch {
	case fi.Mode().IsRegular():
	case fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0:
		// st_size is 0 for block devices; seeking to the end gives the size.
		size, err = f.Seek(0, io.SeekEnd)
		if err != nil {
			f.Close()
			return nil, nil, 0, fmt.Errorf("cannot get size of '%s': %w", path, err)
		}
	default:
		f.Close()
		return nil, nil, 0, fmt.Errorf("'%s' is not a regular file or block device", path)
	}
	return f, st, size, nil
}

func inspectOpen(f *os.File, path string, st *syscall.Stat_t, size int64, format string) (*ImageInfo, error) {
	var (
		info *ImageInfo
		err  error
	)
	if format == "" {
		info, err = Probe(f, size)
	} else {
		info, err = ProbeAs(f, size, format)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read image '%s': %w", path, err)
	}
	info.PhysicalSize = uint64(size)
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
		info.Allocation = uint64(st.Blocks) * 512
	} else {
		info.Allocation = uint64(size)
	}
	return info, nil
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// cString validates a name read from an image: names are byte strings
// without NULs (C readers would silently truncate at one, so two tools
// would disagree on what file is meant).
func cString(b []byte, what string) (string, error) {
	for _, c := range b {
		if c == 0 {
			return "", fmt.Errorf("%w: %s contains a NUL byte", ErrInvalidImage, what)
		}
	}
	return string(b), nil
}
