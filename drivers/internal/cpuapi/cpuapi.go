// Package cpuapi implements the host-side CPU APIs both drivers offer as
// libvirt does with its CPU driver: virConnectGetCPUModelNames,
// virConnectCompareCPU and virConnectBaselineCPU, on libvirt's x86 cpu_map
// (internal/cpux86).
package cpuapi

import (
	"errors"
	"strings"

	"govirt/internal/cpux86"
	"govirt/virerr"
)

// Flags of virConnectCompareCPU and virConnectBaselineCPU.
const (
	CompareFailIncompatible = 1 << 0
	CompareValidateXML      = 1 << 1
	BaselineExpandFeatures  = 1 << 0
	BaselineMigratable      = 1 << 1
)

// libvirt's virArch names; anything else is "cannot find architecture".
var knownArchs = map[string]bool{}

func init() {
	for _, a := range strings.Fields("alpha armv6l armv7l armv7b aarch64 cris i686 ia64 lm32 m68k microblaze microblazeel mips mipsel mips64 mips64el openrisc parisc parisc64 ppc ppcle ppc64 ppc64le ppcemb riscv32 riscv64 s390 s390x sh4 sh4eb sparc sparc64 unicore32 x86_64 xtensa xtensaeb") {
		knownArchs[a] = true
	}
}

// ppc64Models are the ppc64 models of libvirt 9.0's cpu_map/index.xml, in
// its order; ARM and s390 list none ("all CPU models are accepted").
var ppc64Models = []string{"POWER6", "POWER7", "POWER8", "POWER9", "POWER10", "POWERPC_e5500", "POWERPC_e6500"}

// Convert turns a cpux86 failure into the libvirt error it stands for.
func Convert(err error) error {
	var ce *cpux86.Error
	if !errors.As(err, &ce) {
		return err
	}
	code := map[string]virerr.Code{
		cpux86.KindXML:          virerr.ErrXMLError,
		cpux86.KindConfig:       virerr.ErrConfigUnsupported,
		cpux86.KindInternal:     virerr.ErrInternalError,
		cpux86.KindInvalidArg:   virerr.ErrInvalidArg,
		cpux86.KindOperation:    virerr.ErrOperationFailed,
		cpux86.KindIncompatible: virerr.ErrCPUIncompatible,
		cpux86.KindNoSupport:    virerr.ErrNoSupport,
	}[ce.Kind]
	return virerr.New(virerr.FromCPU, code, "%s", ce.Msg)
}

func flagsErr(dom virerr.Domain, flags uint32, fn string) error {
	return virerr.New(dom, virerr.ErrInvalidArg, "unsupported flags (0x%x) in function %s", flags, fn)
}

func x86Map() (*cpux86.Map, error) {
	m, err := cpux86.Get()
	if err != nil {
		return nil, virerr.New(virerr.FromCPU, virerr.ErrInternalError, "cannot load the CPU map: %v", err)
	}
	return m, nil
}

func isX86(arch string) bool { return arch == "x86_64" || arch == "i686" }

func noCPUDriver(arch string) error {
	return virerr.New(virerr.FromCPU, virerr.ErrNoSupport, "'%s' architecture is not supported by CPU driver", arch)
}

// ModelNames answers virConnectGetCPUModelNames; fn names the driver's
// function for the flags error.
func ModelNames(dom virerr.Domain, fn, arch string, flags uint32) ([]string, error) {
	if flags != 0 {
		return nil, flagsErr(dom, flags, fn)
	}
	if !knownArchs[arch] {
		return nil, virerr.New(dom, virerr.ErrInvalidArg, "cannot find architecture %s", arch)
	}
	switch arch {
	case "x86_64", "i686":
		m, err := x86Map()
		if err != nil {
			return nil, err
		}
		return m.ModelNames(), nil
	case "ppc64", "ppc64le":
		return append([]string(nil), ppc64Models...), nil
	case "s390", "s390x", "armv6l", "armv7l", "armv7b", "aarch64":
		return []string{}, nil
	}
	return nil, noCPUDriver(arch)
}

// Host is the host CPU decoded once per process: it does not change while
// the daemon runs.
func Host() (*cpux86.CPUDef, error) {
	m, err := x86Map()
	if err != nil {
		return nil, err
	}
	h, err := m.Host()
	if err != nil {
		return nil, Convert(err)
	}
	return h, nil
}

// Compare answers virConnectCompareCPU against host (nil: unknown).
func Compare(dom virerr.Domain, fn string, host *cpux86.CPUDef, xml string, flags uint32) (int32, error) {
	if flags&^(CompareFailIncompatible|CompareValidateXML) != 0 {
		return -1, flagsErr(dom, flags&^(CompareFailIncompatible|CompareValidateXML), fn)
	}
	cpu, err := Parse(xml, "")
	if err != nil {
		return -1, err
	}
	m, err := x86Map()
	if err != nil {
		return -1, err
	}
	res, err := m.Compare(host, cpu, flags&CompareFailIncompatible != 0)
	if err != nil {
		return -1, Convert(err)
	}
	return int32(res), nil
}

// Parse parses one CPU definition, checking its architecture name as
// libvirt does.
func Parse(xml, typ string) (*cpux86.CPUDef, error) {
	cpu, err := cpux86.ParseXML(xml, typ)
	if err != nil {
		return nil, Convert(err)
	}
	if cpu.Arch != "" && !knownArchs[cpu.Arch] {
		return nil, virerr.New(virerr.FromCPU, virerr.ErrConfigUnsupported, "Unknown architecture %s", cpu.Arch)
	}
	return cpu, nil
}

