package command

import (
	"govirt/conf"
	"strconv"
	"strings"
)

// -machine, -accel and the TSEG -global as qemuBuildMachineCommandLine,
// qemuBuildAccelCommandLine and qemuBuildTSEGCommandLine write them.

func (b *builder) emitMachine() error {
	t := b.tree()
	m := b.machine + ",usb=off"
	fw, err := b.firmware()
	if err != nil {
		return err
	}
	for _, f := range []string{"vmport", "smm"} {
		st, err := b.featureState(f)
		if err != nil {
			return err
		}
		if f == "smm" && st == "" && fw.smm {
			// qemuFirmwareEnableFeatures turns SMM on for a firmware
			// that requires it.
			st = "on"
		}
		if st != "" {
			m += "," + f + "=" + st
		}
	}
	if e := b.feature("ioapic"); e != nil {
		switch drv := attr(e, "driver"); drv {
		case "qemu":
			m += ",kernel_irqchip=split"
		case "kvm":
			m += ",kernel_irqchip=on"
		case "":
		default:
			return unsupportedValue("features/ioapic", "driver", drv)
		}
	}
	dump := "off"
	if mem := child(t, "memory"); mem != nil {
		switch v := attr(mem, "dumpCore"); v {
		case "on", "off":
			dump = v
		case "":
		default:
			return unsupportedValue("memory", "dumpCore", v)
		}
	}
	m += ",dump-guest-core=" + dump
	if child(t, "memoryBacking", "nosharepages") != nil {
		m += ",mem-merge=off"
	}
	m += b.memoryMachineParams()
	if b.numaCells() == 0 {
		m += ",memory-backend=" + b.defaultRAMID()
	}
	if b.launchSecurity() {
		m += ",confidential-guest-support=lsec0"
	}
	m += b.pflashMachineParams()
	if b.numaHasHMAT() {
		m += ",hmat=on"
	}
	if attr(child(t, "os", "bios"), "useserial") == "yes" {
		m += ",graphics=off"
	}
	for _, tm := range timers(t) {
		// A QEMU without the machine property (before 8.0) gets
		// -no-hpet from emitClock instead.
		if attr(tm, "name") == "hpet" && b.caps.Has("machine-hpet") {
			switch p := attr(tm, "present"); p {
			case "no":
				m += ",hpet=off"
			case "yes":
				m += ",hpet=on"
			case "":
			default:
				return unsupportedValue("clock/timer", "present", p)
			}
		}
	}
	b.add("-machine", m)
	return b.emitAccel()
}

func (b *builder) emitAccel() error {
	accel := "tcg"
	tcg := b.feature("tcg")
	if b.def.Type == "kvm" {
		if tcg != nil {
			return unsupported("TCG features are incompatible with domain type 'kvm'")
		}
		accel = "kvm"
		n, err := b.dirtyRingSize()
		if err != nil {
			return err
		}
		if n > 0 {
			accel += ",dirty-ring-size=" + strconv.FormatUint(n, 10)
		}
	} else if tc := child(tcg, "tb-cache"); tc != nil {
		kib, err := scaled(tc.Text(), attr(tc, "unit"), 1024)
		if err != nil {
			return err
		}
		if kib&0x3ff != 0 {
			return unsupported("tb-cache size must be an integer multiple of MiB")
		}
		if kib > 0 {
			accel += ",tb-size=" + strconv.FormatUint(kib>>10, 10)
		}
	}
	b.add("-accel", accel)

	// <smm><tseg>: post-parse checks, then one -global.
	if st, _ := b.featureState("smm"); st == "on" {
		if ts := child(b.feature("smm"), "tseg"); ts != nil {
			// tseg defaults to MiB
			unit := attr(ts, "unit")
			if unit == "" {
				unit = "MiB"
			}
			kib, err := scaled(ts.Text(), unit, 1024)
			if err != nil {
				return err
			}
			if !b.q35 {
				return unsupported("SMM TSEG is only supported with q35 machine type")
			}
			if !b.caps.Has("mch.extended-tseg-mbytes") {
				return unsupported("Setting TSEG size is not supported with this QEMU binary")
			}
			if kib&1023 != 0 {
				return unsupported("SMM TSEG size must be divisible by 1 MiB")
			}
			b.add("-global", "mch.extended-tseg-mbytes="+strconv.FormatUint(kib>>10, 10))
		}
	}
	return nil
}

// scaled parses a libvirt scaled integer (value and unit, as <memory
// unit=U>) into KiB; defScale is the bytes a bare number's unit holds.
func scaled(val, unit string, defScale uint64) (uint64, error) {
	n, err := scaledBytes(val, unit, defScale)
	return n / 1024, err
}

// scaledBytes is scaled in bytes.
func scaledBytes(val, unit string, defScale uint64) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
	if err != nil {
		return 0, xmlError("invalid value '%s'", val)
	}
	var mult uint64
	switch strings.ToLower(unit) {
	case "":
		mult = defScale
	case "b", "bytes":
		mult = 1
	case "k", "kib":
		mult = 1 << 10
	case "kb":
		mult = 1000
	case "m", "mib":
		mult = 1 << 20
	case "mb":
		mult = 1000 * 1000
	case "g", "gib":
		mult = 1 << 30
	case "gb":
		mult = 1000 * 1000 * 1000
	case "t", "tib":
		mult = 1 << 40
	case "tb":
		mult = 1000 * 1000 * 1000 * 1000
	default:
		return 0, unsupported("unknown suffix '%s'", unit)
	}
	if mult != 0 && n > ^uint64(0)/mult {
		return 0, xmlError("Numerical overflow")
	}
	return n * mult, nil
}

// emitRootHotplug is qemuBuildPMPCIRootHotplugCommandLine: ACPI hotplug
// on the i440fx root bus, <controller type='pci' model='pci-root'>
// <target hotplug=”>. Other controllers' hotplug= is not implemented.
func (b *builder) emitRootHotplug(ctrls []*conf.Controller) error {
	for _, c := range ctrls {
		hp := attr(child(conf.DeviceElement(c), "target"), "hotplug")
		if hp == "" {
			continue
		}
		if c.Type != "pci" || c.Model != "pci-root" || c.Index != 0 {
			continue // pciControllerObj checks and writes the others'
		}
		if hp != "on" && hp != "off" {
			return xmlError("Invalid value for attribute 'hotplug' in element 'target': '%s'. Expected on/off", hp)
		}
		b.add("-global", "PIIX4_PM.acpi-root-pci-hotplug="+hp)
	}
	return nil
}
