package nodedev

import (
	"io"
	"os"
	"strings"
)

// PCI Vital Product Data, as libvirt 9.0's virpcivpd.c reads the sysfs
// "vpd" file of a PCI function: a string resource (the product name), a
// read-only resource (VPD-R) whose fields end with a checksum (RV) that
// makes every byte read so far sum to zero, an optional read-write
// resource (VPD-W) and the end tag. A malformed VPD is not shown at all.

// VPD is virPCIVPDResource.
type VPD struct {
	Name string
	RO   *VPDReadOnly
	RW   *VPDReadWrite
}

// VPDReadOnly is virPCIVPDResourceRO; nil strings were not in the VPD.
type VPDReadOnly struct {
	ChangeLevel, ManufactureID, PartNumber, SerialNumber *string
	Vendor                                               []VPDCustom
}

// VPDReadWrite is virPCIVPDResourceRW.
type VPDReadWrite struct {
	AssetTag       *string
	Vendor, System []VPDCustom
}

// VPDCustom is a vendor (Vx) or system (Yx) field: its index x and value.
type VPDCustom struct {
	Index byte
	Value string
}

// Resource tags and limits (virpcivpdpriv.h).
const (
	vpdLargeResource = 0x80
	vpdString        = 0x02
	vpdReadOnly      = 0x10
	vpdReadWrite     = 0x11
	vpdEndTag        = 0x0f
	vpdAddrMask      = 0x7fff
)

// vpdFormat is virPCIVPDResourceFieldValueFormat.
type vpdFormat int

const (
	vpdText vpdFormat = iota
	vpdBinary
	vpdResvd
	vpdRdwr
	vpdUnknown
)

