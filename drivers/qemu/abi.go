package qemu

import (
	"fmt"
	"slices"

	"govirt/conf"
	"govirt/virerr"
)

// checkABI is the part of libvirt's virDomainDefCheckABIStability that
// govirt's typed definition covers: dst (a user's XML for a save image,
// a restore or a save) must describe the guest src describes, device by
// device, so QEMU can load src's saved state into it. Changes outside
// the guest's ABI (disk sources, graphics, metadata, ...) pass. The
// messages are libvirt's.
func checkABI(src, dst *conf.Domain) error {
	bad := func(format string, a ...any) error {
		return errQEMU(virerr.ErrConfigUnsupported, format, a...)
	}
	switch {
	case src.Type != dst.Type:
		return bad("Target domain virt type %s does not match source %s", dst.Type, src.Type)
	case src.UUID != dst.UUID:
		return bad("Target domain uuid %s does not match source %s", dst.UUID, src.UUID)
	case src.GenID != dst.GenID && (src.GenID == "" || dst.GenID == ""):
		return bad("Target domain requested genid does not match source")
	case src.GenID != dst.GenID:
		return bad("Target domain genid %s does not match source %s", dst.GenID, src.GenID)
	case src.Name != dst.Name:
		return bad("Target domain name '%s' does not match source '%s'", dst.Name, src.Name)
	case src.Memory != dst.Memory:
		return bad("Target domain max memory %d does not match source %d", dst.Memory, src.Memory)
	case curMem(src) != curMem(dst):
		return bad("Target domain current memory %d does not match source %d", curMem(dst), curMem(src))
	case src.MaxMemory != dst.MaxMemory:
		return bad("Target maximum memory size '%d' doesn't match source '%d'", dst.MaxMemory, src.MaxMemory)
	case src.MaxMemSlots != dst.MaxMemSlots:
		return bad("Target domain memory slots count '%d' doesn't match source '%d'", dst.MaxMemSlots, src.MaxMemSlots)
	case src.VCPUs != dst.VCPUs:
		return bad("Target domain vCPU max %d does not match source %d", dst.VCPUs, src.VCPUs)
	case curVCPUs(src) != curVCPUs(dst):
		return bad("State of vCPU '%d' differs between source and destination definitions", min(curVCPUs(src), curVCPUs(dst)))
	case src.OS.Type != dst.OS.Type:
		return bad("Target domain OS type %s does not match source %s", dst.OS.Type, src.OS.Type)
	case src.OS.Arch != dst.OS.Arch:
		return bad("Target domain architecture %s does not match source %s", dst.OS.Arch, src.OS.Arch)
	case src.OS.Machine != dst.OS.Machine:
		return bad("Target domain machine type %s does not match source %s", dst.OS.Machine, src.OS.Machine)
	}
	if err := checkFeaturesABI(src, dst); err != nil {
		return err
	}
	if err := checkCPUABI(src, dst); err != nil {
		return err
	}
	s, t := &src.Devices, &dst.Devices
	if len(s.Disks) != len(t.Disks) {
		return bad("Target domain disk count %d does not match source %d", len(t.Disks), len(s.Disks))
	}
	for i, a := range s.Disks {
		b := t.Disks[i]
		switch {
		case a.Device != b.Device:
			return bad("Target disk device %s does not match source %s", b.Device, a.Device)
		case a.TargetBus != b.TargetBus:
			return bad("Target disk bus %s does not match source %s", b.TargetBus, a.TargetBus)
		case a.TargetDev != b.TargetDev:
			return bad("Target disk %s does not match source %s", b.TargetDev, a.TargetDev)
		case a.Serial != b.Serial:
			return bad("Target disk serial %s does not match source %s", nullStrLV(b.Serial), nullStrLV(a.Serial))
		case a.ReadOnly != b.ReadOnly:
			return bad("Target disk access mode does not match source")
		}
		if err := checkAddressABI(a.Address, b.Address); err != nil {
			return err
		}
	}
	if len(s.Controllers) != len(t.Controllers) {
		return bad("Target domain controller count %d does not match source %d", len(t.Controllers), len(s.Controllers))
	}
	for i, a := range s.Controllers {
		b := t.Controllers[i]
		switch {
		case a.Type != b.Type:
			return bad("Target controller type %s does not match source %s", b.Type, a.Type)
		case a.Index != b.Index:
			return bad("Target controller index %d does not match source %d", b.Index, a.Index)
		case a.Model != b.Model:
			return bad("Target controller model %s does not match source %s", b.Model, a.Model)
		}
		if err := checkAddressABI(a.Address, b.Address); err != nil {
			return err
		}
	}
	if len(s.Interfaces) != len(t.Interfaces) {
		return bad("Target domain net card count %d does not match source %d", len(t.Interfaces), len(s.Interfaces))
	}
	for i, a := range s.Interfaces {
		b := t.Interfaces[i]
		switch {
		case !sameMAC(a.MAC, b.MAC):
			return bad("Target network card mac %s does not match source %s", b.MAC, a.MAC)
		case a.Model != b.Model:
			return bad("Target network card model %s does not match source %s", nullStrLV(b.Model), nullStrLV(a.Model))
		}
		if err := checkAddressABI(a.Address, b.Address); err != nil {
			return err
		}
	}
	counts := []struct {
		what string
		a, b int
	}{
		{"input device", len(s.Inputs), len(t.Inputs)},
		{"sound card", len(s.Sounds), len(t.Sounds)},
		{"video card", len(s.Videos), len(t.Videos)},
		{"serial port", len(s.Serials), len(t.Serials)},
		{"channel", len(s.Channels), len(t.Channels)},
		{"console", len(s.Consoles), len(t.Consoles)},
	}
	for _, c := range counts {
		if c.a != c.b {
			return bad("Target domain %s count %d does not match source %d", c.what, c.b, c.a)
		}
	}
	for i, a := range s.Inputs {
		if b := t.Inputs[i]; a.Type != b.Type || a.Bus != b.Bus {
			if a.Type != b.Type {
				return bad("Target input device type %s does not match source %s", b.Type, a.Type)
			}
			return bad("Target input device bus %s does not match source %s", b.Bus, a.Bus)
		}
	}
	for i, a := range s.Videos {
		if b := t.Videos[i]; a.Model != b.Model {
			return bad("Target video card model %s does not match source %s", b.Model, a.Model)
		}
	}
	for i, a := range s.Sounds {
		if b := t.Sounds[i]; a.Model != b.Model {
			return bad("Target sound card model %s does not match source %s", b.Model, a.Model)
		}
	}
	if len(s.Watchdogs) != len(t.Watchdogs) {
		return bad("Target domain watchdog count %d does not match source %d", len(t.Watchdogs), len(s.Watchdogs))
	}
	if (s.MemBalloon == nil) != (t.MemBalloon == nil) {
		return bad("Target domain memory balloon count %d does not match source %d", boolInt(t.MemBalloon != nil), boolInt(s.MemBalloon != nil))
	}
	if s.MemBalloon != nil && s.MemBalloon.Model != t.MemBalloon.Model {
		return bad("Target balloon model %s does not match source %s", t.MemBalloon.Model, s.MemBalloon.Model)
	}
	if len(s.RNGs) != len(t.RNGs) {
		return bad("Target domain RNG device count %d does not match source %d", len(t.RNGs), len(s.RNGs))
	}
	if len(s.Panics) != len(t.Panics) {
		return bad("Target domain panic device count %d does not match source %d", len(t.Panics), len(s.Panics))
	}
	return nil
}

