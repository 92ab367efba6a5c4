package command

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"govirt/conf"
)

// builder carries one Build.
type builder struct {
	def  *conf.Domain
	caps Caps
	p    Paths

	machine string // canonical machine type
	q35     bool

	args     []string
	taps     []Tap
	virtiofs []VirtioFS
	hostPCI  []HostPCI
	passts   []Passt

	// extraEnv is environment beyond env()'s common part, in the order
	// the devices ask for it (TZ of a <clock offset='timezone'>,
	// SDL_AUDIODRIVER, SASL_CONF_PATH).
	extraEnv []string

	// mem, numa, nt and memDevs cache what memory.go, numa.go and
	// memdev.go parse once per build.
	mem        *backing
	numa       *[]cell
	nt         *numatuneDef
	memDevs    *[]*memDevice
	fdsets     int         // -add-fd sets used
	fw         *loaderCfg  // firmware.go's resolved <os> firmware
	swtpm      *Swtpm      // tpm.go's emulator backend
	writeFiles []WriteFile // files the driver writes before QEMU starts
	pin        *Pinning    // pin.go's thread placement
	memDirs    []string    // directories of file-backed guest RAM
	// diskFDs are the fd sets of disk layers with an fdgroup (disk_fd.go).
	diskFDs map[*conf.DiskSource]*diskFDSet
	// treeCache is b.def.Tree() for the current build step (tree); only
	// Build, which knows its steps, sets cacheTree.
	cacheTree bool
	treeCache *conf.Element
	memFiles  []string // its files outside hugetlbfs
	// memPrealloc is set once -mem-prealloc is on the command line.
	memPrealloc bool

	// drivers and objects are the QOM types the command line instantiates,
	// checked against the binary at the end.
	drivers []string

	// files are the host files and sockets QEMU inherits; nextFD
	// numbers the descriptors handed out (fd sets are fdsets, shared
	// with every other -add-fd as libvirt's fdsetindex).
	files  []HostFile
	nextFD int
	// ns is the domain's QEMU namespace content.
	ns *qemuNSDef
	// acpiIdx are the ACPI indexes of devices, by alias.
	acpiIdx map[string]uint64
}

func (b *builder) add(args ...string) { b.args = append(b.args, args...) }

// device adds one -device; its driver is remembered for checkTypes.
func (b *builder) device(o obj) {
	o = b.withACPIIndex(o)
	o = b.applyOverrides(o)
	if d, ok := o.get("driver"); ok {
		b.drivers = append(b.drivers, d.(string))
	}
	b.add("-device", o.String())
}

// object adds one -object; its qom-type is remembered for checkTypes.
func (b *builder) object(o obj) {
	if d, ok := o.get("qom-type"); ok {
		b.drivers = append(b.drivers, d.(string))
	}
	b.add("-object", o.String())
}

// checkTop refuses domain-level settings outside what the builder does
// and resolves the machine type.
func (b *builder) checkTop() error {
	d := b.def
	emu := d.Devices.Emulator
	if emu == "" {
		emu = "/usr/bin/qemu-system-x86_64"
	}
	// qemuValidateDomainDef's checks of the emulator against the
	// definition, with its messages.
	switch d.OS.Arch {
	case "", "x86_64":
		d.OS.Arch = "x86_64"
	case "i686":
		// qemu-system-x86_64 runs 32-bit guests too.
		if !strings.HasSuffix(emu, "x86_64") && !strings.HasSuffix(emu, "i386") {
			return unsupported("Emulator '%s' does not support arch '%s'", emu, d.OS.Arch)
		}
	default:
		return unsupported("Emulator '%s' does not support arch '%s'", emu, d.OS.Arch)
	}
	switch d.Type {
	case "kvm", "qemu":
	case "hvf", "kqemu", "xen", "lxc", "uml", "openvz", "test", "vmware", "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz":
		return unsupported("Emulator '%s' does not support virt type '%s'", emu, d.Type)
	default:
		return unsupportedValue("domain", "type", d.Type)
	}
	if d.OS.Type != "hvm" {
		return unsupported("os type '%s' is not supported by govirt's QEMU driver", d.OS.Type)
	}
	if !b.caps.Has("blockdev") {
		return unsupported("this QEMU binary lacks -blockdev, which govirt requires")
	}
	// libvirt's QEMU_CAPS_DEVICE_JSON is spelled "device.json+hotplug".
	if !b.caps.Has("device.json+hotplug") && !b.caps.Has("device.json") {
		return unsupported("this QEMU binary lacks JSON -device, which govirt requires")
	}
	m := d.OS.Machine
	if m == "" {
		m = b.caps.DefaultMachine()
	}
	if c := b.caps.MachineAlias(m); c != "" {
		m = c
	}
	switch {
	case m == "q35" || strings.HasPrefix(m, "pc-q35-"):
		b.q35 = true
	case m == "pc" || strings.HasPrefix(m, "pc-i440fx-"):
	default:
		return unsupportedValue("os/type", "machine", m)
	}
	b.machine = m
	d.OS.Machine = m // libvirt records the canonical name
	if d.VCPUs == 0 {
		return unsupported("a domain needs at least one vcpu")
	}
	if d.CurrentVCPUs > d.VCPUs {
		return unsupported("vcpus count (%d) must not exceed maximum vcpus count (%d)", d.CurrentVCPUs, d.VCPUs)
	}
	if d.VCPUPlacement != "" && d.VCPUPlacement != "static" && d.VCPUPlacement != "auto" {
		return unsupportedValue("vcpu", "placement", d.VCPUPlacement)
	}
	for _, f := range d.Features {
		switch f {
		case "acpi", "apic", "pae", "vmport", "smm", "pvspinlock", "pmu", "vmcoreinfo",
			"ioapic", "msrs", "hyperv", "kvm", "tcg":
		default:
			return unsupportedElem("features/" + f)
		}
	}
	return nil
}