func upperOrDigit(c byte) bool { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') }

func vendorKeyword(k string) bool { return len(k) == 2 && k[0] == 'V' && upperOrDigit(k[1]) }
func systemKeyword(k string) bool {
	return len(k) == 2 && k[0] == 'Y' && upperOrDigit(k[1]) && k != "YA"
}

// fieldFormat is virPCIVPDResourceGetFieldValueFormat.
func fieldFormat(k string) vpdFormat {
	if len(k) != 2 || !upperOrDigit(k[0]) || !upperOrDigit(k[1]) {
		return vpdUnknown
	}
	if vendorKeyword(k) || systemKeyword(k) {
		return vpdText
	}
	switch k {
	case "CP":
		return vpdBinary
	case "EC", "MN", "PN", "SN", "YA":
		return vpdText
	case "RV":
		return vpdResvd
	case "RW":
		return vpdRdwr
	}
	return vpdUnknown
}

// validText is virPCIVPDResourceIsValidTextValue: printable ASCII only.
func validText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// vpdReader is virPCIVPDReadVPDBytes over the file's bytes: every byte
// read counts into the checksum.
type vpdReader struct {
	data []byte
	csum byte
}

func (r *vpdReader) read(pos, n int) ([]byte, bool) {
	if pos < 0 || pos >= len(r.data) {
		return nil, n == 0
	}
	end := min(pos+n, len(r.data))
	b := r.data[pos:end]
	for _, c := range b {
		r.csum += c
	}
	return b, len(b) == n
}

func upsert(list []VPDCustom, idx byte, v string) []VPDCustom {
	for i := range list {
		if list[i].Index == idx {
			list[i].Value = v
			return list
		}
	}
	return append(list, VPDCustom{Index: idx, Value: v})
}

// update is virPCIVPDResourceUpdateKeyword.
func (v *VPD) update(readOnly bool, k, val string) {
	s := func() *string { c := val; return &c }
	if readOnly {
		ro := v.RO
		switch {
		case k == "EC":
			ro.ChangeLevel = s()
		case k == "MN":
			ro.ManufactureID = s()
		case k == "PN":
			ro.PartNumber = s()
		case k == "SN":
			ro.SerialNumber = s()
		case vendorKeyword(k):
			ro.Vendor = upsert(ro.Vendor, k[1], val)
		}
		return
	}
	rw := v.RW
	switch {
	case k == "YA":
		rw.AssetTag = s()
	case vendorKeyword(k):
		rw.Vendor = upsert(rw.Vendor, k[1], val)
	case systemKeyword(k):
		rw.System = upsert(rw.System, k[1], val)
	}
}

// fields is virPCIVPDParseVPDLargeResourceFields.
func (r *vpdReader) fields(v *VPD, resPos, resLen int, readOnly bool) bool {
	pos := resPos
	hasChecksum := false
	for pos+3 <= resPos+resLen {
		hdr, ok := r.read(pos, 3)
		if !ok {
			return false
		}
		keyword, dataLen := string(hdr[:2]), int(hdr[2])
		pos += 3
		format := fieldFormat(keyword)
		if (!readOnly && format == vpdResvd) || (readOnly && format == vpdRdwr) {
			return false
		}
		n := dataLen
		if format == vpdResvd {
			n = 1
		}
		if resPos+resLen < pos+dataLen {
			return false
		}
		b, ok := r.read(pos, n)
		if !ok {
			return false
		}
		pos += dataLen
		var value string
		switch format {
		case vpdText:
			value = strings.TrimSpace(string(b))
			if !validText(value) {
				continue
			}
		case vpdResvd:
			if r.csum != 0 {
				return false
			}
			hasChecksum = true
		case vpdUnknown:
			continue
		default:
			value = string(b)
		}
		if format == vpdResvd || format == vpdRdwr {
			break
		}
		if readOnly && v.RO == nil {
			v.RO = &VPDReadOnly{}
		} else if !readOnly && v.RW == nil {
			v.RW = &VPDReadWrite{}
		}
		v.update(readOnly, keyword, value)
	}
	end := pos >= resPos+resLen
	if readOnly {
		return hasChecksum && end
	}
	return end
}

// parseVPD is virPCIVPDParse; nil when the VPD is not well formed.
func parseVPD(data []byte) *VPD {
	r := &vpdReader{data: data}
	v := &VPD{}
	pos := 0
	hasReadOnly, ended := false, false
	for pos <= vpdAddrMask {
		t, ok := r.read(pos, 1)
		if !ok {
			break
		}
		tag := int(t[0])
		var resLen int
		if tag&vpdLargeResource != 0 {
			if pos > vpdAddrMask+1-3 {
				break
			}
			h, ok := r.read(pos+1, 2)
			if !ok {
				break
			}
			resLen = int(h[0]) | int(h[1])<<8
			pos += 3
		} else {
			resLen = tag & 7
			tag >>= 3
			pos++
		}
		if tag == vpdEndTag {
			ended = true
			break
		}
		if resLen > vpdAddrMask+1-pos {
			break
		}
		var good bool
		switch tag {
		case vpdLargeResource | vpdString:
			b, ok := r.read(pos, resLen)
			name := strings.TrimSpace(string(b))
			good = ok && validText(name)
			v.Name = name
		case vpdLargeResource | vpdReadOnly:
			good = r.fields(v, pos, resLen, true)
			hasReadOnly = true
		case vpdLargeResource | vpdReadWrite:
			good = r.fields(v, pos, resLen, false)
		default:
			pos += resLen
			continue
		}
		if !good {
			return nil
		}
		pos += resLen
	}
	if !hasReadOnly || !ended {
		return nil
	}
	return v
}

// readVPD is virNodeDeviceGetPCIVPDDynamicCap's read: the function's
// sysfs vpd file when it is a regular file, parsed.
func (m *Manager) readVPD(syspath string) *VPD {
	p := m.fs.path(syspath + "/vpd")
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	fh, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, vpdAddrMask+1))
	if err != nil && len(data) == 0 {
		return nil
	}
	return parseVPD(data)
}

// formatVPD is virNodeDeviceCapVPDFormat.
func formatVPD(b *xmlBuf, v *VPD) {
	b.line("<capability type='vpd'>")
	b.in()
	b.line("<name>%s</name>", esc(v.Name))
	field := func(name string, s *string) {
		if s != nil {
			b.line("<%s>%s</%s>", name, esc(*s), name)
		}
	}
	custom := func(elem string, list []VPDCustom) {
		for _, c := range list {
			b.line("<%s index='%c'>%s</%s>", elem, c.Index, esc(c.Value), elem)
		}
	}
	if ro := v.RO; ro != nil {
		b.line("<fields access='readonly'>")
		b.in()
		field("change_level", ro.ChangeLevel)
		field("manufacture_id", ro.ManufactureID)
		field("part_number", ro.PartNumber)
		field("serial_number", ro.SerialNumber)
		custom("vendor_field", ro.Vendor)
		b.out()
		b.line("</fields>")
	}
	if rw := v.RW; rw != nil {
		b.line("<fields access='readwrite'>")
		b.in()
		field("asset_tag", rw.AssetTag)
		custom("vendor_field", rw.Vendor)
		custom("system_field", rw.System)
		b.out()
		b.line("</fields>")
	}
	b.out()
	b.line("</capability>")
}
