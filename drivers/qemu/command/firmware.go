package command

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"sort"

	"govirt/conf"
	"govirt/virerr"
)

// Firmware: <os firmware='bios|efi'> auto-selection from QEMU's firmware
// descriptors (qemuFirmwareFillDomain), <loader> and <nvram> with their
// checks (virDomainDefOSValidate, virDomainDefPostParseOs), the pflash
// -blockdev pairs, -bios and the secure pflash -global.

// FirmwareDesc is one QEMU firmware descriptor (docs/interop/firmware.json).
type FirmwareDesc struct {
	Path string // the descriptor file
	Data []byte // its JSON
}

// firmwareDirs are libvirt's descriptor locations, lowest priority first:
// a file in a later directory masks one of the same name in an earlier
// one, and an empty file masks without replacing.
var firmwareDirs = []string{"/usr/share/qemu/firmware", "/etc/qemu/firmware"}

// systemFirmware reads the descriptors as qemuInteropFetchConfigs does
// for the system daemon.
func systemFirmware() ([]FirmwareDesc, error) {
	return ReadFirmwareDirs(firmwareDirs...)
}

// ReadFirmwareDirs reads descriptors from dirs (lowest priority first),
// ordered by file name.
func ReadFirmwareDirs(dirs ...string) ([]FirmwareDesc, error) {
	byName := map[string]string{}
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.json"))
		for _, f := range files {
			byName[filepath.Base(f)] = f
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []FirmwareDesc
	for _, n := range names {
		data, err := os.ReadFile(byName[n])
		if err != nil {
			return nil, internalError("cannot read firmware descriptor '%s': %v", byName[n], err)
		}
		if len(data) == 0 {
			continue
		}
		out = append(out, FirmwareDesc{Path: byName[n], Data: data})
	}
	return out, nil
}

type fwFile struct {
	Filename string `json:"filename"`
	Format   string `json:"format"`
}

type fwDescriptor struct {
	Interfaces []string `json:"interface-types"`
	Mapping    struct {
		Device     string `json:"device"`
		Mode       string `json:"mode"`
		Executable fwFile `json:"executable"`
		NVRAM      fwFile `json:"nvram-template"`
		Filename   string `json:"filename"`
	} `json:"mapping"`
	Targets []struct {
		Architecture string   `json:"architecture"`
		Machines     []string `json:"machines"`
	} `json:"targets"`
	Features []string `json:"features"`
}

// loaderCfg is the resolved firmware of a start.
type loaderCfg struct {
	typ       string // rom, pflash or "" (none)
	path      string
	readonly  string        // yes, no or ""
	secure    string        // yes, no or ""
	stateless string        // yes, no or ""
	nvram     string        // file or block device of the varstore
	nvramBlk  bool          // nvram is a block device
	nvramNet  *conf.Element // <nvram type='network'>, see nvramnet.go
	template  string
	smm       bool // the chosen firmware requires SMM
	kernel    string
}

func (b *builder) firmware() (*loaderCfg, error) {
	if b.fw != nil {
		return b.fw, nil
	}
	osEl := child(b.tree(), "os")
	fw, feats, l, hasLoader, hasNVRAM, err := parseOSFirmware(osEl)
	if err != nil {
		return nil, err
	}
	ne := child(osEl, "nvram")
	// libvirt's loader definition exists as soon as either element does.
	if err := checkOS(fw, feats, hasLoader || ne != nil, hasNVRAM, l); err != nil {
		return nil, err
	}
	if feats["enrolled-keys"] == "yes" {
		feats["secure-boot"] = "yes"
	}
	nvramDir := b.host().NVRAMDir
	if nvramDir == "" {
		nvramDir = "/var/lib/libvirt/qemu/nvram"
	}
	defaultNVRAM := nvramDir + "/" + b.def.Name + "_VARS.fd"
	// qemuDomainDefPostParse: a read-only UEFI image gets a varstore.
	if l.typ == "pflash" && l.readonly == "yes" && l.path != "" && !hasNVRAM && l.stateless != "yes" {
		l.nvram = defaultNVRAM
	}
	matched := false
	switch {
	case fw != "":
		if _, err := b.selectFirmware(fw, feats, l, defaultNVRAM); err != nil {
			return nil, err
		}
	case oldStyleROUEFI(l) && l.template == "" && l.nvramNet == nil &&
		(b.p.ResetNVRAM || !b.fileExists(l.nvram)):
		// qemuFirmwareFillDomain: a UEFI image given by path whose
		// varstore is still to be made takes its template (and the
		// needs, as SMM) from the descriptor of that image, if any.
		if matched, err = b.selectFirmware("", feats, l, defaultNVRAM); err != nil {
			return nil, err
		}
	}
	if l.secure == "yes" {
		if !b.q35 {
			return nil, unsupported("Secure boot is supported with q35 machine types only")
		}
		if b.def.OS.Arch != "x86_64" {
			return nil, unsupported("Secure boot is supported for x86_64 architecture only")
		}
		if st, _ := b.featureState("smm"); st != "on" && !l.smm {
			return nil, unsupported("Secure boot requires SMM feature enabled")
		}
	}
	b.fw = l
	b.recordFirmware(fw, l, hasNVRAM, matched)
	return l, nil
}

// oldStyleROUEFI is virDomainDefHasOldStyleROUEFI: a read-only pflash
// image named by path rather than auto-selected.
func oldStyleROUEFI(l *loaderCfg) bool {
	return l.typ == "pflash" && l.readonly == "yes" && l.path != ""
}

// fileExists reports whether a local varstore exists (libvirt's
// virFileExists); the host's hook when it has one.
func (b *builder) fileExists(path string) bool {
	if h := b.host(); h.FileExists != nil {
		return h.FileExists(path)
	}
	_, err := os.Stat(path)
	return err == nil
}

// parseOSFirmware reads <os firmware>, its <firmware> features, <loader>
// and <nvram> (virDomainOSDefParseXML with virDomainDefPostParseOs's
// default loader type).
func parseOSFirmware(osEl *conf.Element) (fw string, feats map[string]string, l *loaderCfg, hasLoader, hasNVRAM bool, err error) {
	fw = attr(osEl, "firmware")
	switch fw {
	case "", "bios", "efi":
	default:
		return "", nil, nil, false, false, xmlError("Invalid value for attribute 'firmware' in element 'os': '%s'.", fw)
	}
	feats = map[string]string{}
	for _, f := range children(child(osEl, "firmware"), "feature") {
		name, en := attr(f, "name"), attr(f, "enabled")
		if name != "secure-boot" && name != "enrolled-keys" {
			return "", nil, nil, false, false, xmlError("Invalid value for attribute 'name' in element 'feature': '%s'.", name)
		}
		if en != "yes" && en != "no" {
			return "", nil, nil, false, false, xmlError("Invalid value for attribute 'enabled' in element 'feature': '%s'. Expected yes/no", en)
		}
		feats[name] = en
	}
	l = &loaderCfg{}
	le := child(osEl, "loader")
	hasLoader = le != nil
	if le != nil {
		l.typ, l.path = attr(le, "type"), le.Text()
		l.readonly, l.secure, l.stateless = attr(le, "readonly"), attr(le, "secure"), attr(le, "stateless")
		for a, v := range map[string]string{"readonly": l.readonly, "secure": l.secure, "stateless": l.stateless} {
			if v != "" && v != "yes" && v != "no" {
				return "", nil, nil, false, false, xmlError("Invalid value for attribute '%s' in element 'loader': '%s'. Expected yes/no", a, v)
			}
		}
		switch l.typ {
		case "", "rom", "pflash":
		default:
			return "", nil, nil, false, false, xmlError("Invalid value for attribute 'type' in element 'loader': '%s'.", l.typ)
		}
	}
	ne := child(osEl, "nvram")
	hasNVRAM = ne != nil
	if ne != nil {
		l.template = attr(ne, "template")
		switch t := attr(ne, "type"); t {
		case "":
			l.nvram = ne.Text()
		case "file":
			l.nvram = attr(child(ne, "source"), "file")
		case "block":
			l.nvram, l.nvramBlk = attr(child(ne, "source"), "dev"), true
		case "network":
			l.nvramNet = ne
		default:
			return "", nil, nil, false, false, unsupported("unsupported nvram disk type '%s'", t)
		}
		hasNVRAM = l.nvram != "" || attr(ne, "type") != ""
	}
	// virDomainDefPostParseOs runs before validation: a loader path
	// without a type is a ROM.
	if l.path != "" && l.typ == "" {
		l.typ = "rom"
	}
	return fw, feats, l, hasLoader, hasNVRAM, nil
}

// recordFirmware writes what start decided into the live definition, as
// libvirt's does: the chosen loader and varstore replace the
// auto-selection, and SMM is on when the firmware needs it.
//
// matched is a UEFI image given by path that a descriptor described:
// libvirt records the template it took and the SMM the image needs.
func (b *builder) recordFirmware(fw string, l *loaderCfg, hadNVRAM, matched bool) {
	d := b.def
	if l.typ == "" {
		return
	}
	if matched {
		if l.template != "" {
			d.SetValue("os/nvram/@template", l.template)
			if !hadNVRAM && l.nvram != "" {
				d.SetValue("os/nvram", l.nvram)
			}
		}
		if l.smm {
			if !contains(d.Features, "smm") {
				d.Features = append(d.Features, "smm")
				d.SetValue("features/smm/@state", "on")
			}
			d.SetValue("os/loader/@secure", "yes")
			d.OrderAttrs("os/loader", "readonly", "secure", "type", "stateless")
		}
		return
	}
	if fw != "" {
		d.SetValue("os/@firmware", "")
		d.OS.Loader = l.path
		d.SetValue("os/loader/@readonly", l.readonly)
		d.SetValue("os/loader/@secure", l.secure)
		d.SetValue("os/loader/@type", l.typ)
		if l.smm && !contains(d.Features, "smm") {
			d.Features = append(d.Features, "smm")
			d.SetValue("features/smm/@state", "on")
		}
	}
	if !hadNVRAM && l.nvram != "" && l.nvramNet == nil && !l.nvramBlk {
		d.SetValue("os/nvram", l.nvram)
		if l.template != "" {
			d.SetValue("os/nvram/@template", l.template)
		}
	}
}

// checkOS is virDomainDefOSValidate and virDomainDefPostParseOs.
func checkOS(fw string, feats map[string]string, hasLoader, hasNVRAM bool, l *loaderCfg) error {
	if feats["enrolled-keys"] == "yes" && feats["secure-boot"] == "no" {
		return xmlDetail("firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled")
	}
	if fw != "" {
		if hasLoader {
			switch {
			case l.readonly != "":
				return xmlDetail("loader attribute 'readonly' cannot be specified when firmware autoselection is enabled")
			case l.typ != "":
				return xmlDetail("loader attribute 'type' cannot be specified when firmware autoselection is enabled")
			case l.path != "":
				return xmlDetail("loader path cannot be specified when firmware autoselection is enabled")
			case l.template != "":
				return xmlDetail("nvram attribute 'template' cannot be specified when firmware autoselection is enabled")
			case l.secure == "no":
				return xmlDetail("loader attribute 'secure' cannot be specified when firmware autoselection is enabled")
			}
		} else if l.template != "" {
			return xmlDetail("nvram attribute 'template' cannot be specified when firmware autoselection is enabled")
		}
		if hasNVRAM && fw != "efi" {
			return xmlDetail("firmware type '%s' does not support nvram", fw)
		}
	} else {
		if len(feats) > 0 {
			return xmlDetail("cannot use feature-based firmware autoselection when firmware autoselection is disabled")
		}
		if !hasLoader {
			return nil
		}
		if l.path == "" {
			return xmlDetail("no loader path specified and firmware auto selection disabled")
		}
	}
	switch l.stateless {
	case "yes":
		if l.template != "" {
			return xmlDetail("NVRAM template is not permitted when loader is stateless")
		}
		if hasNVRAM {
			return xmlDetail("NVRAM is not permitted when loader is stateless")
		}
	case "no":
		if fw == "" {
			if l.typ != "pflash" {
				return xmlDetail("Only pflash loader type permits NVRAM")
			}
		} else if fw != "efi" {
			return xmlDetail("Only EFI firmware permits NVRAM")
		}
	}
	return nil
}

// selectFirmware is qemuFirmwareFillDomain for <os firmware=”>: the
// first descriptor (by name) matching the guest wins.
//
// With fw "" it is the lookup for a UEFI image named by path
// (qemuFirmwareMatchDomain's user provided path): only a descriptor of
// that very image matches, and finding none is no error (matched false).
func (b *builder) selectFirmware(fw string, feats map[string]string, l *loaderCfg, defaultNVRAM string) (matched bool, err error) {
	h := b.host()
	var descs []FirmwareDesc
	if h.Firmware != nil {
		var err error
		if descs, err = h.Firmware(); err != nil {
			return false, err
		}
	}
	want := map[string]string{"bios": "bios", "efi": "uefi", "": "uefi"}[fw]
	pm := child(b.tree(), "pm")
	s3 := attr(child(pm, "suspend-to-mem"), "enabled") == "yes"
	s4 := attr(child(pm, "suspend-to-disk"), "enabled") == "yes"
	for _, fd := range descs {
		var d fwDescriptor
		if err := json.Unmarshal(fd.Data, &d); err != nil {
			return false, internalError("cannot parse firmware descriptor '%s': %v", fd.Path, err)
		}
		if d.Mapping.Device == "flash" && d.Mapping.Mode == "" {
			d.Mapping.Mode = "split"
		}
		if fw == "" && (d.Mapping.Device != "flash" || d.Mapping.Executable.Filename != l.path) {
			continue
		}
		if !contains(d.Interfaces, want) || !b.fwMatchesMachine(&d) {
			continue
		}
		has := func(f string) bool { return contains(d.Features, f) }
		if (s3 && !has("acpi-s3")) || (s4 && !has("acpi-s4")) {
			continue
		}
		if sb := feats["secure-boot"]; (sb == "yes" && !has("secure-boot")) || (sb == "no" && has("secure-boot")) {
			continue
		}
		if ek := feats["enrolled-keys"]; (ek == "yes" && !has("enrolled-keys")) || (ek == "no" && has("enrolled-keys")) {
			continue
		}
		if l.secure == "yes" && !has("requires-smm") {
			continue
		}
		if d.Mapping.Device == "flash" {
			if l.stateless == "yes" && d.Mapping.Mode != "stateless" {
				continue
			}
			if l.stateless != "yes" && d.Mapping.Mode != "split" {
				continue
			}
		}
		if b.launchSecurity() && !has("amd-sev") {
			continue
		}
		// qemuFirmwareEnableFeatures
		switch d.Mapping.Device {
		case "flash":
			l.typ, l.readonly = "pflash", "yes"
			if d.Mapping.Executable.Format != "raw" {
				return false, operationUnsupported("unsupported flash format '%s'", d.Mapping.Executable.Format)
			}
			l.path = d.Mapping.Executable.Filename
			if d.Mapping.Mode == "split" {
				if d.Mapping.NVRAM.Format != "raw" {
					return false, operationUnsupported("unsupported nvram template format '%s'", d.Mapping.NVRAM.Format)
				}
				l.template = d.Mapping.NVRAM.Filename
				if l.nvram == "" && l.nvramNet == nil {
					l.nvram = defaultNVRAM
				}
			}
		case "kernel":
			l.kernel = d.Mapping.Filename
			if b.def.OS.Kernel == "" {
				b.def.OS.Kernel = l.kernel
			}
		case "memory":
			l.typ, l.path = "rom", d.Mapping.Filename
		}
		if has("requires-smm") {
			if st, _ := b.featureState("smm"); st == "off" {
				return false, operationInvalid("domain has SMM turned off but chosen firmware requires it")
			}
			l.smm = true
			l.secure = "yes"
		}
		return true, nil
	}
	if fw == "" {
		return false, nil
	}
	return false, operationFailed("Unable to find any firmware to satisfy '%s'", fw)
}

func (b *builder) fwMatchesMachine(d *fwDescriptor) bool {
	for _, t := range d.Targets {
		if t.Architecture != b.def.OS.Arch {
			continue
		}
		for _, m := range t.Machines {
			if ok, _ := path.Match(m, b.machine); ok {
				return true
			}
		}
	}
	return false
}

// pflashBlockdevs writes the -blockdev pairs of the UEFI image and its
// varstore (qemuBuildPflashBlockdevCommandLine).
func (b *builder) emitPflash() error {
	l, err := b.firmware()
	if err != nil || l.typ != "pflash" {
		return err
	}
	one := func(n int, file string, blk bool, ro bool) {
		drv := "file"
		if blk {
			drv = "host_device"
		}
		st := "libvirt-pflash" + string(rune('0'+n)) + "-storage"
		b.add("-blockdev", obj{}.set("driver", drv).set("filename", file).set("node-name", st).
			set("auto-read-only", true).set("discard", "unmap").String())
		b.add("-blockdev", obj{}.set("node-name", "libvirt-pflash"+string(rune('0'+n))+"-format").
			set("read-only", ro).set("driver", "raw").set("file", st).String())
	}
	one(0, l.path, false, l.readonly == "yes")
	switch {
	case l.nvram != "":
		one(1, l.nvram, l.nvramBlk, false)
	}
	if l.nvramNet != nil {
		args, err := b.networkNVRAMNodes(l.nvramNet)
		if err != nil {
			return err
		}
		b.add(args...)
	}
	return nil
}

// pflashMachineParams are the pflash0/pflash1 node names of the firmware.
func (b *builder) pflashMachineParams() string {
	l, err := b.firmware()
	if err != nil || l.typ != "pflash" {
		return ""
	}
	s := ",pflash0=libvirt-pflash0-format"
	if l.nvram != "" || l.nvramNet != nil {
		s += ",pflash1=libvirt-pflash1-format"
	}
	return s
}

// emitLoader is qemuBuildDomainLoaderCommandLine.
func (b *builder) emitLoader() error {
	l, err := b.firmware()
	if err != nil {
		return err
	}
	switch {
	case l.typ == "rom":
		b.add("-bios", l.path)
	case l.typ == "pflash" && l.secure == "yes":
		b.add("-global", "driver=cfi.pflash01,property=secure,value=on")
	}
	return nil
}

// launchSecurity reports a <launchSecurity> the guest is started with.
func (b *builder) launchSecurity() bool { return child(b.tree(), "launchSecurity") != nil }

// nvramSetup is what the driver must do before QEMU starts: create the
// varstore from its template when it does not exist yet.
func (b *builder) nvramSetup() (nvram, template string) {
	l, err := b.firmware()
	if err != nil || l.nvram == "" || l.nvramBlk || l.nvramNet != nil {
		return "", ""
	}
	return l.nvram, l.template
}

func operationUnsupported(format string, args ...any) error {
	return virerr.New(virerr.FromQemu, virerr.ErrOperationUnsupported, format, args...)
}

func operationInvalid(format string, args ...any) error {
	return virerr.New(virerr.FromQemu, virerr.ErrOperationInvalid, format, args...)
}

func operationFailed(format string, args ...any) error {
	return virerr.New(virerr.FromQemu, virerr.ErrOperationFailed, format, args...)
}
