package caps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// Monitor is the part of a QMP connection the probe needs. Execute sends
// cmd with args (nil for none), waits for the reply and decodes its
// "return" into ret (nil to discard). The probe must tell "QEMU said no"
// (tolerated for optional questions) from a broken connection (fatal):
// an error that is a *CommandError or has an ErrorClass() string method
// is taken as QEMU's refusal; for any other error the probe checks that
// the monitor still answers before carrying on.
type Monitor interface {
	Execute(ctx context.Context, cmd string, args any, ret any) error
}

// CommandError is a QMP error reply.
type CommandError struct {
	Class string
	Desc  string
}

func (e *CommandError) Error() string { return e.Class + ": " + e.Desc }

// ErrorClass returns the QMP error class.
func (e *CommandError) ErrorClass() string { return e.Class }

// isCommandError reports whether err is QEMU refusing a command rather
// than the conversation failing.
func isCommandError(err error) bool {
	var ce *CommandError
	if errors.As(err, &ce) {
		return true
	}
	var classed interface{ ErrorClass() string }
	return errors.As(err, &classed)
}

// minVersion is the oldest QEMU libvirt 9.0 (and so govirt) drives.
const minVersion = 4002000

type typeName struct {
	TypeName string `json:"typename"`
}

type namedProp struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Default any    `json:"default-value"`
}

// ProbeMonitor asks a QEMU started for probing (see Probe) everything
// govirt needs, in libvirt 9.0's order. Binary identity fields are left
// for the caller.
func ProbeMonitor(ctx context.Context, m Monitor) (*Caps, error) {
	p := &prober{m: m, c: &Caps{}, flags: map[string]bool{}}
	if err := p.run(ctx); err != nil {
		return nil, err
	}
	return p.c, nil
}

// ProbeMonitorTCG runs the second, TCG-only probe libvirt does when the
// first QEMU ran with KVM: CPU model usability and machine types under
// TCG. m must talk to a QEMU started with accel=tcg.
func ProbeMonitorTCG(ctx context.Context, m Monitor, c *Caps) error {
	if c.HasCommand("query-cpu-definitions") {
		models, err := queryCPUModels(ctx, m)
		if err != nil {
			return err
		}
		c.TCGCPUModels = models
	}
	hc, err := probeHostCPU(ctx, m, c, "max")
	if err != nil {
		return err
	}
	c.TCGHostCPU = hc
	c.TCGCPUFeatures = expandCPUFeatures(ctx, m, c, "max")
	machines, err := queryMachines(ctx, m, c.Arch)
	if err != nil {
		return err
	}
	c.TCGMachines = machines
	return nil
}

type prober struct {
	m     Monitor
	c     *Caps
	flags map[string]bool
	// sev/sgx answer whether the platform really supports the feature
	// whose object type QEMU has compiled in.
	sevOK, sgxOK bool
	// machineProps holds qom-list-properties of "none-machine".
	machineProps []string
	cmdline      map[string][]string
	migCaps      []string
	scsiDefault  *bool
}

