// Package sysinfo reads the host's SMBIOS tables and reports them as
// libvirt 9.0's virsh sysinfo does on x86.
//
// libvirt does not read the tables itself: it runs
// `dmidecode -q -t 0,1,2,3,4,11,17` and picks values out of that text by
// searching forward from each section title for a label ("Version: "),
// so a label a section lacks is taken from a later section. To answer as
// libvirtd does, including that, the package first renders the text
// dmidecode 3.4 prints for those types (the lines that carry one of the
// labels libvirt looks for; the others cannot change what it finds), then
// searches it the way libvirt does.
package sysinfo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Where Linux exposes the firmware's tables.
const sysfsTables = "/sys/firmware/dmi/tables"

// ErrNoSMBIOS is returned when the host has no readable SMBIOS entry
// point (dmidecode failing, for libvirt).
var ErrNoSMBIOS = errors.New("no SMBIOS entry point")

// ReadHost reads the entry point and table from dir (the sysfs
// directory, or a copy of it).
func ReadHost(dir string) (*Def, error) {
	if dir == "" {
		dir = sysfsTables
	}
	ep, err := os.ReadFile(filepath.Join(dir, "smbios_entry_point"))
	if err != nil {
		return nil, ErrNoSMBIOS
	}
	table, err := os.ReadFile(filepath.Join(dir, "DMI"))
	if err != nil {
		return nil, ErrNoSMBIOS
	}
	text, err := DMIText(ep, table)
	if err != nil {
		return nil, err
	}
	return ParseDMIText(text)
}

// entryPoint is what dmidecode takes from an entry point: the version
// (major<<8 | minor), the table's announced length and structure count
// (0 for SMBIOS 3, which only bounds the length).
type entryPoint struct {
	ver uint16
	len uint32
	num uint16
}

func checksum(b []byte) bool {
	var s byte
	for _, c := range b {
		s += c
	}
	return s == 0
}

func parseEntryPoint(ep []byte) (entryPoint, error) {
	switch {
	case len(ep) >= 0x18 && bytes.HasPrefix(ep, []byte("_SM3_")):
		n := int(ep[0x06])
		if n > len(ep) || n < 0x18 || !checksum(ep[:n]) {
			return entryPoint{}, ErrNoSMBIOS
		}
		return entryPoint{ver: uint16(ep[0x07])<<8 | uint16(ep[0x08]), len: binary.LittleEndian.Uint32(ep[0x0C:])}, nil
	case len(ep) >= 0x1F && bytes.HasPrefix(ep, []byte("_SM_")):
		n := int(ep[0x05])
		if n > len(ep) || n > 0x20 || !checksum(ep[:n]) || !bytes.Equal(ep[0x10:0x15], []byte("_DMI_")) || !checksum(ep[0x10:0x1F]) {
			return entryPoint{}, ErrNoSMBIOS
		}
		ver := uint16(ep[0x06])<<8 | uint16(ep[0x07])
		// dmidecode's fixups of versions some firmware gets wrong.
		switch ver {
		case 0x021F, 0x0221:
			ver = 0x0203
		case 0x0233:
			ver = 0x0206
		}
		return entryPoint{ver: ver, len: uint32(binary.LittleEndian.Uint16(ep[0x16:])), num: binary.LittleEndian.Uint16(ep[0x1C:])}, nil
	case len(ep) >= 0x0F && bytes.HasPrefix(ep, []byte("_DMI_")):
		if !checksum(ep[:0x0F]) {
			return entryPoint{}, ErrNoSMBIOS
		}
		ver := uint16(ep[0x0E]&0xF0)<<4 | uint16(ep[0x0E]&0x0F)
		return entryPoint{ver: ver, len: uint32(binary.LittleEndian.Uint16(ep[0x06:])), num: binary.LittleEndian.Uint16(ep[0x0C:])}, nil
	}
	return entryPoint{}, ErrNoSMBIOS
}

// structure is one SMBIOS structure: its formatted area (header
// included) and its strings.
type structure struct {
	typ     byte
	data    []byte
	strings [][]byte
}

