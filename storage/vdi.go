package storage

import (
	"encoding/binary"
	"fmt"
)

// VDI (VirtualBox) facts, little-endian: signature 0xbeda107f at byte 64,
// version at 68, disk size (u64) at 0x170 and block size (u32) at 0x178 in
// the version 1.1 header every current writer produces. VDI has no backing
// files; it is recognised so that probing never calls one raw.
const (
	vdiSignature = 0xbeda107f
	vdiHeaderLen = 0x180
)

func parseVDI(rd reader) (*ImageInfo, error) {
	h, err := rd.readExact(0, vdiHeaderLen, "vdi header")
	if err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(h[64:]) != vdiSignature {
		return nil, fmt.Errorf("%w: no vdi signature", ErrInvalidImage)
	}
	info := &ImageInfo{Format: FormatVDI, Version: binary.LittleEndian.Uint32(h[68:])}
	if major := info.Version >> 16; major != 1 {
		return nil, fmt.Errorf("%w: unsupported vdi version %d.%d",
			ErrInvalidImage, major, info.Version&0xffff)
	}
	info.VirtualSize = binary.LittleEndian.Uint64(h[0x170:])
	if info.VirtualSize > 1<<63-1 {
		return nil, fmt.Errorf("%w: disk size %d is too large", ErrInvalidImage, info.VirtualSize)
	}
	block := binary.LittleEndian.Uint32(h[0x178:])
	if block == 0 || block&(block-1) != 0 {
		return nil, fmt.Errorf("%w: block size %d is not a power of two", ErrInvalidImage, block)
	}
	info.ClusterSize = block
	return info, nil
}