func (p *prober) run(ctx context.Context) error {
	c := p.c
	var ver struct {
		QEMU    struct{ Major, Minor, Micro uint64 } `json:"qemu"`
		Package string                               `json:"package"`
	}
	if err := p.m.Execute(ctx, "query-version", nil, &ver); err != nil {
		return fmt.Errorf("query-version: %w", err)
	}
	c.Version = ver.QEMU.Major*1000000 + ver.QEMU.Minor*1000 + ver.QEMU.Micro
	c.Package = ver.Package
	if c.Version < minVersion {
		return fmt.Errorf("QEMU version >= 4.2.0 is required, but %s found", c.versionString())
	}

	var target struct{ Arch string }
	if err := p.m.Execute(ctx, "query-target", nil, &target); err != nil {
		return fmt.Errorf("query-target: %w", err)
	}
	c.Arch = target.Arch

	var raw []rawSchemaEntry
	if err := p.m.Execute(ctx, "query-qmp-schema", nil, &raw); err != nil {
		return fmt.Errorf("query-qmp-schema: %w", err)
	}
	c.Schema = newSchema(raw)
	// libvirt stopped asking query-events: the schema lists events.
	c.Events = c.Schema.names("event")

	var cmds []struct{ Name string }
	if err := p.m.Execute(ctx, "query-commands", nil, &cmds); err != nil {
		return fmt.Errorf("query-commands: %w", err)
	}
	for _, x := range cmds {
		c.Commands = append(c.Commands, x.Name)
	}
	c.Commands = sortUniq(c.Commands)

	if err := p.m.Execute(ctx, "query-kvm", nil, &c.KVM); err != nil {
		return fmt.Errorf("query-kvm: %w", err)
	}

	var types []struct{ Name string }
	if err := p.m.Execute(ctx, "qom-list-types", nil, &types); err != nil {
		return fmt.Errorf("qom-list-types: %w", err)
	}
	for _, t := range types {
		c.Types = append(c.Types, t.Name)
	}
	c.Types = sortUniq(c.Types)

	if err := p.deviceProps(ctx); err != nil {
		return err
	}
	if err := p.objectProps(ctx); err != nil {
		return err
	}
	machines, err := queryMachines(ctx, p.m, c.Arch)
	if err != nil {
		return err
	}
	c.Machines = machines
	if p.machineProps, err = p.qomProps(ctx, "none-machine"); err != nil {
		return err
	}
	if c.HasCommand("query-cpu-definitions") {
		if c.CPUModels, err = queryCPUModels(ctx, p.m); err != nil {
			return err
		}
	}
	hostModel := "max"
	if c.KVM.Enabled {
		hostModel = "host"
	}
	if c.HostCPU, err = probeHostCPU(ctx, p.m, c, hostModel); err != nil {
		return err
	}
	c.CPUFeatures = expandCPUFeatures(ctx, p.m, c, hostModel)
	if err := p.optional(ctx, "query-tpm-models", &c.TPMModels); err != nil {
		return err
	}
	if err := p.optional(ctx, "query-tpm-types", &c.TPMTypes); err != nil {
		return err
	}
	if err := p.commandLine(ctx); err != nil {
		return err
	}
	var mig []struct{ Capability string }
	if err := p.optional(ctx, "query-migrate-capabilities", &mig); err != nil {
		return err
	}
	for _, x := range mig {
		p.migCaps = append(p.migCaps, x.Capability)
	}
	if c.HasType("sev-guest") {
		var sev struct {
			CBitPos         int `json:"cbitpos"`
			ReducedPhysBits int `json:"reduced-phys-bits"`
		}
		if p.sevOK, err = p.tryOptional(ctx, "query-sev-capabilities", &sev); err != nil {
			return err
		}
		if p.sevOK {
			c.SEV = &SEVCaps{CBitPos: sev.CBitPos, ReducedPhysBits: sev.ReducedPhysBits}
		}
	}
	if c.HasType("sgx-epc") {
		var sgx struct {
			SGX1        bool   `json:"sgx1"`
			SGX2        bool   `json:"sgx2"`
			FLC         bool   `json:"flc"`
			SectionSize uint64 `json:"section-size"`
			Sections    []struct {
				Node int    `json:"node"`
				Size uint64 `json:"size"`
			} `json:"sections"`
		}
		if p.sgxOK, err = p.tryOptional(ctx, "query-sgx-capabilities", &sgx); err != nil {
			return err
		}
		if p.sgxOK {
			c.SGX = &SGXCaps{FLC: sgx.FLC, SGX1: sgx.SGX1, SGX2: sgx.SGX2, SectionSizeKiB: sgx.SectionSize / 1024}
			for _, s := range sgx.Sections {
				c.SGX.Sections = append(c.SGX.Sections, SGXSection{Node: s.Node, SizeKiB: s.Size / 1024})
			}
		}
	}
	c.Flags = p.deriveFlags()
	return nil
}

