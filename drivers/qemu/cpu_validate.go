package qemu

import (
	"context"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/drivers/internal/cpuapi"
	"govirt/drivers/qemu/command"
	"govirt/internal/cpux86"
	"govirt/virerr"
)

// validateCPUDef makes the refusals libvirt makes about a guest's vCPU
// count when it is defined or created (qemuDomainDefVcpusPostParse and
// the topology checks of qemuValidateDomainDef), rather than leaving them
// to the start; def has had its post-parse defaults (machine type)
// applied. parseDef made the parser's (checkCPUElement).
func (d *Driver) validateCPUDef(def *conf.Domain) error {
	if err := checkVcpuCounts(def); err != nil {
		return err
	}
	if err := command.CheckResctrlType(def); err != nil {
		return err
	}
	emu := def.Devices.Emulator
	if emu == "" {
		emu = d.cfg.Emulator
	}
	qc, err := d.caps.get(context.Background(), emu)
	if err != nil {
		return nil // the start reports the probe failure
	}
	if m, ok := qc.Machine(def.Type, def.OS.Machine); ok && m.MaxCPUs > 0 && int(def.VCPUs) > m.MaxCPUs {
		return errQEMU(virerr.ErrConfigUnsupported, "Maximum CPUs greater than specified machine type limit %d", m.MaxCPUs)
	}
	return nil
}

// checkVcpuCounts is qemuDomainDefVcpusPostParse's refusals and the
// topology check of qemuValidateDomainDef (QEMU 2.7+): the topology must
// give the maximum vCPU count.
func checkVcpuCounts(def *conf.Domain) error {
	if cur, ok := def.Value("vcpu/@current"); ok && cur == "0" && def.Tree().Child("vcpus") == nil {
		return errQEMU(virerr.ErrConfigUnsupported, "vcpu 0 can't be offline")
	}
	if err := command.CheckVcpuStates(def); err != nil {
		return err
	}
	if c := def.CPU; c != nil && c.Sockets != 0 && c.Cores != 0 && c.Threads != 0 {
		if c.Sockets*max(c.Dies, 1)*c.Cores*c.Threads != def.VCPUs {
			return errQEMU(virerr.ErrConfigUnsupported, "CPU topology doesn't match maximum vcpu count")
		}
	}
	return nil
}

func xmlErr(format string, args ...any) error {
	return virerr.New(virerr.FromXML, virerr.ErrXMLError, format, args...)
}

func cpuErr(code virerr.Code, format string, args ...any) error {
	return virerr.New(virerr.FromCPU, code, format, args...)
}

// propUint is virXMLPropUInt with VIR_XML_PROP_NONZERO on the attribute
// name of the element at path as written (typed fields drop what they
// cannot read); present reports whether it was there.
func propUint(def *conf.Domain, path, elem, name string, required bool) (present bool, err error) {
	v, ok := def.Value(path + "/@" + name)
	if !ok {
		if required {
			return false, xmlErr("Missing required attribute '%s' in element '%s'", name, elem)
		}
		return false, nil
	}
	n, perr := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if perr != nil {
		return true, xmlErr("Invalid value for attribute '%s' in element '%s': '%s'. Expected non-negative integer value", name, elem, v)
	}
	if n == 0 {
		return true, xmlErr("Invalid value for attribute '%s' in element '%s': Zero is not permitted", name, elem)
	}
	return true, nil
}

// propInt is virXMLPropInt with VIR_XML_PROP_NONNEGATIVE.
func propInt(e *conf.Element, name string) (int, bool, error) {
	v, ok := e.Attr(name)
	if !ok {
		return -1, false, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0, true, xmlErr("Invalid value for attribute '%s' in element '%s': '%s'. Expected integer value", name, e.Name(), v)
	}
	if n < 0 {
		return 0, true, xmlErr("Invalid value for attribute '%s' in element '%s': '%s'. Expected non-negative value", name, e.Name(), v)
	}
	return int(n), true, nil
}

// propEnum is virXMLPropEnum: the value must be one of values.
func propEnum(e *conf.Element, name string, required bool, values ...string) (string, error) {
	v, ok := e.Attr(name)
	if !ok {
		if required {
			return "", xmlErr("Missing required attribute '%s' in element '%s'", name, e.Name())
		}
		return "", nil
	}
	for _, x := range values {
		if v == x {
			return v, nil
		}
	}
	return "", xmlErr("Invalid value for attribute '%s' in element '%s': '%s'.", name, e.Name(), v)
}

