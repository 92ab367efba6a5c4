package sysinfo

import "strings"

// escape is virBufferEscapeString's escaping of an entry's text.
var escape = strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;", "'", "&apos;", "\"", "&quot;")

func (s *Section) format(b *strings.Builder, name string) {
	if s == nil || s.empty() {
		return
	}
	b.WriteString("  <" + name + ">\n")
	for i, v := range s.Values {
		if v != "" {
			b.WriteString("    <entry name='" + s.Names[i] + "'>" + escape.Replace(v) + "</entry>\n")
		}
	}
	b.WriteString("  </" + name + ">\n")
}

// Format is virSysinfoFormat for an smbios definition.
func (d *Def) Format() string {
	var b strings.Builder
	d.BIOS.format(&b, "bios")
	d.System.format(&b, "system")
	for _, s := range d.BaseBoards {
		s.format(&b, "baseBoard")
	}
	d.Chassis.format(&b, "chassis")
	for _, s := range d.Processors {
		s.format(&b, "processor")
	}
	for _, s := range d.Memory {
		s.format(&b, "memory_device")
	}
	if d.HaveOEM {
		b.WriteString("  <oemStrings>\n")
		for _, v := range d.OEMStrings {
			b.WriteString("    <entry>" + escape.Replace(v) + "</entry>\n")
		}
		b.WriteString("  </oemStrings>\n")
	}
	if b.Len() == 0 {
		return "<sysinfo type='smbios'/>\n"
	}
	return "<sysinfo type='smbios'>\n" + b.String() + "</sysinfo>\n"
}
