// Package caps probes what a QEMU binary can do, caches the answer per
// binary, and turns it into the capability documents libvirt publishes
// (domcapabilities, the <guest> part of capabilities).
//
// The probe follows libvirt 9.0: one QEMU started with
// "-machine none,accel=kvm:tcg" answers everything, and when that QEMU
// ran with KVM a second one forced to TCG answers the accelerator
// dependent questions (CPU model usability, machine types) again.
package caps

import (
	"slices"
	"sort"
)

// Caps is everything govirt knows about one QEMU binary. It is stored as
// JSON in the cache and in each running guest's status file, so field
// names are part of the on-disk format: add fields, never rename them.
type Caps struct {
	Binary        string `json:"binary"`
	BinarySize    int64  `json:"binarySize"`
	BinaryCtime   int64  `json:"binaryCtime"` // ns since the epoch
	KernelVersion string `json:"kernelVersion"`

	Version uint64 `json:"version"` // major*1000000 + minor*1000 + micro
	Package string `json:"package,omitempty"`
	Arch    string `json:"arch"`

	KVM struct {
		Present bool `json:"present"`
		Enabled bool `json:"enabled"`
	} `json:"kvm"`

	// Machines and CPUModels are what QEMU reported under the
	// accelerator of the first probe (KVM when enabled, otherwise TCG).
	// TCGMachines/TCGCPUModels come from the second, TCG-only probe and
	// are empty when the first probe already ran under TCG.
	Machines     []Machine  `json:"machines"`
	CPUModels    []CPUModel `json:"cpuModels,omitempty"`
	TCGMachines  []Machine  `json:"tcgMachines,omitempty"`
	TCGCPUModels []CPUModel `json:"tcgCpuModels,omitempty"`
	// CPUFeatures are the x86 CPU features QEMU knows under the first
	// probe's accelerator (the properties of query-cpu-model-expansion
	// static of "host" with KVM, "max" with TCG), TCGCPUFeatures those of
	// the TCG probe; libvirt drops disabled features QEMU does not know.
	// Empty when not probed (an older cache): nothing is dropped then.
	CPUFeatures    []string `json:"cpuFeatures,omitempty"`
	TCGCPUFeatures []string `json:"tcgCpuFeatures,omitempty"`

	// HostCPU is the expansion of "host" (KVM) or "max" (a TCG-only
	// first probe); TCGHostCPU that of "max" from the TCG probe.
	HostCPU    *HostCPUModel `json:"hostCpu,omitempty"`
	TCGHostCPU *HostCPUModel `json:"tcgHostCpu,omitempty"`

	// Commands, Events, Types and Flags are sorted: the Has* helpers
	// binary-search them.
	Commands    []string            `json:"commands"`
	Events      []string            `json:"events,omitempty"`
	Types       []string            `json:"types"`
	DeviceProps map[string][]string `json:"deviceProps,omitempty"`
	ObjectProps map[string][]string `json:"objectProps,omitempty"`
	TPMModels   []string            `json:"tpmModels,omitempty"`
	TPMTypes    []string            `json:"tpmTypes,omitempty"`

	// SEV and SGX are set when QEMU has the object and the host backs
	// it (query-sev-capabilities / query-sgx-capabilities succeeded).
	SEV *SEVCaps `json:"sev,omitempty"`
	SGX *SGXCaps `json:"sgx,omitempty"`

	// Flags are libvirt-named capability flags (the <flag name=.../>
	// strings of libvirt's qemuCaps) derived from the probe, sorted.
	Flags []string `json:"flags"`

	// Schema is a compact form of query-qmp-schema used to validate the
	// QMP commands and JSON command-line arguments govirt builds. It is
	// about a tenth of the raw reply; Slim drops it where even that is
	// too much.
	Schema *Schema `json:"schema,omitempty"`
}

// Machine is one entry of query-machines.
type Machine struct {
	Name        string `json:"name"`
	Alias       string `json:"alias,omitempty"`
	MaxCPUs     int    `json:"maxCpus"`
	Default     bool   `json:"default,omitempty"` // govirt's default (see DefaultMachine)
	QEMUDefault bool   `json:"qemuDefault,omitempty"`
	Deprecated  bool   `json:"deprecated,omitempty"`
	HotplugCPUs bool   `json:"hotplugCpus,omitempty"`
	NUMAMem     bool   `json:"numaMemSupported,omitempty"`
	DefaultCPU  string `json:"defaultCpu,omitempty"`
	DefaultRAM  string `json:"defaultRamId,omitempty"`
}

