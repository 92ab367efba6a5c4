package sysinfo

import (
	"fmt"
	"strings"
)

// processorFamily is dmi_processor_family: the family byte, or the word
// at 0x28 when the byte says so; SMBIOS 2.0's 0x30 and the ambiguous
// 0xBE are told apart by the manufacturer.
func processorFamily(s *structure, ver uint16) string {
	d := s.data
	if ver == 0x0200 && d[0x06] == 0x30 && len(d) >= 0x08 {
		if isVendor(s.str(d[0x07]), "Intel") {
			return "Pentium Pro"
		}
	}
	code := familyCode(s)
	if code == 0xBE {
		if len(d) >= 0x08 {
			m := s.str(d[0x07])
			if isVendor(m, "Intel") {
				return "Core 2"
			}
			if isVendor(m, "AMD") {
				return "K7"
			}
		}
		return "Core 2 or K7"
	}
	if n, ok := processorFamilies[code]; ok {
		return n
	}
	return "<OUT OF SPEC>"
}

func isVendor(m, v string) bool {
	return strings.Contains(m, v) || (len(m) >= len(v) && strings.EqualFold(m[:len(v)], v))
}

func familyCode(s *structure) uint16 {
	if s.data[0x06] == 0xFE && len(s.data) >= 0x2A {
		return s.word(0x28)
	}
	return uint16(s.data[0x06])
}

// cpuidKind is dmidecode's dmi_get_cpuid_type.
type cpuidKind int

const (
	cpuidNone cpuidKind = iota
	cpuid80386
	cpuid80486
	cpuidARMLegacy
	cpuidARMSoC
	cpuidIntel
	cpuidAMD
)

func cpuidType(s *structure) cpuidKind {
	t := familyCode(s)
	in := func(lo, hi uint16) bool { return t >= lo && t <= hi }
	switch {
	case t == 0x05:
		return cpuid80386
	case t == 0x06:
		dx := s.word(0x08)
		if dx&0x0F00 == 0x0400 && (dx&0x00F0 == 0x0040 || dx&0x00F0 >= 0x0070) && dx&0x000F >= 0x0003 {
			return cpuidIntel
		}
		return cpuid80486
	case in(0x100, 0x101), in(0x118, 0x119):
		if len(s.data) >= 0x28 && s.word(0x26)&(1<<9) != 0 {
			return cpuidARMSoC
		}
		return cpuidARMLegacy
	case in(0x0B, 0x15), in(0x28, 0x2F), in(0xA1, 0xB3), t == 0xB5, in(0xB9, 0xC7),
		in(0xCD, 0xCF), in(0xD2, 0xDB), in(0xDD, 0xE0):
		return cpuidIntel
	case in(0x18, 0x1D), t == 0x1F, in(0x38, 0x3F), in(0x46, 0x4F), in(0x66, 0x6B),
		in(0x83, 0x8F), in(0xB6, 0xB7), in(0xE4, 0xEF):
		return cpuidAMD
	case t == 0x01, t == 0x02:
		v := s.str(s.data[0x10])
		switch {
		case strings.HasPrefix(v, "Pentium III MMX"), strings.HasPrefix(v, "Intel(R) Core(TM)2"),
			strings.HasPrefix(v, "Intel(R) Pentium(R)"), v == "Genuine Intel(R) CPU U1400":
			return cpuidIntel
		case strings.HasPrefix(v, "AMD Athlon(TM)"), strings.HasPrefix(v, "AMD Opteron(tm)"),
			strings.HasPrefix(v, "Dual-Core AMD Opteron(tm)"):
			return cpuidAMD
		}
	}
	return cpuidNone
}

// signature is dmi_print_cpuid's text, "" when dmidecode prints none.
func signature(s *structure) string {
	p := s.data[0x08:]
	le32 := func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }
	switch cpuidType(s) {
	case cpuid80386:
		dx := s.word(0x08)
		return fmt.Sprintf("Type %d, Family %d, Major Stepping %d, Minor Stepping %d", dx>>12, (dx>>8)&0xF, (dx>>4)&0xF, dx&0xF)
	case cpuid80486:
		dx := s.word(0x08)
		return fmt.Sprintf("Type %d, Family %d, Model %d, Stepping %d", (dx>>12)&0x3, (dx>>8)&0xF, (dx>>4)&0xF, dx&0xF)
	case cpuidARMLegacy:
		midr := le32(p)
		if midr == 0 {
			return ""
		}
		return fmt.Sprintf("Implementor 0x%02x, Variant 0x%x, Architecture %d, Part 0x%03x, Revision %d",
			midr>>24, (midr>>20)&0xF, (midr>>16)&0xF, (midr>>4)&0xFFF, midr&0xF)
	case cpuidARMSoC:
		jep, rev := le32(p), le32(p[4:])
		return fmt.Sprintf("JEP-106 Bank 0x%02x Manufacturer 0x%02x, SoC ID 0x%04x, SoC Revision 0x%08x",
			(jep>>24)&0x7F, (jep>>16)&0x7F, jep&0xFFFF, rev)
	case cpuidIntel:
		eax := le32(p)
		return fmt.Sprintf("Type %d, Family %d, Model %d, Stepping %d", (eax>>12)&0x3,
			((eax>>20)&0xFF)+((eax>>8)&0x0F), ((eax>>12)&0xF0)+((eax>>4)&0x0F), eax&0xF)
	case cpuidAMD:
		eax := le32(p)
		fam, model := (eax>>8)&0xF, (eax>>4)&0xF
		if fam == 0xF {
			fam += (eax >> 20) & 0xFF
			model |= (eax >> 12) & 0xF0
		}
		return fmt.Sprintf("Family %d, Model %d, Stepping %d", fam, model, eax&0xF)
	}
	return ""
}