// emit writes the command line in libvirt's order.
func (b *builder) emit() error {
	d := b.def
	emu := d.Devices.Emulator
	if emu == "" {
		emu = "/usr/bin/qemu-system-x86_64"
	}
	b.add(emu)
	b.add("-name", "guest="+escapeComma(d.Name)+",debug-threads=on")
	b.emitCompat()
	b.add("-S")
	if b.p.MasterKey != "" {
		b.object(obj{}.set("qom-type", "secret").set("id", "masterKey0").set("format", "raw").set("file", b.p.MasterKey))
	}
	if err := b.emitPflash(); err != nil {
		return err
	}
	if err := b.emitMachine(); err != nil {
		return err
	}
	if err := b.emitCPU(); err != nil {
		return err
	}
	if err := b.emitLoader(); err != nil {
		return err
	}
	if err := b.emitMemory(); err != nil {
		return err
	}
	if err := b.emitSMP(); err != nil {
		return err
	}
	if err := b.emitIOThreads(); err != nil {
		return err
	}
	if err := b.emitNUMA(); err != nil {
		return err
	}
	b.add("-uuid", d.UUID.String())
	if err := b.emitSysinfo(); err != nil {
		return err
	}
	if len(d.Devices.Graphics) == 0 {
		b.add("-display", "none")
	}
	b.add("-no-user-config", "-nodefaults")
	if b.p.MonitorFD > 2 {
		b.add("-chardev", "socket,id=charmonitor,fd="+strconv.Itoa(b.p.MonitorFD)+",server=on,wait=off")
	} else {
		b.add("-chardev", "socket,id=charmonitor,path="+escapeComma(b.p.MonitorSocket)+",server=on,wait=off")
	}
	b.add("-mon", "chardev=charmonitor,id=monitor,mode=control")
	if err := b.emitClock(); err != nil {
		return err
	}
	// QEMU stops instead of exiting on guest shutdown; what happens then
	// (on_poweroff, on_reboot, on_crash) is the driver's business, as it
	// is libvirt's with set-action capable QEMU.
	b.add("-no-shutdown")
	if !slices.Contains(d.Features, "acpi") {
		b.add("-no-acpi")
	}
	if err := b.emitPM(); err != nil {
		return err
	}
	if err := b.emitBoot(); err != nil {
		return err
	}
	if err := b.emitKernel(); err != nil {
		return err
	}
	steps := []func() error{
		b.emitIOMMU,
		b.emitControllers,
		b.emitMemoryDevices,
		b.emitHubs,
		b.emitDisks,
		b.emitFilesystems,
		b.emitNets,
		b.emitSmartcards,
		b.emitSerials,
		b.emitParallels,
		b.emitChannels,
		b.emitConsoles,
		b.emitTPMs,
		b.emitInputs,
		b.emitAudio,
		b.emitGraphics,
		b.emitVideos,
		b.emitSounds,
		b.emitWatchdogs,
		b.emitHostdevs,
		b.emitRedirdevs,
		b.emitBalloon,
		b.emitRNGs,
		b.emitVMCoreInfo,
		b.emitLaunchSecurity,
		b.emitNSArgs,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	if b.caps.Has("seccomp-sandbox") {
		b.add("-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny")
	}
	if err := b.emitPanics(); err != nil {
		return err
	}
	if err := b.emitVsock(); err != nil {
		return err
	}
	b.add("-msg", "timestamp=on")
	return nil
}

func (b *builder) emitSMP() error {
	d := b.def
	if c := d.CPU; c != nil && c.Sockets != 0 {
		if c.Dies > 1 && !b.caps.Has("smp-dies") {
			return unsupported("Only 1 die per socket is supported")
		}
		if c.Sockets*max(c.Dies, 1)*c.Cores*c.Threads != d.VCPUs {
			return unsupported("CPU topology doesn't match maximum vcpu count")
		}
	}
	// Vcpus beyond <vcpu current=''> are offline: QEMU gets the count
	// of the online ones and the maximum (qemuBuildSmpCommandLine);
	// online hotpluggable ones of <vcpus> are plugged after QEMU starts.
	s := strconv.FormatUint(uint64(d.VCPUs), 10)
	if n, ok, err := smpCount(d); err != nil {
		return err
	} else if ok && n < d.VCPUs {
		s = fmt.Sprintf("%d,maxcpus=%d", n, d.VCPUs)
	} else if !ok && d.CurrentVCPUs != 0 && d.CurrentVCPUs < d.VCPUs {
		s = fmt.Sprintf("%d,maxcpus=%d", d.CurrentVCPUs, d.VCPUs)
	}
	if c := d.CPU; c != nil && c.Sockets != 0 {
		s += fmt.Sprintf(",sockets=%d", c.Sockets)
		if b.caps.Has("smp-dies") {
			s += fmt.Sprintf(",dies=%d", max(c.Dies, 1))
		}
		s += fmt.Sprintf(",cores=%d,threads=%d", c.Cores, c.Threads)
	} else {
		s += fmt.Sprintf(",sockets=%d,cores=1,threads=1", d.VCPUs)
	}
	b.add("-smp", s)
	return nil
}

func timers(t *conf.Element) []*conf.Element {
	if c := child(t, "clock"); c != nil {
		return c.Children("timer")
	}
	return nil
}

func (b *builder) emitPM() error {
	pm := child(b.tree(), "pm")
	obj := "PIIX4_PM"
	if b.q35 {
		obj = "ICH9-LPC"
	}
	for _, s := range []struct{ elem, prop string }{{"suspend-to-mem", "disable_s3"}, {"suspend-to-disk", "disable_s4"}} {
		e := child(pm, s.elem)
		if e == nil {
			continue
		}
		switch v := attr(e, "enabled"); v {
		case "no":
			b.add("-global", obj+"."+s.prop+"=1")
		case "yes":
			b.add("-global", obj+"."+s.prop+"=0")
		default:
			return unsupportedValue("pm/"+s.elem, "enabled", v)
		}
	}
	return nil
}

func (b *builder) emitKernel() error {
	o := b.def.OS
	if o.Kernel == "" && (o.Initrd != "" || o.Cmdline != "") {
		return unsupported("<initrd> and <cmdline> need a <kernel>")
	}
	if o.Kernel != "" {
		b.add("-kernel", o.Kernel)
	}
	if o.Initrd != "" {
		b.add("-initrd", o.Initrd)
	}
	if o.Cmdline != "" {
		b.add("-append", o.Cmdline)
	}
	return nil
}

// escapeComma doubles commas, QEMU's escape in key=value options.
func escapeComma(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// env is the environment libvirt gives QEMU: C locale, and HOME and XDG
// directories inside the domain's private directory so nothing QEMU or
// its libraries write lands in root's home.
func (b *builder) env() []string {
	dir := b.p.DomainDir
	var nsEnv []string
	if b.ns != nil {
		nsEnv = b.ns.env
	}
	return append([]string{
		"LC_ALL=C",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + dir,
		"XDG_DATA_HOME=" + dir + "/.local/share",
		"XDG_CACHE_HOME=" + dir + "/.cache",
		"XDG_CONFIG_HOME=" + dir + "/.config",
	}, append(append([]string{}, b.extraEnv...), nsEnv...)...)
}

// knowsTypes reports whether caps carries QEMU's QOM type list: a binary
// probed with qom-list-types always has these base x86 devices.
func (b *builder) knowsTypes() bool {
	return b.caps.HasType("isa-serial") || b.caps.HasType("virtio-blk-pci")
}

// qomAliases are QEMU's alias names of devices (qdev_alias_table) that
// libvirt writes on the command line, with the type they stand for.
var qomAliases = map[string]string{"lsi": "lsi53c895a", "ahci": "ich9-ahci"}

// checkTypes refuses a command line instantiating a type the binary lacks,
// which QEMU would only report once started.
func (b *builder) checkTypes() error {
	if !b.knowsTypes() {
		return nil
	}
	for _, t := range b.drivers {
		// QEMU's short device aliases libvirt uses.
		if full, ok := qomAliases[t]; ok {
			t = full
		}
		if !b.caps.HasType(t) {
			return unsupported("this QEMU binary does not support '%s'", strings.TrimSuffix(t, "-x86_64-cpu"))
		}
	}
	return nil
}

// tree is b.def.Tree(), built once per build step: the builder reads
// <features>, <cpu>, <os>, ... through it dozens of times per guest, and
// each Tree() formats the whole definition anew (about half of the
// daemon's allocations per start). Steps are the unit because a step may
// change the definition (aliases, addresses, node names) for the next;
// Build clears the cache between them. Read-only, as Tree() is. The
// hotplug helpers change their copy between calls and do not cache.
func (b *builder) tree() *conf.Element {
	if !b.cacheTree {
		return b.def.Tree()
	}
	if b.treeCache == nil {
		b.treeCache = b.def.Tree()
	}
	return b.treeCache
}