// checkCPUABI is virCPUDefIsEqual for the typed parts of <cpu> and its
// feature count.
func checkCPUABI(src, dst *conf.Domain) error {
	a, b := src.CPU, dst.CPU
	bad := func(format string, args ...any) error {
		return errQEMU(virerr.ErrConfigUnsupported, format, args...)
	}
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil || b == nil:
		return bad("Target CPU does not match source")
	case a.Mode != b.Mode:
		return bad("Target CPU mode %s does not match source %s", b.Mode, a.Mode)
	case a.Model != b.Model:
		return bad("Target CPU model %s does not match source %s", nullStrLV(b.Model), nullStrLV(a.Model))
	case a.Sockets != b.Sockets:
		return bad("Target CPU sockets %d does not match source %d", b.Sockets, a.Sockets)
	case a.Dies != b.Dies:
		return bad("Target CPU dies %d does not match source %d", b.Dies, a.Dies)
	case a.Cores != b.Cores:
		return bad("Target CPU cores %d does not match source %d", b.Cores, a.Cores)
	case a.Threads != b.Threads:
		return bad("Target CPU threads %d does not match source %d", b.Threads, a.Threads)
	}
	fa, fb := cpuFeatures(src), cpuFeatures(dst)
	if len(fa) != len(fb) {
		return bad("Target CPU feature count %d does not match source %d", len(fb), len(fa))
	}
	for i := range fa {
		if fa[i] != fb[i] {
			return bad("Target CPU feature %s does not match source %s", fb[i], fa[i])
		}
	}
	return nil
}