// CPUModel is one entry of query-cpu-definitions. Usable is only
// meaningful when UsableKnown: QEMU leaves the usability out for
// accelerators it cannot judge.
type CPUModel struct {
	Name        string   `json:"name"`
	TypeName    string   `json:"typename,omitempty"`
	UsableKnown bool     `json:"usableKnown,omitempty"`
	Usable      bool     `json:"usable,omitempty"`
	Deprecated  bool     `json:"deprecated,omitempty"`
	Blockers    []string `json:"blockers,omitempty"`
}

// SEVCaps is what domcapabilities reports of query-sev-capabilities.
type SEVCaps struct {
	CBitPos         int `json:"cbitpos"`
	ReducedPhysBits int `json:"reducedPhysBits"`
}

// SGXCaps is query-sgx-capabilities, sizes in KiB as libvirt shows them.
type SGXCaps struct {
	FLC            bool         `json:"flc"`
	SGX1           bool         `json:"sgx1"`
	SGX2           bool         `json:"sgx2"`
	SectionSizeKiB uint64       `json:"sectionSizeKiB"`
	Sections       []SGXSection `json:"sections,omitempty"`
}

// SGXSection is one NUMA node's EPC section.
type SGXSection struct {
	Node    int    `json:"node"`
	SizeKiB uint64 `json:"sizeKiB"`
}

// Has reports whether the libvirt-named flag was derived.
func (c *Caps) Has(flag string) bool { return sortedHas(c.Flags, flag) }

// HasCommand reports whether QEMU listed cmd in query-commands.
func (c *Caps) HasCommand(cmd string) bool { return sortedHas(c.Commands, cmd) }

// HasType reports whether QEMU listed typ in qom-list-types.
func (c *Caps) HasType(typ string) bool { return sortedHas(c.Types, typ) }

// HasEvent reports whether the schema declares the event.
func (c *Caps) HasEvent(ev string) bool { return sortedHas(c.Events, ev) }

func sortedHas(list []string, s string) bool {
	_, ok := slices.BinarySearch(list, s)
	return ok
}

// MachinesFor returns the machine types for a domain type ("kvm" or
// "qemu").
func (c *Caps) MachinesFor(virtType string) []Machine {
	if virtType == "qemu" && len(c.TCGMachines) > 0 {
		return c.TCGMachines
	}
	return c.Machines
}

// CPUModelsFor returns the CPU models for a domain type ("kvm" or
// "qemu"). Usability differs between the two: TCG emulates features the
// host lacks and lacks some the host has.
func (c *Caps) CPUModelsFor(virtType string) []CPUModel {
	if virtType == "qemu" && len(c.TCGCPUModels) > 0 {
		return c.TCGCPUModels
	}
	return c.CPUModels
}

// CPUFeaturesFor is CPUFeatures or TCGCPUFeatures for a domain type.
func (c *Caps) CPUFeaturesFor(virtType string) []string {
	if virtType == "qemu" && len(c.TCGCPUFeatures) > 0 {
		return c.TCGCPUFeatures
	}
	return c.CPUFeatures
}

// DefaultMachine is the machine type used when a domain names none: the
// first entry, which the probe made libvirt's preferred machine for the
// arch (its historical choice, "pc" on x86) or QEMU's default.
func (c *Caps) DefaultMachine() string {
	for _, m := range c.Machines {
		if m.Default {
			return m.Name
		}
	}
	return ""
}

// MachineAlias resolves an alias such as "q35" to its canonical machine
// ("pc-q35-7.2"). Names that are no alias come back unchanged.
func (c *Caps) MachineAlias(name string) string {
	for _, m := range c.Machines {
		if m.Alias != "" && m.Alias == name {
			return m.Name
		}
	}
	return name
}

// Machine finds a machine by canonical name or alias for a domain type.
func (c *Caps) Machine(virtType, name string) (Machine, bool) {
	for _, m := range c.MachinesFor(virtType) {
		if m.Name == name || (m.Alias != "" && m.Alias == name) {
			return m, true
		}
	}
	return Machine{}, false
}

// VirtTypes lists the domain types this binary can run: "qemu" when TCG
// is built in, "kvm" when KVM worked during the probe.
func (c *Caps) VirtTypes() []string {
	var out []string
	if c.Has("tcg") {
		out = append(out, "qemu")
	}
	if c.Has("kvm") {
		out = append(out, "kvm")
	}
	return out
}

// Slim returns a copy without the schema and device property lists, for
// places (guest status files) that need the flags but not validation.
func (c *Caps) Slim() *Caps {
	cp := *c
	cp.Schema = nil
	cp.DeviceProps = nil
	cp.ObjectProps = nil
	return &cp
}

func sortUniq(list []string) []string {
	sort.Strings(list)
	return slices.Compact(list)
}
