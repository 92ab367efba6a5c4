package caps

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DomCapsOptions are the host facts domcapabilities depends on besides
// the QEMU binary. HostDomCapsOptions detects them.
type DomCapsOptions struct {
	HostArch string
	// Firmwares are the firmware images found on the host.
	Firmwares []Firmware
	// VFIO is whether the host can pass PCI devices through with VFIO.
	VFIO bool
	// Swtpm is whether the swtpm emulator is installed, SwtpmVersions
	// the TPM versions its swtpm_setup reports ("1.2", "2.0").
	Swtpm         bool
	SwtpmVersions []string
	// KVMMaxVCPUs caps <vcpu max> for kvm domains; 0 means no limit known.
	KVMMaxVCPUs int
}

// Firmware is one firmware image, as a QEMU firmware descriptor
// (docs/interop/firmware.json) describes it.
type Firmware struct {
	Path      string
	Interface string   // "bios" or "uefi"
	Arch      string   // target architecture
	Machines  []string // glob patterns such as "pc-q35-*"
	Secure    bool     // secure-boot feature
}

func (f Firmware) supports(arch, machine string) bool {
	if f.Arch != "" && f.Arch != arch {
		return false
	}
	if len(f.Machines) == 0 {
		return true
	}
	for _, pat := range f.Machines {
		if globMatch(pat, machine) {
			return true
		}
	}
	return false
}

