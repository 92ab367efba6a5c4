package caps

import "govirt/conf"

// wordSizes is the guest word size libvirt reports per architecture.
var wordSizes = map[string]int{
	"i686": 32, "x86_64": 64, "aarch64": 64, "armv6l": 32, "armv7l": 32,
	"ppc": 32, "ppc64": 64, "ppc64le": 64, "riscv32": 32, "riscv64": 64,
	"s390": 32, "s390x": 64, "sparc": 32, "sparc64": 64, "mips": 32, "mips64": 64,
}

// GuestCapabilities is this binary's <guest> entry of virsh
// capabilities. Like libvirt it lists the machines of the first probe
// (KVM when it works) with each alias pointing at its canonical machine,
// and makes sure every canonical machine also has an entry of its own so
// that an XPath over machine names finds all of them.
func (c *Caps) GuestCapabilities() conf.CapsGuest {
	g := conf.CapsGuest{OSType: "hvm", Arch: c.Arch, WordSize: wordSizes[c.Arch], Emulator: c.Binary,
		Domains: c.VirtTypes()}
	named := map[string]bool{}
	for _, m := range c.Machines {
		if m.Alias != "" {
			named[m.Alias] = true
		} else {
			named[m.Name] = true
		}
	}
	for _, m := range c.Machines {
		if m.Alias == "" {
			g.Machines = append(g.Machines, conf.CapsMachine{Name: m.Name, MaxCPUs: m.MaxCPUs})
			continue
		}
		if !named[m.Name] {
			g.Machines = append(g.Machines, conf.CapsMachine{Name: m.Name, MaxCPUs: m.MaxCPUs})
			named[m.Name] = true
		}
		g.Machines = append(g.Machines, conf.CapsMachine{Name: m.Alias, Canonical: m.Name, MaxCPUs: m.MaxCPUs})
	}
	x86 := c.Arch == "x86_64" || c.Arch == "i686"
	if c.Arch == "i686" {
		g.Features = append(g.Features, conf.CapsFeature{Name: "pae"}, conf.CapsFeature{Name: "nonpae"})
	}
	if x86 || c.Arch == "aarch64" {
		g.Features = append(g.Features, conf.CapsFeature{Name: "acpi", Default: "on", Toggle: true})
	}
	if x86 {
		g.Features = append(g.Features, conf.CapsFeature{Name: "apic", Default: "on"})
	}
	// -cpu host works with every QEMU govirt supports; disk snapshots
	// are always available and cannot be turned off.
	g.Features = append(g.Features, conf.CapsFeature{Name: "cpuselection"}, conf.CapsFeature{Name: "deviceboot"},
		conf.CapsFeature{Name: "disksnapshot", Default: "on"})
	return g
}
