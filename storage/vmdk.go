package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// VMDK facts from VMware's "Virtual Disk Format 1.1" specification. The
// sparse extent header is little-endian:
//
//	0 magic "KDMV"  4 version  8 flags  12 capacity (sectors)
//	20 grainSize (sectors)  28 descriptorOffset (sectors)
//	36 descriptorSize (sectors)
//
// The text descriptor, embedded or standalone, carries createType, the
// extents and, for a child disk, parentFileNameHint.
const (
	vmdkMagic     = "KDMV"
	vmdkDescMagic = "# Disk DescriptorFile"

	vmdkHeaderLen = 44
	// QEMU rejects grains above 2^21 sectors (1 GiB).
	vmdkMaxGrain = 1 << 21
	// Keeps capacity*512 inside int64.
	vmdkMaxSectors = 1<<54 - 1
)

func parseVMDK(rd reader) (*ImageInfo, error) {
	head, err := rd.read(0, len(vmdkDescMagic))
	if err != nil {
		return nil, err
	}
	if hasPrefix(head, vmdkDescMagic) {
		return parseVMDKDescriptorFile(rd)
	}
	h, err := rd.readExact(0, vmdkHeaderLen, "vmdk sparse header")
	if err != nil {
		return nil, err
	}
	info := &ImageInfo{Format: FormatVMDK, Version: binary.LittleEndian.Uint32(h[4:])}
	if info.Version < 1 || info.Version > 3 {
		return nil, fmt.Errorf("%w: unsupported vmdk version %d", ErrInvalidImage, info.Version)
	}
	capacity := binary.LittleEndian.Uint64(h[12:])
	grain := binary.LittleEndian.Uint64(h[20:])
	descOff := binary.LittleEndian.Uint64(h[28:])
	descLen := binary.LittleEndian.Uint64(h[36:])
	if capacity > vmdkMaxSectors {
		return nil, fmt.Errorf("%w: capacity of %d sectors is too large", ErrInvalidImage, capacity)
	}
	if grain == 0 || grain > vmdkMaxGrain || grain&(grain-1) != 0 {
		return nil, fmt.Errorf("%w: grain of %d sectors is not a power of two up to %d",
			ErrInvalidImage, grain, vmdkMaxGrain)
	}
	info.VirtualSize = capacity * 512
	info.ClusterSize = uint32(grain * 512)
	if descOff == 0 || descLen == 0 {
		return info, nil
	}
	if descLen > maxDescriptor/512 || descOff > (1<<63-1)/512-descLen {
		return nil, fmt.Errorf("%w: embedded descriptor (sector %d, %d sectors) is out of range",
			ErrInvalidImage, descOff, descLen)
	}
	text, err := rd.readExact(int64(descOff)*512, int(descLen)*512, "embedded descriptor")
	if err != nil {
		return nil, err
	}
	desc, err := parseVMDKDescriptor(text)
	if err != nil {
		return nil, err
	}
	info.CreateType = desc.createType
	info.BackingFile = desc.parent
	if info.BackingFile != "" {
		info.BackingFormat = FormatVMDK
	}
	return info, nil
}

// parseVMDKDescriptorFile handles a standalone text descriptor, whose
// virtual size is the sum of its extents.
func parseVMDKDescriptorFile(rd reader) (*ImageInfo, error) {
	if rd.size > maxDescriptor {
		return nil, fmt.Errorf("%w: descriptor file of %d bytes exceeds %d",
			ErrInvalidImage, rd.size, maxDescriptor)
	}
	text, err := rd.read(0, int(rd.size))
	if err != nil {
		return nil, err
	}
	desc, err := parseVMDKDescriptor(text)
	if err != nil {
		return nil, err
	}
	if len(desc.extents) == 0 {
		return nil, fmt.Errorf("%w: descriptor lists no extents", ErrInvalidImage)
	}
	info := &ImageInfo{
		Format:      FormatVMDK,
		VirtualSize: desc.sectors * 512,
		CreateType:  desc.createType,
		BackingFile: desc.parent,
	}
	if info.BackingFile != "" {
		info.BackingFormat = FormatVMDK
	}
	return info, nil
}

type vmdkDescriptor struct {
	createType string
	parent     string
	extents    []string
	sectors    uint64
}

// parseVMDKDescriptor reads the line-oriented descriptor. The embedded one
// is NUL-padded to whole sectors, so text stops at the first NUL.
func parseVMDKDescriptor(text []byte) (*vmdkDescriptor, error) {
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	d := &vmdkDescriptor{}
	for _, line := range strings.FieldsFunc(string(text), func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if key, val, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(key, "\" ") {
			val = unquote(strings.TrimSpace(val))
			switch strings.TrimSpace(key) {
			case "createType":
				d.createType = val
			case "parentFileNameHint":
				d.parent = val
			}
			continue
		}
		if n, file, ok := vmdkExtent(line); ok {
			if d.sectors+n < d.sectors || d.sectors+n > vmdkMaxSectors {
				return nil, fmt.Errorf("%w: extents add up to more than %d sectors", ErrInvalidImage, uint64(vmdkMaxSectors))
			}
			d.sectors += n
			d.extents = append(d.extents, file)
		}
	}
	if len(d.parent) > maxPathName {
		return nil, fmt.Errorf("%w: parentFileNameHint is longer than %d bytes", ErrInvalidImage, maxPathName)
	}
	return d, nil
}

// vmdkExtent parses `ACCESS SECTORS TYPE "FILE" [OFFSET]`.
func vmdkExtent(line string) (uint64, string, bool) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return 0, "", false
	}
	switch f[0] {
	case "RW", "RDONLY", "NOACCESS":
	default:
		return 0, "", false
	}
	n, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, "", false
	}
	file := ""
	if i := strings.IndexByte(line, '"'); i >= 0 {
		file = unquote(line[i:])
	}
	return n, file, true
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' {
		if j := strings.IndexByte(s[1:], '"'); j >= 0 {
			return s[1 : 1+j]
		}
	}
	return s
}
