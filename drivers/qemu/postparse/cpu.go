package postparse

import "govirt/conf"

// cpuDefaulter is implemented by capabilities that know each machine's
// default CPU model (*caps.Caps).
type cpuDefaulter interface {
	MachineDefaultCPU(virtType, machine string) string
}

// cpu writes out the CPU model QEMU would use anyway, as
// qemuDomainDefSetDefaultCPU does for x86: a guest without <cpu>, or
// with a custom one naming no model, gets the machine's default model
// with checks off (the model may not be runnable as such on the host).
func (p *pp) cpu() error {
	d := p.def
	// virCPUDefFormat writes a feature's policy before its name.
	d.OrderAttrs("cpu/feature", "policy", "name")
	if c := d.CPU; c != nil {
		cpuDefaults(d, c)
		// qemuDomainDefCPUPostParse: a host-passthrough CPU is
		// migratable unless QEMU cannot say so.
		if _, ok := d.Value("cpu/@migratable"); !ok && c.Mode == "host-passthrough" {
			mig := ""
			if p.caps.Has("cpu.migratable") {
				mig = "on"
			} else if d.OS.Arch == "" || d.OS.Arch == "x86_64" || d.OS.Arch == "i686" {
				mig = "off"
			}
			if mig != "" {
				d.SetValue("cpu/@migratable", mig)
				d.OrderAttrs("cpu", "mode", "match", "check", "migratable")
			}
		}
	}
	if c := d.CPU; c != nil && ((c.Mode != "" && c.Mode != "custom") || c.Model != "") {
		return nil
	}
	cd, ok := p.caps.(cpuDefaulter)
	if !ok {
		return nil
	}
	model := cd.MachineDefaultCPU(d.Type, d.OS.Machine)
	if model == "" {
		return nil
	}
	if model == "host" {
		if d.Type != "kvm" {
			return unsupported("QEMU reports invalid default CPU model \"host\" for non-kvm domain virt type")
		}
		d.CPU = cpuOrNew(d)
		d.CPU.Mode = "host-passthrough"
		d.SetValue("cpu/@mode", "host-passthrough")
		return nil
	}
	c := cpuOrNew(d)
	c.Mode, c.Match, c.Model = "custom", "exact", model
	// Written in libvirt's attribute order before Format adds the
	// typed ones, so check comes after mode and match.
	d.SetValue("cpu/@mode", "custom")
	d.SetValue("cpu/@match", "exact")
	d.SetValue("cpu/@check", "none")
	d.SetValue("cpu/model/@fallback", "forbid")
	d.SetValue("cpu/model", model)
	d.CPU = c
	return nil
}

func cpuOrNew(d *conf.Domain) *conf.CPU {
	if d.CPU != nil {
		return d.CPU
	}
	return &conf.CPU{}
}

// cpuDefaults is what libvirt's parser and qemuDomainDefCPUPostParse
// fill in for a <cpu> the user wrote: a topology's dies default to 1;
// match belongs to custom CPUs only (virCPUDefFormatBuf writes it for
// no other mode); an unset check becomes none for host-passthrough and
// maximum, partial for host-model, and for a custom CPU with a model
// none under TCG, partial under KVM.
func cpuDefaults(d *conf.Domain, c *conf.CPU) {
	if _, ok := d.Value("cpu/topology"); ok || c.Sockets != 0 {
		if c.Sockets != 0 && c.Cores != 0 && c.Threads != 0 && c.Dies == 0 {
			c.Dies = 1
			d.SetValue("cpu/topology/@dies", "1")
			d.OrderAttrs("cpu/topology", "sockets", "dies", "cores", "threads")
		}
	}
	guestCPUAttrs(d, c)
	check := ""
	switch c.Mode {
	case "host-passthrough", "maximum":
		c.Match = ""
		d.SetValue("cpu/@match", "")
		check = "none"
	case "host-model":
		c.Match = ""
		d.SetValue("cpu/@match", "")
		check = "partial"
	case "", "custom":
		if c.Model == "" {
			return
		}
		check = "partial"
		if d.Type == "qemu" {
			check = "none"
		}
	default:
		return
	}
	if _, ok := d.Value("cpu/@check"); !ok {
		d.SetValue("cpu/@check", check)
		d.OrderAttrs("cpu", "mode", "match", "check", "migratable")
	}
}

// guestCPUAttrs writes what libvirt's guest CPU parser assumes and its
// formatter (virCPUDefFormatBufFull) writes: a <cpu> naming a model is
// mode='custom' match='exact' unless it says otherwise, its model has a
// fallback (allow), and a feature without a policy is required.
func guestCPUAttrs(d *conf.Domain, c *conf.CPU) {
	if (c.Mode == "" || c.Mode == "custom") && c.Model != "" {
		if c.Mode == "" {
			c.Mode = "custom"
			d.SetValue("cpu/@mode", "custom")
		}
		if c.Match == "" {
			c.Match = "exact"
			d.SetValue("cpu/@match", "exact")
		}
	}
	d.OrderAttrs("cpu", "mode", "match", "check", "migratable")
	if (c.Mode == "" || c.Mode == "custom" || c.Mode == "host-model") && c.Model != "" {
		d.DefaultAttr("cpu/model", "fallback", "allow")
		d.OrderAttrs("cpu/model", "fallback", "vendor_id")
	}
	d.DefaultAttr("cpu/feature", "policy", "require")
	d.OrderAttrs("cpu/feature", "policy", "name")
}
