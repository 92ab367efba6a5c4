package storage

import (
	"encoding/binary"
	"fmt"
	"math"
)

// On-disk facts from QEMU's docs/interop/qcow2.txt. All fields big-endian.
const (
	qcowMagic = "QFI\xfb"

	qcow2V2HeaderLen  = 72
	qcow2V3MinHdrLen  = 104
	qcow2MinClusterBt = 9
	// QEMU refuses clusters above 2 MiB; the spec allows more, but no image
	// QEMU can open uses them.
	qcow2MaxClusterBt = 21
	// QEMU caps the L1 table at 32 MiB, which bounds the virtual size for a
	// given cluster size.
	qcow2MaxL1Bytes = 32 << 20

	qcow2ExtEnd           = 0x00000000
	qcow2ExtBackingFormat = 0xE2792ACA
	qcow2ExtDataFile      = 0x44415441

	qcow2IncompatDirty    = 1 << 0
	qcow2IncompatCorrupt  = 1 << 1
	qcow2IncompatDataFile = 1 << 2
	qcow2IncompatExtL2    = 1 << 4
	qcow2CompatLazyRef    = 1 << 0
	qcow2AutoclearRawData = 1 << 1

	// QEMU stores the backing format in a 16-byte buffer with its NUL.
	qcow2MaxBackingFormat = 15
)

func parseQcow2(rd reader) (*ImageInfo, error) {
	h, err := rd.readExact(0, qcow2V2HeaderLen, "qcow2 header")
	if err != nil {
		return nil, err
	}
	info := &ImageInfo{Format: FormatQcow2}
	info.Version = binary.BigEndian.Uint32(h[4:])
	if info.Version != 2 && info.Version != 3 {
		return nil, fmt.Errorf("%w: unsupported qcow2 version %d", ErrInvalidImage, info.Version)
	}
	backingOff := binary.BigEndian.Uint64(h[8:])
	backingLen := binary.BigEndian.Uint32(h[16:])
	clusterBits := binary.BigEndian.Uint32(h[20:])
	info.VirtualSize = binary.BigEndian.Uint64(h[24:])
	cryptMethod := binary.BigEndian.Uint32(h[32:])

	if clusterBits < qcow2MinClusterBt || clusterBits > qcow2MaxClusterBt {
		return nil, fmt.Errorf("%w: cluster bits %d out of range [%d, %d]",
			ErrInvalidImage, clusterBits, qcow2MinClusterBt, qcow2MaxClusterBt)
	}
	clusterSize := uint64(1) << clusterBits
	info.ClusterSize = uint32(clusterSize)

	hdrLen := uint64(qcow2V2HeaderLen)
	info.Compat = "0.10"
	if info.Version == 3 {
		info.Compat = "1.1"
		v3, err := rd.readExact(0, qcow2V3MinHdrLen, "qcow2 v3 header")
		if err != nil {
			return nil, err
		}
		info.IncompatibleFeatures = binary.BigEndian.Uint64(v3[72:])
		info.CompatibleFeatures = binary.BigEndian.Uint64(v3[80:])
		info.AutoclearFeatures = binary.BigEndian.Uint64(v3[88:])
		hdrLen = uint64(binary.BigEndian.Uint32(v3[100:]))
		if hdrLen < qcow2V3MinHdrLen {
			return nil, fmt.Errorf("%w: header length %d is shorter than %d",
				ErrInvalidImage, hdrLen, qcow2V3MinHdrLen)
		}
		if hdrLen > clusterSize {
			return nil, fmt.Errorf("%w: header length %d exceeds the cluster size %d",
				ErrInvalidImage, hdrLen, clusterSize)
		}
	}
	info.Dirty = info.IncompatibleFeatures&qcow2IncompatDirty != 0
	info.Corrupt = info.IncompatibleFeatures&qcow2IncompatCorrupt != 0
	info.ExtendedL2 = info.IncompatibleFeatures&qcow2IncompatExtL2 != 0
	info.LazyRefcounts = info.CompatibleFeatures&qcow2CompatLazyRef != 0

	if err := checkQcow2Size(info.VirtualSize, clusterSize, info.ExtendedL2); err != nil {
		return nil, err
	}

	switch cryptMethod {
	case 0:
	case 1:
		info.Encrypted, info.EncryptionFormat = true, "aes"
	case 2:
		info.Encrypted, info.EncryptionFormat = true, "luks"
	default:
		return nil, fmt.Errorf("%w: unknown encryption method %d", ErrInvalidImage, cryptMethod)
	}

	// Header extensions sit between the header and the backing file name,
	// or fill the rest of the first cluster when there is no name.
	extEnd := clusterSize
	if backingOff != 0 {
		if backingOff < hdrLen {
			return nil, fmt.Errorf("%w: backing file name offset %d overlaps the %d-byte header",
				ErrInvalidImage, backingOff, hdrLen)
		}
		if backingOff > clusterSize || uint64(backingLen) > clusterSize-backingOff {
			return nil, fmt.Errorf("%w: backing file name (offset %d, length %d) lies outside the first cluster",
				ErrInvalidImage, backingOff, backingLen)
		}
		if backingLen > maxBackingName {
			return nil, fmt.Errorf("%w: backing file name length %d exceeds %d",
				ErrInvalidImage, backingLen, maxBackingName)
		}
		extEnd = backingOff
		if backingLen > 0 {
			b, err := rd.readExact(int64(backingOff), int(backingLen), "backing file name")
			if err != nil {
				return nil, err
			}
			if info.BackingFile, err = cString(b, "backing file name"); err != nil {
				return nil, err
			}
		}
	}
	if err := readQcow2Extensions(rd, info, hdrLen, extEnd); err != nil {
		return nil, err
	}
	if info.BackingFile == "" {
		// A format without a file means nothing; qemu-img drops it too.
		info.BackingFormat = ""
	}
	if info.IncompatibleFeatures&qcow2IncompatDataFile != 0 {
		info.DataFileRaw = info.AutoclearFeatures&qcow2AutoclearRawData != 0
	} else {
		// QEMU ignores the extension unless the feature bit says the
		// image really keeps its data elsewhere.
		info.DataFile = ""
	}
	return info, nil
}

