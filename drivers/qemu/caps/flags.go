package caps

import (
	"slices"
	"sort"
	"strings"
)

// govirtOnlyFlags are flags libvirt 9.0 no longer records because every
// QEMU it supports (>= 4.2) has them, but that govirt code asks for by
// name to keep the intent visible at the call site.
var govirtOnlyFlags = []flagRule{
	{"blockdev-add", "blockdev"},
	{"query-display-options", "query-display-options"},
}

// deriveFlags turns the raw probe answers into libvirt-named flags.
func (p *prober) deriveFlags() []string {
	c := p.c
	set := p.flags
	for _, r := range commandFlags {
		if c.HasCommand(r.name) {
			set[r.flag] = true
		}
	}
	for _, r := range govirtOnlyFlags {
		if c.HasCommand(r.name) {
			set[r.flag] = true
		}
	}
	for _, r := range typeFlags {
		if c.HasType(r.name) {
			set[r.flag] = true
		}
	}
	for _, r := range schemaFlags {
		if c.Schema.HasPath(r.name) {
			set[r.flag] = true
		}
	}
	for _, r := range migrationFlags {
		if slices.Contains(p.migCaps, r.name) {
			set[r.flag] = true
		}
	}
	propFlags(set, deviceProps, c.DeviceProps)
	propFlags(set, objectProps, c.ObjectProps)
	if slices.Contains(p.machineProps, "confidential-guest-support") {
		set["confidential-guest-support"] = true
	}
	if p.scsiDefault != nil && !*p.scsiDefault {
		set["virtio-blk-pci.scsi.default.disabled"] = true
	}
	for _, r := range cmdlineFlags {
		params, ok := p.cmdline[r.option]
		if ok && (r.param == "" || slices.Contains(params, r.param)) {
			set[r.flag] = true
		}
	}
	for _, m := range [][2]string{{"tpm-tis", "tpm-tis"}, {"tpm-crb", "tpm-crb"}, {"tpm-spapr", "tpm-spapr"}} {
		if slices.Contains(c.TPMModels, m[0]) {
			set[m[1]] = true
		}
	}
	for _, t := range [][2]string{{"passthrough", "tpm-passthrough"}, {"emulator", "tpm-emulator"}} {
		if slices.Contains(c.TPMTypes, t[0]) {
			set[t[1]] = true
		}
	}
	if c.KVM.Present && c.KVM.Enabled {
		set["kvm"] = true
	}
	switch c.Arch {
	case "i686", "x86_64":
		// -no-acpi and -no-hpet are x86 options not visible in QMP.
		set["no-acpi"] = true
		set["no-hpet"] = true
	case "aarch64":
		set["no-acpi"] = true
	}
	if c.Version < 5002000 {
		set["enable-fips"] = true
	}
	if slices.ContainsFunc(c.CPUModels, func(m CPUModel) bool { return m.Name == "max" }) {
		set["cpu-max"] = true
	}
	// A feature QEMU compiles in but the host cannot back (no /dev/sev,
	// SGX off in KVM) is refused by its query command: not usable.
	if c.HasType("sev-guest") && !p.sevOK {
		delete(set, "sev-guest")
	}
	if c.HasType("sgx-epc") && !p.sgxOK {
		delete(set, "sgx-epc")
	}
	// Flags that depend on other flags (libvirt's post-processing).
	if (c.Arch == "x86_64" || c.Arch == "i686") && set["query-cpu-model-expansion"] {
		set["cpu-cache"] = true
	}
	if set["cpu-unavailable-features"] {
		set["canonical-cpu-features"] = true
	}
	if set["blockdev-reopen"] && set["migration-param.block-bitmap-mapping"] {
		set["incremental-backup"] = true
	}
	if set["object.qapified"] {
		set["compat-deprecated"] = true
	}
	if set["machine-hpet"] {
		delete(set, "no-hpet")
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func propFlags(set map[string]bool, rules []propRule, got map[string][]string) {
	for _, r := range rules {
		props, ok := got[r.typ]
		if !ok {
			continue
		}
		for _, pr := range r.props {
			if sortedHas(props, pr.name) {
				set[pr.flag] = true
			}
		}
	}
}

// IsGovirtOnlyFlag reports whether flag is one govirt derives although
// libvirt 9.0 no longer records it (see govirtOnlyFlags).
func IsGovirtOnlyFlag(flag string) bool {
	return slices.ContainsFunc(govirtOnlyFlags, func(r flagRule) bool {
		return strings.EqualFold(r.flag, flag)
	})
}
