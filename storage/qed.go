package storage

import (
	"encoding/binary"
	"fmt"
)

// QED header facts (https://wiki.qemu.org/Features/QED/Specification and
// QEMU's block/qed.h). All fields little-endian:
//
//	0 magic "QED\0"  4 cluster_size  8 table_size  12 header_size (clusters)
//	16 features  24 compat_features  32 autoclear_features
//	40 l1_table_offset  48 image_size
//	56 backing_filename_offset(u32)  60 backing_filename_size(u32)
const (
	qedMagic     = "QED\x00"
	qedHeaderLen = 64

	qedFeatBacking    = 0x01
	qedFeatNeedCheck  = 0x02
	qedFeatBackingRaw = 0x04 // "backing format: no probe", i.e. raw
	qedKnownFeatures  = qedFeatBacking | qedFeatNeedCheck | qedFeatBackingRaw
	qedMinClusterSize = 4 << 10
	qedMaxClusterSize = 64 << 20
	qedMinTableSize   = 1
	qedMaxTableSize   = 16
)

func parseQED(rd reader) (*ImageInfo, error) {
	h, err := rd.readExact(0, qedHeaderLen, "qed header")
	if err != nil {
		return nil, err
	}
	clusterSize := uint64(binary.LittleEndian.Uint32(h[4:]))
	tableSize := uint64(binary.LittleEndian.Uint32(h[8:]))
	headerClusters := uint64(binary.LittleEndian.Uint32(h[12:]))
	features := binary.LittleEndian.Uint64(h[16:])
	size := binary.LittleEndian.Uint64(h[48:])
	nameOff := uint64(binary.LittleEndian.Uint32(h[56:]))
	nameLen := uint64(binary.LittleEndian.Uint32(h[60:]))

	if clusterSize < qedMinClusterSize || clusterSize > qedMaxClusterSize || clusterSize&(clusterSize-1) != 0 {
		return nil, fmt.Errorf("%w: cluster size %d is not a power of two in [%d, %d]",
			ErrInvalidImage, clusterSize, qedMinClusterSize, qedMaxClusterSize)
	}
	if tableSize < qedMinTableSize || tableSize > qedMaxTableSize || tableSize&(tableSize-1) != 0 {
		return nil, fmt.Errorf("%w: table size %d is not a power of two in [%d, %d]",
			ErrInvalidImage, tableSize, qedMinTableSize, qedMaxTableSize)
	}
	if headerClusters == 0 {
		return nil, fmt.Errorf("%w: header size of %d clusters is invalid", ErrInvalidImage, headerClusters)
	}
	if features&^qedKnownFeatures != 0 {
		return nil, fmt.Errorf("%w: unknown qed features 0x%x", ErrUnsupported, features&^qedKnownFeatures)
	}
	// Each table holds tableSize clusters of 8-byte entries; two levels of
	// tables address the image. cluster <= 2^26 and tableSize <= 16 keep
	// entries <= 2^27, so only the last multiplication can overflow.
	entries := clusterSize * tableSize / 8
	maxSize := entries * entries
	if maxSize <= ^uint64(0)/clusterSize {
		maxSize *= clusterSize
	} else {
		maxSize = ^uint64(0)
	}
	if size%512 != 0 || size > maxSize || size > 1<<63-1 {
		return nil, fmt.Errorf("%w: image size %d is invalid for %d-byte clusters",
			ErrInvalidImage, size, clusterSize)
	}
	info := &ImageInfo{Format: FormatQED, VirtualSize: size, ClusterSize: uint32(clusterSize)}
	if features&qedFeatBacking == 0 {
		return info, nil
	}
	headerBytes := headerClusters * clusterSize
	if nameLen > maxPathName {
		return nil, fmt.Errorf("%w: backing file name length %d exceeds %d", ErrInvalidImage, nameLen, maxPathName)
	}
	if nameOff < qedHeaderLen || nameOff > headerBytes || nameLen > headerBytes-nameOff {
		return nil, fmt.Errorf("%w: backing file name (offset %d, length %d) lies outside the %d-byte header",
			ErrInvalidImage, nameOff, nameLen, headerBytes)
	}
	if nameLen == 0 {
		return info, nil
	}
	b, err := rd.readExact(int64(nameOff), int(nameLen), "backing file name")
	if err != nil {
		return nil, err
	}
	if info.BackingFile, err = cString(b, "backing file name"); err != nil {
		return nil, err
	}
	// QED can only say "the backing file is raw"; anything else it leaves
	// to probing, which is exactly what DetectChain refuses by default.
	if features&qedFeatBackingRaw != 0 {
		info.BackingFormat = FormatRaw
	}
	return info, nil
}