// ParseList parses the CPUs of a baseline call (virCPUDefListParse).
func ParseList(xmls []string, typ string) ([]*cpux86.CPUDef, error) {
	if len(xmls) == 0 {
		return nil, virerr.New(virerr.FromCPU, virerr.ErrInvalidArg, "no CPUs given")
	}
	cpus := make([]*cpux86.CPUDef, 0, len(xmls))
	for _, x := range xmls {
		c, err := Parse(x, typ)
		if err != nil {
			return nil, err
		}
		cpus = append(cpus, c)
	}
	return cpus, nil
}

// Baseline answers virConnectBaselineCPU as libvirt's qemu and test
// drivers do: host CPUs in, the baseline guest CPU out. The qemu driver
// accepts the migratable flag and drops the features QEMU never carries;
// the test driver does neither.
func Baseline(dom virerr.Domain, fn string, xmls []string, flags uint32, qemu bool) (string, error) {
	allowed := uint32(BaselineExpandFeatures)
	if qemu {
		allowed |= BaselineMigratable
	}
	if flags&^allowed != 0 {
		return "", flagsErr(dom, flags&^allowed, fn)
	}
	cpus, err := ParseList(xmls, cpux86.TypeHost)
	if err != nil {
		return "", err
	}
	for i, c := range cpus {
		if c.Model == "" {
			return "", virerr.New(virerr.FromCPU, virerr.ErrInvalidArg, "no CPU model specified at index %d", i)
		}
	}
	switch cpus[0].Arch {
	case "ppc64", "ppc64le":
		b, err := ppc64Baseline(cpus)
		if err != nil {
			return "", err
		}
		return b.FormatGuest(""), nil
	case "armv6l", "armv7b", "armv7l", "aarch64":
		// virCPUarmBaseline: the first CPU's model, nothing else
		b := &cpux86.CPUDef{Type: cpux86.TypeGuest, Mode: "custom", Match: "exact", Model: cpus[0].Model, Fallback: "allow"}
		return b.FormatGuest(""), nil
	}
	if !isX86(cpus[0].Arch) {
		return "", virerr.New(virerr.FromCPU, virerr.ErrNoSupport, "cannot compute baseline CPU of %s architecture", cpus[0].Arch)
	}
	m, err := x86Map()
	if err != nil {
		return "", err
	}
	b, err := m.Baseline(cpus, nil, nil, flags&BaselineMigratable != 0)
	if err != nil {
		return "", Convert(err)
	}
	if qemu {
		cpux86.FilterFeatures(b)
	}
	if flags&BaselineExpandFeatures != 0 {
		if err := m.ExpandFeatures(b); err != nil {
			return "", Convert(err)
		}
	}
	return b.FormatGuest(""), nil
}

// KnownArch reports whether arch is one of libvirt's architecture names.
func KnownArch(arch string) bool { return knownArchs[arch] }

// BaselineWith computes a hypervisor baseline (the x86 part of
// qemuConnectBaselineHypervisorCPU): only models the hypervisor offers,
// only features it knows, fallback always forbidden.
func BaselineWith(cpus []*cpux86.CPUDef, models cpux86.HVModels, features []string, migratable, expand bool) (string, error) {
	m, err := x86Map()
	if err != nil {
		return "", err
	}
	b, err := m.Baseline(cpus, models, features, migratable)
	if err != nil {
		return "", Convert(err)
	}
	b.Fallback = "forbid"
	if expand {
		if err := m.ExpandFeatures(b); err != nil {
			return "", Convert(err)
		}
	}
	return b.FormatGuest(""), nil
}

// ppc64Vendors are the vendors of libvirt 9.0's cpu_map/ppc64_*.xml
// models.
var ppc64Vendors = map[string]string{"POWER6": "IBM", "POWER7": "IBM", "POWER8": "IBM", "POWER9": "IBM",
	"POWER10": "IBM", "POWERPC_e5500": "Freescale", "POWERPC_e6500": "Freescale"}

// ppc64Baseline is virCPUppc64Baseline: every CPU must name the first
// one's model; the vendor is kept only when the model has none (never,
// with libvirt's map).
func ppc64Baseline(cpus []*cpux86.CPUDef) (*cpux86.CPUDef, error) {
	model := cpus[0].Model
	modelVendor, ok := ppc64Vendors[model]
	if !ok {
		return nil, virerr.New(virerr.FromCPU, virerr.ErrInternalError, "Unknown CPU model %s", model)
	}
	for _, c := range cpus {
		if c.Model != model {
			return nil, virerr.New(virerr.FromCPU, virerr.ErrOperationFailed, "CPUs are incompatible")
		}
		if c.Vendor == "" {
			continue
		}
		if c.Vendor != "IBM" && c.Vendor != "Freescale" {
			return nil, virerr.New(virerr.FromCPU, virerr.ErrOperationFailed, "Unknown CPU vendor %s", c.Vendor)
		}
		if modelVendor != c.Vendor {
			return nil, virerr.New(virerr.FromCPU, virerr.ErrOperationFailed, "CPU vendor %s of model %s differs from vendor %s", modelVendor, model, c.Vendor)
		}
	}
	return &cpux86.CPUDef{Type: cpux86.TypeGuest, Mode: "custom", Match: "exact", Model: model, Fallback: "forbid"}, nil
}