// optional runs a command whose absence or refusal just means "nothing".
func (p *prober) optional(ctx context.Context, cmd string, ret any) error {
	_, err := p.tryOptional(ctx, cmd, ret)
	return err
}

func (p *prober) tryOptional(ctx context.Context, cmd string, ret any) (bool, error) {
	if !p.c.HasCommand(cmd) {
		return false, nil
	}
	err := p.m.Execute(ctx, cmd, nil, ret)
	if err == nil {
		return true, nil
	}
	if p.refused(ctx, err) {
		return false, nil
	}
	return false, fmt.Errorf("%s: %w", cmd, err)
}

// refused reports whether err is QEMU declining a command on a monitor
// that still works, as opposed to the conversation having failed.
func (p *prober) refused(ctx context.Context, err error) bool {
	if isCommandError(err) {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	// An error type we cannot classify: a monitor that still answers the
	// simplest question refused only that one command.
	return p.m.Execute(ctx, "query-version", nil, nil) == nil
}

// deviceProps asks device-list-properties for the devices whose
// properties imply flags. Unlike libvirt it skips types QEMU did not
// list, which only saves round trips: QEMU would answer DeviceNotFound.
func (p *prober) deviceProps(ctx context.Context) error {
	p.c.DeviceProps = map[string][]string{}
	for _, r := range deviceProps {
		if !p.c.HasType(r.typ) {
			continue
		}
		var props []namedProp
		err := p.m.Execute(ctx, "device-list-properties", typeName{r.typ}, &props)
		if err != nil {
			if p.refused(ctx, err) {
				continue
			}
			return fmt.Errorf("device-list-properties %s: %w", r.typ, err)
		}
		names := make([]string, 0, len(props))
		for _, pr := range props {
			names = append(names, pr.Name)
			if r.typ == "virtio-blk-pci" && pr.Name == "scsi" {
				if b, ok := pr.Default.(bool); ok {
					p.scsiDefault = &b
				}
			}
		}
		p.c.DeviceProps[r.typ] = sortUniq(names)
	}
	return nil
}

func (p *prober) objectProps(ctx context.Context) error {
	p.c.ObjectProps = map[string][]string{}
	for _, r := range objectProps {
		if !p.c.HasType(r.typ) {
			continue
		}
		names, err := p.qomProps(ctx, r.typ)
		if err != nil {
			return err
		}
		if names != nil {
			p.c.ObjectProps[r.typ] = names
		}
	}
	return nil
}

func (p *prober) qomProps(ctx context.Context, typ string) ([]string, error) {
	var props []namedProp
	err := p.m.Execute(ctx, "qom-list-properties", typeName{typ}, &props)
	if err != nil {
		if p.refused(ctx, err) {
			return nil, nil
		}
		return nil, fmt.Errorf("qom-list-properties %s: %w", typ, err)
	}
	names := make([]string, 0, len(props))
	for _, pr := range props {
		names = append(names, pr.Name)
	}
	return sortUniq(names), nil
}

func (p *prober) commandLine(ctx context.Context) error {
	var opts []struct {
		Option     string
		Parameters []struct{ Name string }
	}
	if err := p.optional(ctx, "query-command-line-options", &opts); err != nil {
		return err
	}
	p.cmdline = map[string][]string{}
	for _, o := range opts {
		params := []string{}
		for _, x := range o.Parameters {
			params = append(params, x.Name)
		}
		p.cmdline[o.Option] = append(p.cmdline[o.Option], params...)
	}
	return nil
}

// preferredMachine is the machine libvirt makes the default for an arch
// instead of QEMU's own default, so that a QEMU upgrade changing its
// default does not change what existing configurations get.
var preferredMachine = map[string]string{
	"i686": "pc", "x86_64": "pc",
	"aarch64": "virt", "armv6l": "versatilepb", "armv7l": "virt",
	"ppc64": "pseries", "ppc64le": "pseries", "ppc": "g3beige",
	"riscv32": "virt", "riscv64": "virt",
	"s390": "s390-virtio", "s390x": "s390-ccw-virtio",
	"sparc": "SS-5", "sparc64": "sun4u",
}

func queryMachines(ctx context.Context, m Monitor, arch string) ([]Machine, error) {
	var raw []struct {
		Name             string `json:"name"`
		Alias            string `json:"alias"`
		IsDefault        bool   `json:"is-default"`
		CPUMax           int    `json:"cpu-max"`
		HotpluggableCPUs bool   `json:"hotpluggable-cpus"`
		NUMAMemSupported bool   `json:"numa-mem-supported"`
		DefaultCPUType   string `json:"default-cpu-type"`
		DefaultRAMID     string `json:"default-ram-id"`
		Deprecated       bool   `json:"deprecated"`
	}
	if err := m.Execute(ctx, "query-machines", nil, &raw); err != nil {
		return nil, fmt.Errorf("query-machines: %w", err)
	}
	var out []Machine
	pref, qdef := -1, -1
	for _, r := range raw {
		if r.Name == "none" {
			continue
		}
		out = append(out, Machine{Name: r.Name, Alias: r.Alias, MaxCPUs: r.CPUMax,
			QEMUDefault: r.IsDefault, Deprecated: r.Deprecated, HotplugCPUs: r.HotpluggableCPUs,
			NUMAMem: r.NUMAMemSupported, DefaultCPU: r.DefaultCPUType, DefaultRAM: r.DefaultRAMID})
		if want := preferredMachine[arch]; want != "" && (r.Name == want || r.Alias == want) {
			pref = len(out) - 1
		}
		if r.IsDefault {
			qdef = len(out) - 1
		}
	}
	if pref < 0 {
		pref = qdef
	}
	if pref >= 0 {
		d := out[pref]
		d.Default = true
		out = slices.Delete(out, pref, pref+1)
		out = slices.Insert(out, 0, d)
	}
	return out, nil
}

func queryCPUModels(ctx context.Context, m Monitor) ([]CPUModel, error) {
	var raw []struct {
		Name        string    `json:"name"`
		TypeName    string    `json:"typename"`
		Unavailable *[]string `json:"unavailable-features"`
		Deprecated  bool      `json:"deprecated"`
	}
	if err := m.Execute(ctx, "query-cpu-definitions", nil, &raw); err != nil {
		return nil, fmt.Errorf("query-cpu-definitions: %w", err)
	}
	out := make([]CPUModel, 0, len(raw))
	for _, r := range raw {
		cm := CPUModel{Name: r.Name, TypeName: r.TypeName, Deprecated: r.Deprecated}
		if r.Unavailable != nil {
			cm.UsableKnown = true
			cm.Usable = len(*r.Unavailable) == 0
			cm.Blockers = *r.Unavailable
		}
		out = append(out, cm)
	}
	return out, nil
}

// expandCPUFeatures lists the properties of a static expansion of model
// (libvirt's virQEMUCapsProbeQMPHostCPU): every x86 feature QEMU knows,
// on or off. Nil when QEMU cannot expand it.
func expandCPUFeatures(ctx context.Context, m Monitor, c *Caps, model string) []string {
	if (c.Arch != "x86_64" && c.Arch != "i686") || !c.HasCommand("query-cpu-model-expansion") {
		return nil
	}
	var ret struct {
		Model struct {
			Props map[string]any `json:"props"`
		} `json:"model"`
	}
	args := map[string]any{"type": "static", "model": map[string]any{"name": model}}
	if err := m.Execute(ctx, "query-cpu-model-expansion", args, &ret); err != nil {
		return nil
	}
	var out []string
	for k := range ret.Model.Props {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