// checkCPUElement parses the guest <cpu> as virCPUDefParseXML does and
// makes qemuValidateDomainDefCpu's cache and maxphysaddr refusals.
func checkCPUElement(def *conf.Domain) error {
	ce := def.Tree().Child("cpu")
	if ce == nil {
		return nil
	}
	cpu, err := cpux86.ParseXML(string(ce.XML()), cpux86.TypeGuest)
	if err != nil {
		return cpuapi.Convert(err)
	}
	if _, err := propEnum(ce, "check", false, "default", "none", "partial", "full"); err != nil {
		return err
	}
	if m := ce.Child("model"); m != nil && cpu.Mode != "host-passthrough" && cpu.Mode != "maximum" {
		if vid, ok := m.Attr("vendor_id"); ok {
			if len(vid) != 12 {
				return cpuErr(virerr.ErrXMLError, "vendor_id must be exactly %d characters long", 12)
			}
			if strings.Contains(vid, ",") {
				return cpuErr(virerr.ErrXMLError, "vendor id is invalid")
			}
		}
	}
	if ce.Child("topology") != nil {
		for _, a := range []struct {
			name     string
			required bool
		}{{"sockets", true}, {"dies", false}, {"cores", true}, {"threads", true}} {
			if _, err := propUint(def, "cpu/topology", "topology", a.name, a.required); err != nil {
				return err
			}
		}
	}
	if caches := ce.Children("cache"); len(caches) > 1 {
		return cpuErr(virerr.ErrXMLError, "at most one CPU cache element may be specified")
	}
	cacheMode, cacheLevel := "", -1
	if c := ce.Child("cache"); c != nil {
		lvl, ok, err := propInt(c, "level")
		if err != nil {
			return err
		}
		if ok && (lvl < 1 || lvl > 3) {
			return cpuErr(virerr.ErrXMLError, "invalid CPU cache level, must be in range [1,3]")
		}
		if ok {
			cacheLevel = lvl
		}
		if cacheMode, err = propEnum(c, "mode", true, "emulate", "passthrough", "disable"); err != nil {
			return err
		}
	}
	addrMode, addrBits := "", -1
	if a := ce.Child("maxphysaddr"); a != nil {
		var err error
		if addrMode, err = propEnum(a, "mode", true, "emulate", "passthrough"); err != nil {
			return err
		}
		if addrBits, _, err = propInt(a, "bits"); err != nil {
			return err
		}
	}
	x86 := def.OS.Arch == "" || def.OS.Arch == "x86_64" || def.OS.Arch == "i686"
	switch {
	case addrMode != "" && !x86:
		return errQEMU(virerr.ErrConfigUnsupported, "CPU maximum physical address bits specification is not supported for '%s' architecture", def.OS.Arch)
	case addrMode == "passthrough" && addrBits != -1:
		return errQEMU(virerr.ErrConfigUnsupported, "CPU maximum physical address bits number specification cannot be used with mode='passthrough'")
	case addrMode == "emulate" && addrBits == -1:
		return errQEMU(virerr.ErrConfigUnsupported, "if using CPU maximum physical address mode='emulate', bits= must be specified too")
	}
	if cacheMode == "" {
		return nil
	}
	if !x86 {
		return errQEMU(virerr.ErrConfigUnsupported, "CPU cache specification is not supported for '%s' architecture", def.OS.Arch)
	}
	switch cacheMode {
	case "emulate":
		if cacheLevel != 3 {
			return errQEMU(virerr.ErrConfigUnsupported, "CPU cache mode '%s' can only be used with level='3'", cacheMode)
		}
	case "passthrough":
		if cpu.Mode != "host-passthrough" && cpu.Mode != "maximum" {
			return errQEMU(virerr.ErrConfigUnsupported, "CPU cache mode '%s' can only be used with '%s' / '%s' CPUs", cacheMode, "host-passthrough", "maximum")
		}
		if cacheLevel != -1 {
			return errQEMU(virerr.ErrConfigUnsupported, "unsupported CPU cache level for mode '%s'", cacheMode)
		}
	case "disable":
		if cacheLevel != -1 {
			return errQEMU(virerr.ErrConfigUnsupported, "unsupported CPU cache level for mode '%s'", cacheMode)
		}
	}
	return nil
}
