package sysinfo

import (
	"errors"
	"strings"
)

// ErrMalformed is libvirt's "Malformed output of dmidecode" (an OEM
// string line it cannot read), which fails the whole read.
var ErrMalformed = errors.New("Malformed output of dmidecode")

// Def is libvirt's virSysinfoDef of type smbios: "" stands for a value
// libvirt did not find (NULL), which its XML leaves out.
type Def struct {
	BIOS       *Section
	System     *Section
	BaseBoards []*Section
	Chassis    *Section
	Processors []*Section
	Memory     []*Section
	OEMStrings []string
	HaveOEM    bool
}

// Section is one element of the XML: its entries in libvirt's order.
type Section struct {
	Names  []string
	Values []string
}

func (s *Section) empty() bool {
	for _, v := range s.Values {
		if v != "" {
			return false
		}
	}
	return true
}

// field is libvirt's search for a label from base on: the rest of that
// line with trailing spaces removed, "" when the label is not there or
// the value is blank (virSkipSpacesBackwards leaving nothing).
func field(base, label string) string {
	i := strings.Index(base, label)
	if i < 0 {
		return ""
	}
	v := base[i+len(label):]
	if eol := strings.IndexByte(v, '\n'); eol >= 0 {
		v = v[:eol]
	}
	return strings.TrimRight(v, " \t\n\v\f\r")
}

// section searches the labels from title on, as each of libvirt's
// virSysinfoParseX86* functions does, and returns nil when none is found.
func section(base string, names, labels []string) *Section {
	s := &Section{Names: names, Values: make([]string, len(labels))}
	for i, l := range labels {
		s.Values[i] = field(base, l)
	}
	return s
}

var (
	biosNames   = []string{"vendor", "version", "date", "release"}
	biosLabels  = []string{"Vendor: ", "Version: ", "Release Date: ", "BIOS Revision: "}
	sysNames    = []string{"manufacturer", "product", "version", "serial", "uuid", "sku", "family"}
	sysLabels   = []string{"Manufacturer: ", "Product Name: ", "Version: ", "Serial Number: ", "UUID: ", "SKU Number: ", "Family: "}
	boardNames  = []string{"manufacturer", "product", "version", "serial", "asset", "location"}
	boardLabels = []string{"Manufacturer: ", "Product Name: ", "Version: ", "Serial Number: ", "Asset Tag: ", "Location In Chassis: "}
	chNames     = []string{"manufacturer", "version", "serial", "asset", "sku"}
	chLabels    = []string{"Manufacturer: ", "Version: ", "Serial Number: ", "Asset Tag: ", "SKU Number: "}
	cpuNames    = []string{"socket_destination", "type", "family", "manufacturer", "signature", "version",
		"external_clock", "max_speed", "status", "serial_number", "part_number"}
	cpuLabels = []string{"Socket Designation: ", "Type: ", "Family: ", "Manufacturer: ", "Signature: ", "Version: ",
		"External Clock: ", "Max Speed: ", "Status: ", "Serial Number: ", "Part Number: "}
	memNames = []string{"size", "form_factor", "locator", "bank_locator", "type", "type_detail", "speed",
		"manufacturer", "serial_number", "part_number"}
	memLabels = []string{"Size: ", "Form Factor: ", "Locator: ", "Bank Locator: ", "Type: ", "Type Detail: ", "Speed: ",
		"Manufacturer: ", "Serial Number: ", "Part Number: "}
)

// single is a section libvirt reads once, from the first title on.
func single(text, title string, names, labels []string) *Section {
	i := strings.Index(text, title)
	if i < 0 {
		return nil
	}
	s := section(text[i:], names, labels)
	if s.empty() {
		return nil
	}
	return s
}

// ParseDMIText is virSysinfoReadDMI's parse of dmidecode's output.
func ParseDMIText(text string) (*Def, error) {
	d := &Def{
		BIOS:    single(text, "BIOS Information", biosNames, biosLabels),
		System:  single(text, "System Information", sysNames, sysLabels),
		Chassis: single(text, "Chassis Information", chNames, chLabels),
	}
	// Base boards: each search starts just past the title.
	for base := text; ; {
		i := strings.Index(base, "Base Board Information")
		if i < 0 {
			break
		}
		base = base[i+len("Base Board Information"):]
		if s := section(base, boardNames, boardLabels); !s.empty() {
			d.BaseBoards = append(d.BaseBoards, s)
		}
	}
	// Processors and memory devices: from the title on; empty ones are
	// kept here and skipped when formatted, as libvirt does.
	for base := text; ; {
		i := strings.Index(base, "Processor Information")
		if i < 0 {
			break
		}
		base = base[i:]
		d.Processors = append(d.Processors, section(base, cpuNames, cpuLabels))
		base = base[len("Processor Information"):]
	}
	for base := text; ; {
		i := strings.Index(base, "Memory Device")
		if i < 0 {
			break
		}
		base = base[i:]
		// libvirt compares the Size line with "No Module Installed" over
		// the line's length, and skips the device's other fields.
		if !strings.HasPrefix("No Module Installed", rawLine(base, "Size: ")) {
			d.Memory = append(d.Memory, section(base, memNames, memLabels))
		}
		base = base[len("Memory Device"):]
	}
	if err := d.parseOEM(text); err != nil {
		return nil, err
	}
	return d, nil
}

// parseOEM is virSysinfoParseOEMStrings: every "String N: " from the
// title to the end. A value with a dot is read again from dmidecode
// (--oem-string), whose output, newline included, libvirt keeps.
func (d *Def) parseOEM(text string) error {
	i := strings.Index(text, "OEM Strings")
	if i < 0 {
		return nil
	}
	d.HaveOEM = true
	cur := text[i:]
	for {
		j := strings.Index(cur, "String ")
		if j < 0 {
			return nil
		}
		cur = cur[j+len("String "):]
		eol := strings.IndexByte(cur, '\n')
		if eol < 0 {
			return ErrMalformed
		}
		k := 0
		for k < len(cur) && cur[k] >= '0' && cur[k] <= '9' {
			k++
		}
		if k >= len(cur) || cur[k] != ':' {
			return ErrMalformed
		}
		v := ""
		if k+2 <= eol {
			v = strings.TrimRight(cur[k+2:eol], " \t\v\f\r")
		}
		if v != "" {
			if strings.Contains(v, ".") {
				v += "\n"
			}
			d.OEMStrings = append(d.OEMStrings, v)
		}
		cur = cur[eol:]
	}
}

// rawLine is the rest of the line after label, untrimmed; a value no
// "No Module Installed" starts with when the label is absent.
func rawLine(base, label string) string {
	i := strings.Index(base, label)
	if i < 0 {
		return "\x00"
	}
	v := base[i+len(label):]
	if eol := strings.IndexByte(v, '\n'); eol >= 0 {
		v = v[:eol]
	}
	return v
}