func frequency(code uint16) string {
	if code == 0 {
		return "Unknown"
	}
	return fmt.Sprintf("%d MHz", code)
}

var processorStatuses = [8]string{"Unknown", "Enabled", "Disabled By User", "Disabled By BIOS", "Idle", "<OUT OF SPEC>", "<OUT OF SPEC>", "Other"}

func (w *textWriter) processor(s *structure, ver uint16) {
	w.title("Processor Information")
	d := s.data
	if len(d) < 0x1A {
		return
	}
	w.attr("Socket Designation", "%s", s.str(d[0x04]))
	w.attr("Type", "%s", lookup(processorTypes, int(d[0x05])))
	w.attr("Family", "%s", processorFamily(s, ver))
	w.attr("Manufacturer", "%s", s.str(d[0x07]))
	if sig := signature(s); sig != "" {
		w.attr("Signature", "%s", sig)
	}
	w.attr("Version", "%s", s.str(d[0x10]))
	w.attr("External Clock", "%s", frequency(s.word(0x12)))
	w.attr("Max Speed", "%s", frequency(s.word(0x14)))
	w.attr("Current Speed", "%s", frequency(s.word(0x16)))
	if d[0x18]&(1<<6) != 0 {
		w.attr("Status", "Populated, %s", processorStatuses[d[0x18]&0x07])
	} else {
		w.attr("Status", "Unpopulated")
	}
	if len(d) < 0x23 {
		return
	}
	w.attr("Serial Number", "%s", s.str(d[0x20]))
	w.attr("Asset Tag", "%s", s.str(d[0x21]))
	w.attr("Part Number", "%s", s.str(d[0x22]))
}

// memorySize is dmi_print_memory_size for a size in KiB: the largest
// unit whose value is not zero, with the next one folded in when it is
// not zero either.
func memorySize(kib uint64) string {
	units := []string{"kB", "MB", "GB", "TB", "PB", "EB", "ZB"}
	var split [7]uint64
	for i := range split {
		split[i] = (kib >> (10 * i)) & 0x3FF
	}
	i := 6
	for ; i > 0 && split[i] == 0; i-- {
	}
	if i > 0 && split[i-1] != 0 {
		i--
		return fmt.Sprintf("%d %s", split[i]+split[i+1]<<10, units[i])
	}
	return fmt.Sprintf("%d %s", split[i], units[i])
}

func memorySpeed(code1 uint16, code2 uint32) string {
	switch {
	case code1 == 0xFFFF && code2 != 0:
		return fmt.Sprintf("%d MT/s", code2)
	case code1 == 0xFFFF, code1 == 0:
		return "Unknown"
	}
	return fmt.Sprintf("%d MT/s", code1)
}

func (w *textWriter) memoryDevice(s *structure) {
	w.title("Memory Device")
	d := s.data
	if len(d) < 0x15 {
		return
	}
	size := s.word(0x0C)
	switch {
	case len(d) >= 0x20 && size == 0x7FFF:
		ext := s.dword(0x1C) & 0x7FFFFFFF
		switch {
		case ext&0x3FF != 0:
			w.attr("Size", "%d MB", ext)
		case ext&0xFFC00 != 0:
			w.attr("Size", "%d GB", ext>>10)
		default:
			w.attr("Size", "%d TB", ext>>20)
		}
	case size == 0:
		w.attr("Size", "No Module Installed")
	case size == 0xFFFF:
		w.attr("Size", "Unknown")
	default:
		kib := uint64(size & 0x7FFF)
		if size&0x8000 == 0 {
			kib <<= 10
		}
		w.attr("Size", "%s", memorySize(kib))
	}
	w.attr("Form Factor", "%s", lookup(memoryFormFactors, int(d[0x0E])))
	w.attr("Locator", "%s", s.str(d[0x10]))
	w.attr("Bank Locator", "%s", s.str(d[0x11]))
	w.attr("Type", "%s", lookup(memoryTypes, int(d[0x12])))
	detail := s.word(0x13)
	if detail&0xFFFE == 0 {
		w.attr("Type Detail", "None")
	} else {
		var names []string
		for i := 1; i <= 15; i++ {
			if detail&(1<<i) != 0 {
				names = append(names, memoryTypeDetails[i-1])
			}
		}
		w.attr("Type Detail", "%s", strings.Join(names, " "))
	}
	if len(d) < 0x17 || size == 0 {
		return
	}
	ext := func(off int) uint32 {
		if len(d) >= 0x5C {
			return s.dword(off)
		}
		return 0
	}
	w.attr("Speed", "%s", memorySpeed(s.word(0x15), ext(0x54)))
	if len(d) < 0x1B {
		return
	}
	w.attr("Manufacturer", "%s", s.str(d[0x17]))
	w.attr("Serial Number", "%s", s.str(d[0x18]))
	w.attr("Asset Tag", "%s", s.str(d[0x19]))
	w.attr("Part Number", "%s", s.str(d[0x1A]))
	if len(d) < 0x22 {
		return
	}
	w.attr("Configured Memory Speed", "%s", memorySpeed(s.word(0x20), ext(0x58)))
}