func checkQcow2Size(size, clusterSize uint64, extL2 bool) error {
	if size > math.MaxInt64 {
		return fmt.Errorf("%w: virtual size %d is too large", ErrInvalidImage, size)
	}
	entry := uint64(8)
	if extL2 {
		entry = 16
	}
	perL2 := clusterSize / entry
	// Maximum size addressable through a maximal L1 table; computed in
	// steps that stay well inside uint64 for the allowed cluster sizes.
	max := uint64(qcow2MaxL1Bytes/8) * perL2
	if max > math.MaxUint64/clusterSize {
		return nil
	}
	if max *= clusterSize; size > max {
		return fmt.Errorf("%w: virtual size %d exceeds the %d addressable with %d-byte clusters",
			ErrInvalidImage, size, max, clusterSize)
	}
	return nil
}

// readQcow2Extensions walks the extension list in [start, end). Each entry
// is type(4) length(4) data padded to 8 bytes. A short read ends the walk,
// as the zero-filled tail QEMU would see there is the end marker.
func readQcow2Extensions(rd reader, info *ImageInfo, start, end uint64) error {
	off := start
	for off < end && end-off >= 8 {
		h, err := rd.read(int64(off), 8)
		if err != nil {
			return err
		}
		if len(h) < 8 {
			return nil
		}
		typ := binary.BigEndian.Uint32(h)
		n := uint64(binary.BigEndian.Uint32(h[4:]))
		off += 8
		if n > end-off {
			return fmt.Errorf("%w: header extension 0x%08x (length %d) overflows the header area",
				ErrInvalidImage, typ, n)
		}
		switch typ {
		case qcow2ExtEnd:
			return nil
		case qcow2ExtBackingFormat:
			if n > qcow2MaxBackingFormat {
				return fmt.Errorf("%w: backing format extension length %d is too large", ErrInvalidImage, n)
			}
			b, err := rd.readExact(int64(off), int(n), "backing format extension")
			if err != nil {
				return err
			}
			if info.BackingFormat, err = cString(b, "backing format"); err != nil {
				return err
			}
		case qcow2ExtDataFile:
			if n > maxPathName {
				return fmt.Errorf("%w: data file name length %d exceeds %d", ErrInvalidImage, n, maxPathName)
			}
			b, err := rd.readExact(int64(off), int(n), "data file extension")
			if err != nil {
				return err
			}
			if info.DataFile, err = cString(b, "data file name"); err != nil {
				return err
			}
		}
		// Padding to 8 may run past end only on the last extension; the
		// loop condition handles that.
		pad := (n + 7) &^ 7
		if pad > end-off {
			return nil
		}
		off += pad
	}
	return nil
}

// parseQcow handles the legacy qcow (version 1) header, whose layout
// differs from qcow2 after the backing name fields. qcow cannot record a
// backing format.
func parseQcow(rd reader) (*ImageInfo, error) {
	h, err := rd.readExact(0, 48, "qcow header")
	if err != nil {
		return nil, err
	}
	info := &ImageInfo{Format: FormatQcow, Version: binary.BigEndian.Uint32(h[4:])}
	if info.Version != 1 {
		return nil, fmt.Errorf("%w: unsupported qcow version %d", ErrInvalidImage, info.Version)
	}
	backingOff := binary.BigEndian.Uint64(h[8:])
	backingLen := binary.BigEndian.Uint32(h[16:])
	info.VirtualSize = binary.BigEndian.Uint64(h[24:])
	clusterBits := uint32(h[32])
	cryptMethod := binary.BigEndian.Uint32(h[36:])
	// QEMU's qcow driver accepts 512-byte to 64 KiB clusters.
	if clusterBits < 9 || clusterBits > 16 {
		return nil, fmt.Errorf("%w: cluster bits %d out of range [9, 16]", ErrInvalidImage, clusterBits)
	}
	info.ClusterSize = 1 << clusterBits
	if info.VirtualSize > math.MaxInt64 {
		return nil, fmt.Errorf("%w: virtual size %d is too large", ErrInvalidImage, info.VirtualSize)
	}
	switch cryptMethod {
	case 0:
	case 1:
		info.Encrypted, info.EncryptionFormat = true, "aes"
	default:
		return nil, fmt.Errorf("%w: unknown encryption method %d", ErrInvalidImage, cryptMethod)
	}
	if backingOff != 0 && backingLen != 0 {
		if backingLen > maxBackingName {
			return nil, fmt.Errorf("%w: backing file name length %d exceeds %d",
				ErrInvalidImage, backingLen, maxBackingName)
		}
		if backingOff < 48 || backingOff > math.MaxInt64-uint64(backingLen) {
			return nil, fmt.Errorf("%w: backing file name offset %d is invalid", ErrInvalidImage, backingOff)
		}
		b, err := rd.readExact(int64(backingOff), int(backingLen), "backing file name")
		if err != nil {
			return nil, err
		}
		if info.BackingFile, err = cString(b, "backing file name"); err != nil {
			return nil, err
		}
	}
	return info, nil
}
