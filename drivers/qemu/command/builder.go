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

	args []string
	taps []Tap

	// extraEnv is <qemu:commandline>'s environment.
	extraEnv []string

	// usbUsed are the USB ports of bus 0 taken (usbAddress).
	usbUsed map[string]bool

	// drivers and objects are the QOM types the command line instantiates,
	// checked against the binary at the end.
	drivers []string
}

func (b *builder) add(args ...string) { b.args = append(b.args, args...) }

// device adds one -device; its driver is remembered for checkTypes.
func (b *builder) device(o obj) {
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
	switch d.Type {
	case "kvm", "qemu":
	default:
		return unsupportedValue("domain", "type", d.Type)
	}
	if d.OS.Type != "hvm" {
		return unsupported("os type '%s' is not supported by govirt's QEMU driver", d.OS.Type)
	}
	switch d.OS.Arch {
	case "", "x86_64":
		d.OS.Arch = "x86_64"
	default:
		return unsupportedValue("os/type", "arch", d.OS.Arch)
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
	if d.CurrentVCPUs != 0 && d.CurrentVCPUs != d.VCPUs {
		return unsupported("vcpu hotplug (<vcpu current='%d'>) is not supported by govirt's QEMU driver", d.CurrentVCPUs)
	}
	if d.VCPUPlacement != "" && d.VCPUPlacement != "static" {
		return unsupportedValue("vcpu", "placement", d.VCPUPlacement)
	}
	for _, f := range d.Features {
		switch f {
		case "acpi", "apic", "pae", "vmport":
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
	b.add("-S")
	if err := b.emitMachine(); err != nil {
		return err
	}
	if err := b.emitCPU(); err != nil {
		return err
	}
	b.emitMemory()
	if err := b.emitSMP(); err != nil {
		return err
	}
	b.add("-uuid", d.UUID.String())
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
	_, reboot, err := b.biosOptions()
	if err != nil {
		return err
	}
	b.add("-boot", reboot+"strict=on")
	if err := b.emitKernel(); err != nil {
		return err
	}
	steps := []func() error{
		b.emitControllers,
		b.emitDisks,
		b.emitNets,
		b.emitSerials,
		b.emitChannels,
		b.emitInputs,
		b.emitAudio,
		b.emitGraphics,
		b.emitVideos,
		b.emitSounds,
		b.emitWatchdogs,
		b.emitRedirdevs,
		b.emitBalloon,
		b.emitRNGs,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	args, env, err := b.qemuCommandline()
	if err != nil {
		return err
	}
	b.add(args...)
	b.extraEnv = env
	if b.caps.Has("seccomp-sandbox") {
		b.add("-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny")
	}
	if err := b.emitPanics(); err != nil {
		return err
	}
	b.add("-msg", "timestamp=on")
	return nil
}

func (b *builder) emitMachine() error {
	t := b.def.Tree()
	m := b.machine + ",usb=off"
	if vp := child(t, "features", "vmport"); vp != nil {
		switch st := attr(vp, "state"); st {
		case "on", "off":
			m += ",vmport=" + st
		default:
			return unsupportedValue("features/vmport", "state", st)
		}
	}
	m += ",dump-guest-core=off,memory-backend=pc.ram"
	serial, _, err := b.biosOptions()
	if err != nil {
		return err
	}
	if serial {
		m += ",graphics=off" // SeaBIOS's serial console
	}
	for _, tm := range timers(t) {
		if attr(tm, "name") == "hpet" {
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
	accel := "tcg"
	if b.def.Type == "kvm" {
		accel = "kvm"
	}
	b.add("-accel", accel)
	return nil
}

func (b *builder) emitCPU() error {
	c := b.def.CPU
	model := "qemu64"
	if c != nil {
		switch c.Mode {
		case "host-passthrough":
			if b.def.Type != "kvm" {
				return unsupported("<cpu mode='host-passthrough'> needs a kvm domain")
			}
			model = "host"
		case "maximum":
			model = "max"
		case "custom", "":
			if c.Model != "" {
				model = c.Model
				// libvirt's cpu map names are QEMU's for the models
				// QEMU has; check the binary has this one.
				b.drivers = append(b.drivers, c.Model+"-x86_64-cpu")
			}
		default:
			return unsupportedValue("cpu", "mode", c.Mode)
		}
		if c.Model != "" && c.Mode != "custom" && c.Mode != "" {
			return unsupported("<cpu mode='%s'> takes no <model>", c.Mode)
		}
	}
	feats, err := cpuFeatures(b.def.Tree())
	if err != nil {
		return err
	}
	b.add("-cpu", model+feats)
	return nil
}

func (b *builder) emitMemory() {
	d := b.def
	// libvirt aligns x86 guest memory to whole MiB.
	d.Memory = (d.Memory + 1023) / 1024 * 1024
	if d.CurrentMemory > d.Memory || d.CurrentMemory == 0 {
		d.CurrentMemory = d.Memory
	}
	b.add("-m", strconv.FormatUint(d.Memory/1024, 10))
	b.object(obj{}.set("qom-type", "memory-backend-ram").set("id", "pc.ram").set("size", d.Memory*1024))
	b.add("-overcommit", "mem-lock=off")
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
	s := strconv.FormatUint(uint64(d.VCPUs), 10)
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

func (b *builder) emitClock() error {
	base := b.def.ClockOffset
	switch base {
	case "", "utc":
		base = "utc"
	case "localtime":
	default:
		return unsupportedValue("clock", "offset", base)
	}
	rtc := "base=" + base
	var globals []string
	for _, tm := range timers(b.def.Tree()) {
		name, tick, present := attr(tm, "name"), attr(tm, "tickpolicy"), attr(tm, "present")
		switch name {
		case "rtc":
			switch tick {
			case "catchup":
				rtc += ",driftfix=slew"
			case "", "delay":
			default:
				return unsupportedValue("clock/timer", "tickpolicy", tick)
			}
			if present == "no" {
				return unsupported("<timer name='rtc' present='no'> is not supported by govirt's QEMU driver")
			}
		case "pit":
			switch tick {
			case "", "delay", "discard":
				if tick == "" {
					tick = "delay"
				}
				// Without the in-kernel PIT property QEMU's PIT
				// delays anyway, and discard is what libvirt too
				// leaves unset then.
				if b.caps.Has("kvm-pit-lost-tick-policy") {
					globals = append(globals, "kvm-pit.lost_tick_policy="+tick)
				}
			case "catchup":
			default:
				return unsupportedValue("clock/timer", "tickpolicy", tick)
			}
			if present == "no" {
				return unsupported("<timer name='pit' present='no'> is not supported by govirt's QEMU driver")
			}
		case "hpet":
			// -machine hpet=; only present= means anything here.
			if tick != "" {
				return unsupportedValue("clock/timer", "tickpolicy", tick)
			}
		default:
			return unsupportedValue("clock/timer", "name", name)
		}
	}
	b.add("-rtc", rtc)
	for _, g := range globals {
		b.add("-global", g)
	}
	return nil
}

func (b *builder) emitPM() error {
	pm := child(b.def.Tree(), "pm")
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
	return append([]string{
		"LC_ALL=C",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + dir,
		"XDG_DATA_HOME=" + dir + "/.local/share",
		"XDG_CACHE_HOME=" + dir + "/.cache",
		"XDG_CONFIG_HOME=" + dir + "/.config",
	}, b.extraEnv...)
}

// knowsTypes reports whether caps carries QEMU's QOM type list: a binary
// probed with qom-list-types always has these base x86 devices.
func (b *builder) knowsTypes() bool {
	return b.caps.HasType("isa-serial") || b.caps.HasType("virtio-blk-pci")
}

// typeAliases are the -device names libvirt uses that QEMU lists under
// another name in qom-list-types (they are qdev aliases): libvirt's own
// capability probe looks for the right-hand name.
var typeAliases = map[string]string{"ahci": "ich9-ahci", "lsi": "lsi53c895a"}

// checkTypes refuses a command line instantiating a type the binary lacks,
// which QEMU would only report once started.
func (b *builder) checkTypes() error {
	if !b.knowsTypes() {
		return nil
	}
	for _, t := range b.drivers {
		if !b.caps.HasType(t) && !b.caps.HasType(typeAliases[t]) {
			return unsupported("this QEMU binary does not support '%s'", strings.TrimSuffix(t, "-x86_64-cpu"))
		}
	}
	return nil
}
