package postparse

import "strings"

// machine resolves the machine type as qemuDomainDefPostParseBasic and
// qemuDomainDefMachinePostParse do: the binary's default when none is
// written, an alias ("q35") replaced by the machine it stands for, the
// default emulator when <emulator> is absent.
func (p *pp) machine() error {
	d := p.def
	emu := d.Devices.Emulator
	if emu == "" {
		emu = "/usr/bin/qemu-system-x86_64"
	}
	// The emulator's checks of qemuValidateDomainDef, with its messages:
	// the arch first, then the virt type.
	switch d.OS.Arch {
	case "":
		d.OS.Arch = "x86_64"
	case "x86_64", "i686":
	default:
		return unsupported("Emulator '%s' does not support arch '%s'", emu, d.OS.Arch)
	}
	switch d.Type {
	case "kvm", "qemu":
	default:
		return unsupported("Emulator '%s' does not support virt type '%s'", emu, d.Type)
	}
	if d.OS.Type != "hvm" {
		return unsupported("os type '%s' is not supported by govirt's QEMU driver", d.OS.Type)
	}
	if d.Devices.Emulator == "" {
		d.Devices.Emulator = "/usr/bin/qemu-system-x86_64"
	}
	m := d.OS.Machine
	if m == "" {
		m = p.caps.DefaultMachine()
	}
	if c := p.caps.MachineAlias(m); c != "" {
		m = c
	}
	switch {
	case m == "q35" || strings.HasPrefix(m, "pc-q35-"):
		p.q35 = true
	case m == "pc" || strings.HasPrefix(m, "pc-i440fx-") || strings.HasPrefix(m, "pc-") && !strings.Contains(m, "q35"):
	default:
		return unsupported("machine type '%s' is not supported by govirt's QEMU driver", m)
	}
	d.OS.Machine = m
	return nil
}