// str is dmidecode's dmi_string: 0 is "Not Specified", a missing index
// "<BAD INDEX>", and bytes outside printable ASCII become dots.
func (s *structure) str(i byte) string {
	if i == 0 {
		return "Not Specified"
	}
	if int(i) > len(s.strings) || len(s.strings[i-1]) == 0 {
		return "<BAD INDEX>"
	}
	b := append([]byte(nil), s.strings[i-1]...)
	for k, c := range b {
		if c < 32 || c >= 127 {
			b[k] = '.'
		}
	}
	return string(b)
}

func (s *structure) word(off int) uint16  { return binary.LittleEndian.Uint16(s.data[off:]) }
func (s *structure) dword(off int) uint32 { return binary.LittleEndian.Uint32(s.data[off:]) }

// structures walks the table as dmidecode's second pass does in quiet
// mode: it stops at a structure shorter than its header, at the
// end-of-table marker, at the announced count, or at a structure that
// does not fit.
func structures(table []byte, num uint16) []structure {
	var out []structure
	for i, p := 0, 0; (num == 0 || i < int(num)) && p+4 <= len(table); i++ {
		typ, length := table[p], int(table[p+1])
		if length < 4 || typ == 127 {
			break
		}
		next := p + length
		for next+1 < len(table) && (table[next] != 0 || table[next+1] != 0) {
			next++
		}
		next += 2
		if next > len(table) || p+length > len(table) {
			break
		}
		s := structure{typ: typ, data: table[p : p+length]}
		if area := table[p+length : next-2]; len(area) > 0 && area[0] != 0 {
			s.strings = bytes.Split(area, []byte{0})
		}
		out = append(out, s)
		p = next
	}
	return out
}

// DMIText renders what `dmidecode -q -t 0,1,2,3,4,11,17` prints for the
// labels libvirt reads, from an entry point and its table.
func DMIText(ep, table []byte) (string, error) {
	e, err := parseEntryPoint(ep)
	if err != nil {
		return "", err
	}
	if int(e.len) < len(table) {
		table = table[:e.len]
	}
	var w textWriter
	for _, s := range structures(table, e.num) {
		switch s.typ {
		case 0:
			w.bios(&s)
		case 1:
			w.system(&s, e.ver)
		case 2:
			w.baseBoard(&s)
		case 3:
			w.chassis(&s)
		case 4:
			w.processor(&s, e.ver)
		case 11:
			w.oemStrings(&s)
		case 17:
			w.memoryDevice(&s)
		default:
			continue
		}
		w.b.WriteString("\n")
	}
	return w.b.String(), nil
}

type textWriter struct{ b strings.Builder }

func (w *textWriter) title(t string) { w.b.WriteString(t + "\n") }

func (w *textWriter) attr(name, format string, args ...any) {
	fmt.Fprintf(&w.b, "\t%s: "+format+"\n", append([]any{name}, args...)...)
}

func (w *textWriter) item(s string) { w.b.WriteString("\t\t" + s + "\n") }

func (w *textWriter) bios(s *structure) {
	w.title("BIOS Information")
	if len(s.data) < 0x12 {
		return
	}
	w.attr("Vendor", "%s", s.str(s.data[0x04]))
	w.attr("Version", "%s", s.str(s.data[0x05]))
	w.attr("Release Date", "%s", s.str(s.data[0x08]))
	if len(s.data) < 0x18 {
		return
	}
	if s.data[0x14] != 0xFF && s.data[0x15] != 0xFF {
		w.attr("BIOS Revision", "%d.%d", s.data[0x14], s.data[0x15])
	}
}

