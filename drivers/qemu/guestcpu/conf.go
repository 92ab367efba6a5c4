// Package guestcpu does for a starting QEMU guest what libvirt's
// qemuProcessUpdateGuestCPU and qemuProcessUpdateAndVerifyCPU do: before
// the start it turns the domain's <cpu> into the CPU QEMU is asked for
// (host-model becomes a named model with features), and once QEMU runs
// it reads back the CPU QEMU really created, refuses a start that does
// not match what the definition demands, and records the result in the
// live definition (check='full' from then on).
package guestcpu

import (
	"strings"

	"govirt/conf"
	"govirt/internal/cpux86"
)

// read is the domain's <cpu> as libvirt's CPU driver sees it, with its
// check attribute; nil when the domain has no <cpu>.
func read(def *conf.Domain) (*cpux86.CPUDef, string) {
	if def.CPU == nil {
		return nil, ""
	}
	e := def.Tree().Child("cpu")
	if e == nil {
		return nil, ""
	}
	cpu := &cpux86.CPUDef{Type: cpux86.TypeGuest, Arch: def.OS.Arch}
	cpu.Mode, _ = e.Attr("mode")
	if cpu.Mode == "" {
		cpu.Mode = "custom"
	}
	cpu.Match, _ = e.Attr("match")
	if cpu.Match == "" && cpu.Mode == "custom" {
		cpu.Match = "exact"
	}
	if m := e.Child("model"); m != nil {
		cpu.Model = m.Text()
		cpu.Fallback, _ = m.Attr("fallback")
		if cpu.Fallback == "" {
			cpu.Fallback = "allow"
		}
	}
	if v := e.Child("vendor"); v != nil {
		cpu.Vendor = v.Text()
	}
	for _, f := range e.Children("feature") {
		name, _ := f.Attr("name")
		pol, _ := f.Attr("policy")
		if pol == "" {
			pol = cpux86.PolicyRequire
		}
		cpu.Features = append(cpu.Features, cpux86.FeatureDef{Name: name, Policy: pol})
	}
	check, _ := e.Attr("check")
	return cpu, check
}

// write puts cpu back as the domain's <cpu>, in libvirt's layout
// (virCPUDefFormatBufFull): attributes, model, vendor, then what the
// definition had besides (topology, cache, maxphysaddr), the features
// and the guest NUMA cells last.
func write(def *conf.Domain, cpu *cpux86.CPUDef, check string) error {
	old := def.Tree().Child("cpu")
	var b strings.Builder
	b.WriteString("<cpu mode='" + esc(cpu.Mode) + "'")
	if cpu.Mode == "custom" {
		b.WriteString(" match='" + esc(cpu.Match) + "'")
	}
	if check != "" {
		b.WriteString(" check='" + esc(check) + "'")
	}
	if old != nil && (cpu.Mode == "host-passthrough" || cpu.Mode == "maximum") {
		if mig, ok := old.Attr("migratable"); ok {
			b.WriteString(" migratable='" + esc(mig) + "'")
		}
	}
	b.WriteString(">")
	vendorID := ""
	if old != nil {
		if m := old.Child("model"); m != nil {
			vendorID, _ = m.Attr("vendor_id")
		}
	}
	if cpu.Model != "" || vendorID != "" {
		b.WriteString("<model")
		if cpu.Model != "" {
			fb := cpu.Fallback
			if fb == "" {
				fb = "allow"
			}
			b.WriteString(" fallback='" + esc(fb) + "'")
		}
		if vendorID != "" {
			b.WriteString(" vendor_id='" + esc(vendorID) + "'")
		}
		if cpu.Model != "" {
			b.WriteString(">" + esc(cpu.Model) + "</model>")
		} else {
			b.WriteString("/>")
		}
	}
	if cpu.Vendor != "" {
		b.WriteString("<vendor>" + esc(cpu.Vendor) + "</vendor>")
	}
	var numa []byte
	if old != nil {
		for _, k := range old.Children("") {
			switch k.Name() {
			case "model", "vendor", "feature":
			case "numa":
				numa = k.XML()
			default:
				b.Write(k.XML())
			}
		}
	}
	for _, f := range cpu.Features {
		b.WriteString("<feature policy='" + esc(f.Policy) + "' name='" + esc(f.Name) + "'/>")
	}
	b.Write(numa)
	b.WriteString("</cpu>")
	if err := def.SetElement("cpu", []byte(b.String())); err != nil {
		return err
	}
	def.CPU.Mode = cpu.Mode
	def.CPU.Match = ""
	if cpu.Mode == "custom" {
		def.CPU.Match = cpu.Match
	}
	def.CPU.Model = cpu.Model
	return nil
}

func esc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;")
	return r.Replace(s)
}

// WithCPU is a copy of def whose <cpu> is cpuXML (a <cpu> element, as
// Apply returns the CPU a guest was started with): what libvirt writes
// in migratable XML of a guest whose CPU QEMU changed.
func WithCPU(def *conf.Domain, cpuXML []byte) (*conf.Domain, error) {
	cp := def.Clone()
	if len(cpuXML) == 0 || cp.CPU == nil {
		return cp, nil
	}
	if err := cp.SetElement("cpu", cpuXML); err != nil {
		return nil, err
	}
	cpu, _ := read(cp)
	if cpu != nil {
		cp.CPU.Mode, cp.CPU.Model = cpu.Mode, cpu.Model
		cp.CPU.Match = ""
		if cpu.Mode == "custom" {
			cp.CPU.Match = cpu.Match
		}
	}
	return cp, nil
}