// cpuFeatures lists <cpu><feature name> in order.
func cpuFeatures(def *conf.Domain) []string {
	var out []string
	if c := def.Tree().Child("cpu"); c != nil {
		for _, f := range c.Children("feature") {
			n, _ := f.Attr("name")
			out = append(out, n)
		}
	}
	return out
}

// abiFeatures are the <features> libvirt compares as on/off switches.
var abiFeatures = []string{"acpi", "pae", "hap", "viridian", "privnet", "hyperv", "kvm", "xen",
	"pvspinlock", "pmu", "vmport", "smm", "vmcoreinfo", "htm", "nested-hv", "ccf-assist"}

func checkFeaturesABI(src, dst *conf.Domain) error {
	for _, f := range abiFeatures {
		a, b := featureState(src, f), featureState(dst, f)
		if a != b {
			return errQEMU(virerr.ErrConfigUnsupported, "State of feature '%s' differs: source: '%s', destination: '%s'", f, a, b)
		}
	}
	return nil
}

// featureState is the feature's virTristateSwitch name.
func featureState(def *conf.Domain, name string) string {
	if !slices.Contains(def.Features, name) {
		return "default"
	}
	if fs := def.Tree().Child("features"); fs != nil {
		if e := fs.Child(name); e != nil {
			if st, ok := e.Attr("state"); ok && st == "off" {
				return "off"
			}
		}
	}
	return "on"
}

// nullStrLV is libvirt's NULLSTR.

// checkAddressABI is virDomainDeviceInfoCheckABIStability for the
// address types govirt assigns.
func checkAddressABI(a, b conf.Address) error {
	if a.Type != b.Type {
		return errQEMU(virerr.ErrConfigUnsupported, "Target device address type %s does not match source %s", addrTypeName(b.Type), addrTypeName(a.Type))
	}
	switch a.Type {
	case "pci":
		if a.Domain != b.Domain || a.Bus != b.Bus || a.Slot != b.Slot || a.Function != b.Function {
			return errQEMU(virerr.ErrConfigUnsupported, "Target device PCI address %sdoes not match source %s",
				fmt.Sprintf("%04x:%02x:%02x.%d", b.Domain, b.Bus, b.Slot, b.Function), fmt.Sprintf("%04x:%02x:%02x.%d", a.Domain, a.Bus, a.Slot, a.Function))
		}
	case "drive":
		if a.Controller != b.Controller || a.Bus != b.Bus || a.Unit != b.Unit {
			return errQEMU(virerr.ErrConfigUnsupported, "Target device drive address %d:%d:%d does not match source %d:%d:%d",
				b.Controller, b.Bus, b.Unit, a.Controller, a.Bus, a.Unit)
		}
	}
	return nil
}

func addrTypeName(t string) string {
	if t == "" {
		return "none"
	}
	return t
}

func nullStrLV(s string) string {
	if s == "" {
		return "<null>"
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func curMem(d *conf.Domain) uint64 {
	if d.CurrentMemory == 0 {
		return d.Memory
	}
	return d.CurrentMemory
}

func curVCPUs(d *conf.Domain) uint {
	if d.CurrentVCPUs == 0 {
		return d.VCPUs
	}
	return d.CurrentVCPUs
}
