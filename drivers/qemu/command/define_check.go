package command

import (
	"strings"

	"govirt/conf"
)

// What libvirt's QEMU driver refuses when a definition is parsed (define,
// create), not only at start: the firmware and TPM checks of
// virDomainDefOSValidate, qemuValidateDomainDefBoot and
// qemuValidateDomainDeviceDefTPM. The builder makes the same checks at
// start; running them at define too gives virsh define libvirt's error
// instead of a definition that can never start.

// ValidateDefine checks def (post-parsed) as libvirt's define does.
func ValidateDefine(def *conf.Domain, c Caps) error {
	tree := def.Tree()
	osEl := child(tree, "os")
	fw, feats, l, hasLoader, hasNVRAM, err := parseOSFirmware(osEl)
	if err != nil {
		return err
	}
	if err := checkOS(fw, feats, hasLoader || child(osEl, "nvram") != nil, hasNVRAM, l); err != nil {
		return err
	}
	if l.secure == "yes" {
		m := def.OS.Machine
		if m == "" && c != nil {
			m = c.DefaultMachine()
		}
		if c != nil {
			if a := c.MachineAlias(m); a != "" {
				m = a
			}
		}
		if m != "q35" && !strings.HasPrefix(m, "pc-q35-") {
			return unsupported("Secure boot is supported with q35 machine types only")
		}
		if a := def.OS.Arch; a != "" && a != "x86_64" {
			return unsupported("Secure boot is supported for x86_64 architecture only")
		}
		smm := child(child(tree, "features"), "smm")
		if fw == "" && (smm == nil || (attr(smm, "state") != "" && attr(smm, "state") != "on")) {
			return unsupported("Secure boot requires SMM feature enabled")
		}
	}
	if err := validateArchFeatures(def, c); err != nil {
		return err
	}
	return validateTPMs(def, c)
}

// validateArchFeatures is qemuValidateDomainDefFeatures' refusal of the
// pSeries and ARM features on other guests (govirt runs x86 ones only).
func validateArchFeatures(def *conf.Domain, c Caps) error {
	feats := child(def.Tree(), "features")
	if feats == nil {
		return nil
	}
	m := def.OS.Machine
	if c != nil {
		if m == "" {
			m = c.DefaultMachine()
		}
		if a := c.MachineAlias(m); a != "" {
			m = a
		}
	}
	arch := def.OS.Arch
	if arch == "" {
		arch = "x86_64"
	}
	// In virDomainFeature order, as libvirt checks them.
	for _, name := range []string{"gic", "hpt", "htm", "nested-hv", "ccf-assist", "cfpc", "sbbc", "ibs"} {
		e := child(feats, name)
		if e == nil {
			continue
		}
		if name == "gic" && attr(e, "state") == "off" {
			continue
		}
		return unsupported("The '%s' feature is not supported for architecture '%s' or machine type '%s'", name, arch, m)
	}
	return nil
}

// validateTPMs is qemuValidateDomainDefTPMs and the host-independent part
// of qemuValidateDomainDeviceDefTPM (the swtpm's versions are checked at
// start).
func validateTPMs(def *conf.Domain, c Caps) error {
	proxies, regular := 0, 0
	for _, t := range children(child(def.Tree(), "devices"), "tpm") {
		model := attr(t, "model")
		if model == "spapr-tpm-proxy" {
			if proxies++; proxies > 1 {
				return unsupported("only a single TPM Proxy device is supported")
			}
		} else if regular++; regular > 1 {
			return unsupported("only a single TPM non-proxy device is supported")
		}
		be := child(t, "backend")
		if attr(be, "type") == "emulator" && attr(be, "version") == "1.2" {
			switch model {
			case "tpm-crb":
				return unsupported("Unsupported interface '%s' for TPM 1.2", model)
			case "tpm-spapr":
				return unsupported("TPM 1.2 is not supported with the SPAPR device model")
			}
		}
		if c == nil {
			continue
		}
		switch model {
		case "tpm-tis", "tpm-crb":
			if c.Has(model) {
				continue
			}
		}
		if model == "" {
			continue
		}
		emu := def.Devices.Emulator
		if emu == "" {
			emu = "/usr/bin/qemu-system-x86_64"
		}
		return unsupported("The QEMU executable %s does not support TPM model %s", emu, model)
	}
	return nil
}

// DefaultNVRAM is the varstore qemuDomainDefPostParse gives a read-only
// UEFI image named by path that has none: dir/NAME_VARS.fd, written into
// the definition at define so `dumpxml --inactive` shows it.
func DefaultNVRAM(def *conf.Domain, dir string) {
	osEl := child(def.Tree(), "os")
	if osEl == nil || attr(osEl, "firmware") != "" {
		return
	}
	le := child(osEl, "loader")
	if le == nil || attr(le, "type") != "pflash" || attr(le, "readonly") != "yes" || le.Text() == "" ||
		attr(le, "stateless") == "yes" {
		return
	}
	if ne := child(osEl, "nvram"); ne != nil && (ne.Text() != "" || attr(ne, "type") != "") {
		return
	}
	if dir == "" {
		dir = "/var/lib/libvirt/qemu/nvram"
	}
	def.SetValue("os/nvram", dir+"/"+def.Name+"_VARS.fd")
}

// SortFirmwareFeatures writes <os><firmware>'s features in libvirt's
// order (its enum's: enrolled-keys, then secure-boot), whatever order
// they were written in.
func SortFirmwareFeatures(def *conf.Domain) {
	def.OrderChildrenByAttr("os/firmware", "name", "enrolled-keys", "secure-boot")
}