// globMatch handles the only wildcard firmware descriptors use: '*'.
func globMatch(pat, s string) bool {
	parts := strings.Split(pat, "*")
	if len(parts) == 1 {
		return pat == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

// DomainCapabilities is virConnectGetDomainCapabilities for this binary
// on this host. Empty machine means the default machine; empty virttype
// the best available ("kvm", else "qemu").
func (c *Caps) DomainCapabilities(machine, virttype string) (string, error) {
	return c.DomainCapabilitiesWith(machine, virttype, HostDomCapsOptions())
}

// DomainCapabilitiesWith is DomainCapabilities with explicit host facts.
func (c *Caps) DomainCapabilitiesWith(machine, virttype string, opts DomCapsOptions) (string, error) {
	types := c.VirtTypes()
	if virttype == "" {
		if len(types) == 0 {
			return "", fmt.Errorf("emulator %s supports no virtualization type", c.Binary)
		}
		virttype = types[len(types)-1]
	}
	if !slices.Contains(types, virttype) {
		return "", fmt.Errorf("virttype '%s' is not supported by '%s'", virttype, c.Binary)
	}
	if machine == "" {
		machine = c.DefaultMachine()
	}
	m, ok := c.Machine(virttype, machine)
	if !ok {
		return "", fmt.Errorf("the machine '%s' is not supported by emulator '%s'", machine, c.Binary)
	}
	maxCPUs := m.MaxCPUs
	if virttype == "kvm" && opts.KVMMaxVCPUs > 0 {
		maxCPUs = min(maxCPUs, opts.KVMMaxVCPUs)
	}

	w := &xmlWriter{}
	w.open("domainCapabilities")
	w.text("path", c.Binary)
	w.text("domain", virttype)
	w.text("machine", m.Name)
	w.text("arch", c.Arch)
	if maxCPUs > 0 {
		w.empty("vcpu", "max", strconv.Itoa(maxCPUs))
	}
	w.empty("iothreads", "supported", yesNo(c.Has("iothread")))
	c.writeOS(w, m.Name, opts)
	c.writeCPU(w, virttype, opts)
	w.open("memoryBacking", "supported", "yes")
	w.enum("sourceType", "file", "anonymous", when(c.Has("memory-backend-memfd"), "memfd"))
	w.close("memoryBacking")
	w.open("devices")
	c.writeDevices(w, m.Name, opts)
	w.close("devices")
	c.writeFeatures(w, m.Name)
	w.close("domainCapabilities")
	return w.String(), nil
}

func (c *Caps) writeOS(w *xmlWriter, machine string, opts DomCapsOptions) {
	var firmware, loaders []string
	secure := false
	// qemuFirmwareGetSupported: only what a descriptor offers is
	// auto-selectable (Debian ships none for SeaBIOS, so firmware='bios'
	// fails to start and domcapabilities lists efi alone).
	for _, f := range opts.Firmwares {
		if !f.supports(c.Arch, machine) {
			continue
		}
		if f.Interface == "bios" && !slices.Contains(firmware, "bios") {
			firmware = append(firmware, "bios")
		}
		if f.Interface == "uefi" {
			if !slices.Contains(firmware, "efi") {
				firmware = append(firmware, "efi")
			}
			secure = secure || f.Secure
			if !slices.Contains(loaders, f.Path) {
				loaders = append(loaders, f.Path)
			}
		}
	}
	w.open("os", "supported", "yes")
	w.enum("firmware", firmware...)
	w.open("loader", "supported", "yes")
	for _, l := range loaders {
		w.text("value", l)
	}
	w.enum("type", "rom", "pflash")
	w.enum("readonly", "yes", "no")
	w.enum("secure", when(secure, "yes"), "no")
	w.close("loader")
	w.close("os")
}

func (c *Caps) writeCPU(w *xmlWriter, virttype string, opts DomCapsOptions) {
	w.open("cpu")
	native := opts.HostArch == "" || opts.HostArch == c.Arch
	if virttype == "kvm" && native {
		w.open("mode", "name", "host-passthrough", "supported", "yes")
		w.enum("hostPassthroughMigratable", when(c.Has("cpu.migratable"), "on"), "off")
		w.close("mode")
	} else {
		w.empty("mode", "name", "host-passthrough", "supported", "no")
	}
	if c.Has("cpu-max") {
		w.open("mode", "name", "maximum", "supported", "yes")
		w.enum("maximumMigratable", "on", "off")
		w.close("mode")
	} else {
		w.empty("mode", "name", "maximum", "supported", "no")
	}
	// host-model: a named model plus features, decoded from QEMU's
	// expansion of the host-model CPU with libvirt's cpu_map.
	if hm, err := c.HostModelCPU(virttype); err == nil && hm != nil && native {
		w.open("mode", "name", "host-model", "supported", "yes")
		w.raw(hm.FormatModeBody(w.indentString()))
		w.close("mode")
	} else {
		w.empty("mode", "name", "host-model", "supported", "no")
	}
	var custom []CPUModel
	for _, cm := range c.CPUModelsFor(virttype) {
		if _, known := x86ModelVendors[cm.Name]; known && cm.Name != "host" {
			custom = append(custom, cm)
		}
	}
	if len(custom) == 0 {
		w.empty("mode", "name", "custom", "supported", "no")
	} else {
		w.open("mode", "name", "custom", "supported", "yes")
		for _, cm := range custom {
			usable := "unknown"
			if cm.UsableKnown {
				usable = yesNo(cm.Usable)
			}
			w.textAttrs("model", cm.Name, "usable", usable, "vendor", x86ModelVendors[cm.Name])
		}
		w.close("mode")
	}
	w.close("cpu")
}

func (c *Caps) writeDevices(w *xmlWriter, machine string, opts DomCapsOptions) {
	transitional := c.Has("virtio-pci-non-transitional")
	isPC := strings.HasPrefix(machine, "pc-i440fx") || machine == "isapc"

	w.open("disk", "supported", "yes")
	w.enum("diskDevice", "disk", "cdrom", "floppy", "lun")
	w.enum("bus", when(isPC, "ide"), "fdc", "scsi", "virtio", when(c.Has("usb-storage"), "usb"), when(c.Has("ich9-ahci"), "sata"))
	w.enum("model", "virtio", when(transitional, "virtio-transitional"), when(transitional, "virtio-non-transitional"))
	w.close("disk")

	w.open("graphics", "supported", "yes")
	w.enum("type", when(c.Has("sdl"), "sdl"), when(c.Has("vnc"), "vnc"), when(c.Has("spice"), "spice"),
		when(c.Has("egl-headless"), "egl-headless"), when(c.Has("display-dbus"), "dbus"))
	w.close("graphics")

	w.open("video", "supported", "yes")
	w.enum("modelType", when(c.Has("VGA"), "vga"), when(c.Has("cirrus-vga"), "cirrus"),
		when(c.Has("vmware-svga"), "vmvga"), when(c.Has("qxl"), "qxl"), when(c.Has("virtio-gpu"), "virtio"),
		"none", when(c.Has("bochs-display"), "bochs"), when(c.Has("ramfb"), "ramfb"))
	w.close("video")

	usb := false
	for _, f := range []string{"piix3-usb-uhci", "piix4-usb-uhci", "usb-ehci", "ich9-usb-ehci1",
		"vt82c686b-usb-uhci", "pci-ohci", "nec-usb-xhci", "qemu-xhci"} {
		usb = usb || c.Has(f)
	}
	vfio := opts.VFIO && c.Has("vfio-pci")
	w.open("hostdev", "supported", "yes")
	w.enum("mode", "subsystem")
	w.enum("startupPolicy", "default", "mandatory", "requisite", "optional")
	w.enum("subsysType", when(usb, "usb"), "pci", "scsi")
	w.enum("capsType")
	w.enum("pciBackend", when(vfio, "default"), when(vfio, "vfio"))
	w.close("hostdev")

	rng := c.Has("virtio-rng")
	w.open("rng", "supported", "yes")
	w.enum("model", when(rng, "virtio"), when(rng && transitional, "virtio-transitional"),
		when(rng && transitional, "virtio-non-transitional"))
	w.enum("backendModel", when(c.Has("rng-random"), "random"), when(c.Has("rng-egd"), "egd"),
		when(c.Has("rng-builtin"), "builtin"))
	w.close("rng")

	w.open("filesystem", "supported", "yes")
	w.enum("driverType", "path", "handle", when(c.Has("vhost-user-fs"), "virtiofs"))
	w.close("filesystem")

	c.writeTPM(w, opts)

	if c.Has("usb-redir") {
		w.open("redirdev", "supported", "yes")
		w.enum("bus", "usb")
		w.close("redirdev")
	} else {
		w.empty("redirdev", "supported", "no")
	}

	w.open("channel", "supported", "yes")
	w.enum("type", "pty", "unix", when(c.Has("spice"), "spicevmc"))
	w.close("channel")
}

func (c *Caps) writeTPM(w *xmlWriter, opts DomCapsOptions) {
	models := []string{when(c.Has("tpm-tis"), "tpm-tis"), when(c.Has("tpm-crb"), "tpm-crb"),
		when(c.Has("tpm-spapr"), "tpm-spapr")}
	if slices.IndexFunc(models, func(s string) bool { return s != "" }) < 0 {
		// Without a frontend model applications cannot use a TPM at all.
		w.empty("tpm", "supported", "no")
		return
	}
	w.open("tpm", "supported", "yes")
	emu := opts.Swtpm && c.Has("tpm-emulator")
	w.enum("model", models...)
	w.enum("backendModel", when(c.Has("tpm-passthrough"), "passthrough"), when(emu, "emulator"), when(emu, "external"))
	if len(opts.SwtpmVersions) > 0 {
		w.enum("backendVersion", when(slices.Contains(opts.SwtpmVersions, "1.2"), "1.2"),
			when(slices.Contains(opts.SwtpmVersions, "2.0"), "2.0"))
	}
	w.close("tpm")
}

func (c *Caps) writeFeatures(w *xmlWriter, machine string) {
	w.open("features")
	// GIC exists only on ARM virt machines, which govirt does not run.
	w.empty("gic", "supported", "no")
	w.empty("vmcoreinfo", "supported", yesNo(c.Has("vmcoreinfo")))
	w.empty("genid", "supported", yesNo(c.Has("vmgenid")))
	w.empty("backingStoreInput", "supported", "yes")
	w.empty("backup", "supported", yesNo(c.Has("incremental-backup")))
	if c.SEV != nil && c.Has("sev-guest") {
		w.open("sev", "supported", "yes")
		w.text("cbitpos", strconv.Itoa(c.SEV.CBitPos))
		w.text("reducedPhysBits", strconv.Itoa(c.SEV.ReducedPhysBits))
		w.close("sev")
	} else {
		w.empty("sev", "supported", "no")
	}
	if c.SGX != nil && c.Has("sgx-epc") {
		w.open("sgx", "supported", "yes")
		w.text("flc", yesNo(c.SGX.FLC))
		w.text("sgx1", yesNo(c.SGX.SGX1))
		w.text("sgx2", yesNo(c.SGX.SGX2))
		w.textAttrs("section_size", strconv.FormatUint(c.SGX.SectionSizeKiB, 10), "unit", "KiB")
		if len(c.SGX.Sections) > 0 {
			w.open("sections")
			for _, s := range c.SGX.Sections {
				w.empty("section", "node", strconv.Itoa(s.Node), "size", strconv.FormatUint(s.SizeKiB, 10), "unit", "KiB")
			}
			w.close("sections")
		}
		w.close("sgx")
	} else {
		w.empty("sgx", "supported", "no")
	}
	w.close("features")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// when returns s if cond holds, "" (dropped by enum) otherwise.
func when(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}