// uuid is dmi_system_uuid: SMBIOS 2.6 and later store the first three
// fields little-endian.
func uuid(p []byte, ver uint16) string {
	all00, allFF := true, true
	for _, c := range p[:16] {
		all00 = all00 && c == 0
		allFF = allFF && c == 0xFF
	}
	switch {
	case allFF:
		return "Not Present"
	case all00:
		return "Not Settable"
	}
	q := append([]byte(nil), p[:16]...)
	if ver >= 0x0206 {
		q[0], q[1], q[2], q[3] = p[3], p[2], p[1], p[0]
		q[4], q[5] = p[5], p[4]
		q[6], q[7] = p[7], p[6]
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", q[0:4], q[4:6], q[6:8], q[8:10], q[10:16])
}

func (w *textWriter) system(s *structure, ver uint16) {
	w.title("System Information")
	if len(s.data) < 0x08 {
		return
	}
	w.attr("Manufacturer", "%s", s.str(s.data[0x04]))
	w.attr("Product Name", "%s", s.str(s.data[0x05]))
	w.attr("Version", "%s", s.str(s.data[0x06]))
	w.attr("Serial Number", "%s", s.str(s.data[0x07]))
	if len(s.data) < 0x19 {
		return
	}
	w.attr("UUID", "%s", uuid(s.data[0x08:0x18], ver))
	w.attr("Wake-up Type", "%s", lookup(wakeUpTypes, int(s.data[0x18])+1))
	if len(s.data) < 0x1B {
		return
	}
	w.attr("SKU Number", "%s", s.str(s.data[0x19]))
	w.attr("Family", "%s", s.str(s.data[0x1A]))
}

func (w *textWriter) baseBoard(s *structure) {
	w.title("Base Board Information")
	if len(s.data) < 0x08 {
		return
	}
	w.attr("Manufacturer", "%s", s.str(s.data[0x04]))
	w.attr("Product Name", "%s", s.str(s.data[0x05]))
	w.attr("Version", "%s", s.str(s.data[0x06]))
	w.attr("Serial Number", "%s", s.str(s.data[0x07]))
	if len(s.data) < 0x09 {
		return
	}
	w.attr("Asset Tag", "%s", s.str(s.data[0x08]))
	if len(s.data) < 0x0E {
		return
	}
	w.attr("Location In Chassis", "%s", s.str(s.data[0x0A]))
	w.attr("Type", "%s", lookup(boardTypes, int(s.data[0x0D])))
}

func (w *textWriter) chassis(s *structure) {
	w.title("Chassis Information")
	if len(s.data) < 0x09 {
		return
	}
	w.attr("Manufacturer", "%s", s.str(s.data[0x04]))
	w.attr("Type", "%s", lookup(chassisTypes, int(s.data[0x05]&0x7F)))
	w.attr("Version", "%s", s.str(s.data[0x06]))
	w.attr("Serial Number", "%s", s.str(s.data[0x07]))
	w.attr("Asset Tag", "%s", s.str(s.data[0x08]))
	if len(s.data) < 0x0D {
		return
	}
	w.attr("Security Status", "%s", lookup(chassisSecurity, int(s.data[0x0C])))
	if len(s.data) < 0x15 {
		return
	}
	n, l := int(s.data[0x13]), int(s.data[0x14])
	if len(s.data) < 0x15+n*l {
		return
	}
	// The contained elements' names include structure types such as
	// "Memory Device", which libvirt's search would find.
	if l >= 3 {
		for i := 0; i < n; i++ {
			e := s.data[0x15+i*l:]
			name := lookup(boardTypes, int(e[0]&0x7F))
			if e[0]&0x80 != 0 {
				name = structureTypeName(e[0] & 0x7F)
			}
			if e[1] == e[2] {
				w.item(fmt.Sprintf("%s (%d)", name, e[1]))
			} else {
				w.item(fmt.Sprintf("%s (%d-%d)", name, e[1], e[2]))
			}
		}
	}
	if len(s.data) < 0x16+n*l {
		return
	}
	w.attr("SKU Number", "%s", s.str(s.data[0x15+n*l]))
}

func (w *textWriter) oemStrings(s *structure) {
	w.title("OEM Strings")
	if len(s.data) < 0x05 {
		return
	}
	for i := 1; i <= int(s.data[0x04]); i++ {
		w.attr(fmt.Sprintf("String %d", i), "%s", s.str(byte(i)))
	}
}

func lookup(table []string, code int) string {
	if code >= 1 && code <= len(table) {
		return table[code-1]
	}
	return "<OUT OF SPEC>"
}

var host struct {
	once sync.Once
	xml  string
	err  error
}

// Host is the host's sysinfo XML, read once, as libvirt's QEMU driver
// reads it when it starts (virSysinfoRead into hostsysinfo).
func Host() (string, error) {
	host.once.Do(func() {
		d, err := ReadHost("")
		if err != nil {
			host.err = err
			return
		}
		host.xml = d.Format()
	})
	return host.xml, host.err
}
