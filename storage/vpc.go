package storage

import (
	"encoding/binary"
	"fmt"
)

// VHD facts from Microsoft's "Virtual Hard Disk Image Format Specification".
// The 512-byte big-endian footer sits at the end of every VHD and, for
// dynamic and differencing disks, is also copied to offset 0:
//
//	0 cookie "conectix"  16 data offset  48 current size
//	60 disk type (2 fixed, 3 dynamic, 4 differencing)  64 checksum
//
// A dynamic disk's header ("cxsparse") at the data offset has the block
// size at byte 32.
const (
	vpcMagic        = "conectix"
	vpcDynMagic     = "cxsparse"
	vpcFooterLen    = 512
	vpcDynHeaderLen = 1024

	vpcFixed        = 2
	vpcDynamic      = 3
	vpcDifferencing = 4
)

func vpcChecksum(f []byte) uint32 {
	var sum uint32
	for i, c := range f[:vpcFooterLen] {
		if i < 64 || i >= 68 {
			sum += uint32(c)
		}
	}
	return ^sum
}

// hasVPCFooter recognises a fixed VHD, which has its footer only at the
// end. Without a signature at offset 0 this is the one place where raw data
// could be mistaken for an image, so the footer must also checksum, say
// "fixed" and describe a disk that fits in front of it.
func hasVPCFooter(rd reader) (bool, error) {
	if rd.size < 2*vpcFooterLen {
		return false, nil
	}
	f, err := rd.read(rd.size-vpcFooterLen, vpcFooterLen)
	if err != nil {
		return false, err
	}
	return len(f) == vpcFooterLen && hasPrefix(f, vpcMagic) &&
		binary.BigEndian.Uint32(f[64:]) == vpcChecksum(f) &&
		binary.BigEndian.Uint32(f[60:]) == vpcFixed &&
		binary.BigEndian.Uint64(f[48:]) <= uint64(rd.size-vpcFooterLen), nil
}

func parseVPC(rd reader) (*ImageInfo, error) {
	f, err := rd.readExact(0, vpcFooterLen, "vpc footer")
	if err != nil {
		return nil, err
	}
	atEnd := false
	if !hasPrefix(f, vpcMagic) {
		ok, err := hasVPCFooter(rd)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: no vpc footer at the start or end of the image", ErrInvalidImage)
		}
		if f, err = rd.readExact(rd.size-vpcFooterLen, vpcFooterLen, "vpc footer"); err != nil {
			return nil, err
		}
		atEnd = true
	}
	info := &ImageInfo{Format: FormatVPC, VirtualSize: binary.BigEndian.Uint64(f[48:])}
	if info.VirtualSize > 1<<63-1 {
		return nil, fmt.Errorf("%w: current size %d is too large", ErrInvalidImage, info.VirtualSize)
	}
	switch typ := binary.BigEndian.Uint32(f[60:]); typ {
	case vpcFixed:
		info.Subformat = "fixed"
		if !atEnd && info.VirtualSize > uint64(rd.size) {
			return nil, fmt.Errorf("%w: fixed disk of %d bytes does not fit in a %d-byte file",
				ErrInvalidImage, info.VirtualSize, rd.size)
		}
		return info, nil
	case vpcDynamic:
		info.Subformat = "dynamic"
	case vpcDifferencing:
		// QEMU's vpc driver does not follow VHD parents either; reporting
		// the disk without its parent would hide most of its data.
		return nil, fmt.Errorf("%w: differencing VHD images are not supported", ErrUnsupported)
	default:
		return nil, fmt.Errorf("%w: unknown VHD disk type %d", ErrInvalidImage, typ)
	}
	dynOff := binary.BigEndian.Uint64(f[16:])
	if dynOff > uint64(rd.size) {
		return nil, fmt.Errorf("%w: dynamic header offset %d is beyond the end of the image",
			ErrInvalidImage, dynOff)
	}
	d, err := rd.readExact(int64(dynOff), vpcDynHeaderLen, "vpc dynamic header")
	if err != nil {
		return nil, err
	}
	if !hasPrefix(d, vpcDynMagic) {
		return nil, fmt.Errorf("%w: no dynamic disk header at offset %d", ErrInvalidImage, dynOff)
	}
	block := binary.BigEndian.Uint32(d[32:])
	if block < 512 || block&(block-1) != 0 {
		return nil, fmt.Errorf("%w: block size %d is not a power of two of at least 512",
			ErrInvalidImage, block)
	}
	info.ClusterSize = block
	return info, nil
}
