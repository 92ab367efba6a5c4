package command

import (
	"cmp"
	"fmt"
	"strconv"

	"govirt/conf"
)

// VirtioFS is a virtiofsd the driver runs for a <filesystem> with
// <driver type='virtiofs'> (libvirt's qemuVirtioFSStart): it listens on
// Socket, hands the listening descriptor to Binary as --fd=N and starts
// it with Args after that; QEMU connects to Socket as a client.
type VirtioFS struct {
	Alias  string
	Socket string
	Binary string // "" when the driver picks the host's virtiofsd
	Source string
	// Args follow --fd=N: -o source=...,cache=...,sandbox=...,xattr,...
	// and --thread-pool-size=N, as libvirt writes them.
	Args []string
}

// fsAccessModes maps accessmode to the 9p security model.
var fsAccessModes = map[string]string{"passthrough": "passthrough", "mapped": "mapped", "squash": "none"}

// filesystems are the <filesystem> devices, as views into the definition.
func (b *builder) filesystems() []*conf.RawDevice { return b.def.RawDevicesOf("filesystem") }

// fsDriver is a filesystem's <driver type>, "path" when absent.
func fsDriver(fs *conf.RawDevice) string {
	t := attr(child(conf.DeviceElement(fs), "driver"), "type")
	if t == "" {
		return "path"
	}
	return t
}

// fsPCIDevs are the filesystems for PCI address assignment, which libvirt
// does first, right after PCI controllers.
func (b *builder) fsPCIDevs() []pciDev {
	var out []pciDev
	for i, fs := range b.filesystems() {
		g, s := rawAddr(fs)
		out = append(out, pciDev{fmt.Sprintf("filesystem %d", i), g, s, true})
	}
	return out
}

// assignFSAliases names filesystems fs0, fs1, ... as libvirt does.
func (b *builder) assignFSAliases() {
	for i, fs := range b.filesystems() {
		name := attr(child(conf.DeviceElement(fs), "alias"), "name")
		conf.SetDeviceValue(fs, "alias/@name", alias(name, fmt.Sprintf("fs%d", i)))
	}
}

// fileMode parses fmode/dmode (octal, at most 0777).
func fileMode(e *conf.Element, name string) (uint64, error) {
	s := attr(e, name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 {
		return 0, xmlError("invalid %s: '%s'", name, s)
	}
	return v, nil
}

// checkFS applies qemuValidateDomainDeviceDefFS.
func (b *builder) checkFS(fs *conf.RawDevice) error {
	e := conf.DeviceElement(fs)
	if t := attr(e, "type"); t != "" && t != "mount" {
		return unsupported("only supports mount filesystem type")
	}
	drv := fsDriver(fs)
	access := attr(e, "accessmode")
	if access == "" {
		access = "passthrough"
	}
	if fsAccessModes[access] == "" {
		return xmlError("unknown accessmode '%s'", access)
	}
	multidevs := attr(e, "multidevs")
	if multidevs != "" && multidevs != "default" && !b.caps.Has("fsdev.multidevs") {
		return unsupported("multidevs is not supported with this QEMU binary")
	}
	fmode, err := fileMode(e, "fmode")
	if err != nil {
		return err
	}
	dmode, err := fileMode(e, "dmode")
	if err != nil {
		return err
	}
	if (fmode != 0 || dmode != 0) && access != "mapped" {
		return unsupported("fmode and dmode must be used with accessmode=mapped")
	}
	binary := child(e, "binary")
	if drv != "virtiofs" && child(binary, "sandbox") != nil {
		return unsupported("sandbox can only be used with driver=virtiofs")
	}
	switch drv {
	case "path":
	case "handle":
		if access != "passthrough" {
			return unsupported("only supports passthrough accessmode")
		}
	case "loop", "nbd", "ploop":
		return unsupported("Filesystem driver type not supported")
	case "virtiofs":
		if attr(child(e, "source"), "socket") == "" {
			if child(e, "readonly") != nil {
				return unsupported("virtiofs does not yet support read-only mode")
			}
			if access != "passthrough" {
				return unsupported("virtiofs only supports passthrough accessmode")
			}
			if attr(child(e, "driver"), "wrpolicy") != "" {
				return unsupported("virtiofs does not support wrpolicy")
			}
		}
		if attr(e, "model") != "" {
			return unsupported("virtiofs does not support model")
		}
		if attr(child(e, "driver"), "format") != "" {
			return unsupported("virtiofs does not support format")
		}
		if !b.caps.Has("vhost-user-fs") {
			return unsupported("virtiofs is not supported with this QEMU binary")
		}
		if multidevs != "" && multidevs != "default" {
			return unsupported("virtiofs does not support multidevs")
		}
		if fmode != 0 || dmode != 0 {
			return unsupported("virtiofs does not support fmode and dmode")
		}
		if err := b.requireSharedMemory("virtiofs"); err != nil {
			return err
		}
		if child(e, "boot") != nil && !b.caps.Has("vhost-user-fs.bootindex") {
			return unsupported("setting virtiofs boot order is not supported with this QEMU binary")
		}
	default:
		return xmlError("unknown fs driver type '%s'", drv)
	}
	return nil
}

// requireSharedMemory refuses a vhost-user device when the guest memory
// is not shared with the backend (qemuValidateDomainDefVhostUserRequireSharedMemory).
func (b *builder) requireSharedMemory(name string) error {
	t := b.tree()
	shared := attr(child(t, "memoryBacking", "access"), "mode") == "shared"
	cells := child(t, "cpu", "numa")
	if cells == nil || len(cells.Children("cell")) == 0 {
		if !shared {
			return unsupported("'%s' requires shared memory", name)
		}
		return nil
	}
	for _, c := range cells.Children("cell") {
		switch attr(c, "memAccess") {
		case "shared":
		case "":
			if !shared {
				return unsupported("'%s' requires shared memory", name)
			}
		default:
			return unsupported("'%s' requires shared memory", name)
		}
	}
	return nil
}

// emitFilesystems writes 9p shares (-fsdev plus virtio-9p-pci) and
// virtiofs shares (a chardev to virtiofsd's socket plus
// vhost-user-fs-pci), as qemuBuildFilesystemCommandLine.
func (b *builder) emitFilesystems() error {
	for _, fs := range b.filesystems() {
		if err := b.checkFS(fs); err != nil {
			return err
		}
		e := conf.DeviceElement(fs)
		a := conf.DeviceAddress(fs)
		if a.Type != "pci" {
			return unsupported("filesystem %s needs a PCI address", attr(child(e, "alias"), "name"))
		}
		var err error
		if fsDriver(fs) == "virtiofs" {
			err = b.emitVirtioFS(fs, e, a)
		} else {
			err = b.emit9p(fs, e, a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) emit9p(fs *conf.RawDevice, e *conf.Element, a conf.Address) error {
	id := attr(child(e, "alias"), "name")
	drv := child(e, "driver")
	s := ""
	switch fsDriver(fs) {
	case "path":
		access := attr(e, "accessmode")
		if access == "" {
			access = "passthrough"
			conf.SetDeviceValue(fs, "@accessmode", access)
		}
		s = "local,security_model=" + fsAccessModes[access]
		switch m := attr(e, "multidevs"); m {
		case "remap", "forbid", "warn":
			s += ",multidevs=" + m
		case "", "default":
		default:
			return xmlError("unknown multidevs '%s'", m)
		}
		fmode, _ := fileMode(e, "fmode")
		dmode, _ := fileMode(e, "dmode")
		if fmode != 0 {
			s += fmt.Sprintf(",fmode=%04o", fmode)
		}
		if dmode != 0 {
			s += fmt.Sprintf(",dmode=%04o", dmode)
		}
	case "handle":
		// QEMU 4.0 removed the handle backend; libvirt still writes it.
		s = "handle"
	}
	switch w := attr(drv, "wrpolicy"); w {
	case "immediate":
		s += ",writeout=" + w
	case "", "default":
	default:
		return xmlError("unknown filesystem write policy '%s'", w)
	}
	src := attr(child(e, "source"), "dir")
	if src == "" {
		return xmlError("missing source information for filesystem")
	}
	s += ",id=fsdev-" + id + ",path=" + escapeComma(src)
	if child(e, "readonly") != nil {
		s += ",readonly"
	}
	b.add("-fsdev", s)
	o, err := b.virtioDevice("virtio-9p", cmp.Or(attr(e, "model"), "virtio"), drv)
	if err != nil {
		return err
	}
	tag := attr(child(e, "target"), "dir")
	if tag == "" {
		return xmlError("missing target information for filesystem")
	}
	o = o.set("id", id).set("fsdev", "fsdev-"+id).set("mount_tag", tag)
	b.device(b.pciProps(o, a))
	return nil
}

func (b *builder) emitVirtioFS(fs *conf.RawDevice, e *conf.Element, a conf.Address) error {
	id := attr(child(e, "alias"), "name")
	src := child(e, "source")
	sock := attr(src, "socket")
	if sock == "" {
		// libvirt's qemuDomainGetVHostUserFSSocketPath: in the
		// domain's private directory, and the driver starts virtiofsd.
		sock = b.p.DomainDir + "/" + id + "-fs.sock"
		vfs, err := virtiofsdArgs(e, id, sock)
		if err != nil {
			return err
		}
		b.virtiofs = append(b.virtiofs, vfs)
	}
	chr := "chr-vu-" + id
	b.add("-chardev", "socket,id="+chr+",path="+escapeComma(sock))
	drv := child(e, "driver")
	o, err := b.virtioDevice("vhost-user-fs", "virtio", drv)
	if err != nil {
		return err
	}
	o = o.set("id", id).set("chardev", chr)
	if q := attr(drv, "queue"); q != "" {
		v, err := strconv.ParseUint(q, 10, 32)
		if err != nil {
			return xmlError("cannot parse queue size '%s' for virtiofs", q)
		}
		o = o.set("queue-size", v)
	}
	tag := attr(child(e, "target"), "dir")
	if tag == "" {
		return xmlError("missing target information for filesystem")
	}
	o = o.set("tag", tag)
	if bi := bootOrder(e); bi > 0 {
		o = o.set("bootindex", bi)
	}
	b.device(b.pciProps(o, a))
	return nil
}

// virtiofsdArgs is the virtiofsd of a filesystem, options as
// qemuVirtioFSBuildCommandLine writes them.
func virtiofsdArgs(e *conf.Element, alias, sock string) (VirtioFS, error) {
	bin := child(e, "binary")
	dir := attr(child(e, "source"), "dir")
	if dir == "" {
		return VirtioFS{}, xmlError("missing source information for filesystem")
	}
	opts := "source=" + escapeComma(dir)
	if c := attr(child(bin, "cache"), "mode"); c != "" {
		switch c {
		case "none", "always", "auto":
		default:
			return VirtioFS{}, xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "mode", "cache", c)
		}
		opts += ",cache=" + c
	}
	if s := attr(child(bin, "sandbox"), "mode"); s != "" {
		switch s {
		case "namespace", "chroot":
		default:
			return VirtioFS{}, xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "mode", "sandbox", s)
		}
		opts += ",sandbox=" + s
	}
	for _, f := range []struct {
		e        *conf.Element
		attr, on string
	}{{bin, "xattr", "xattr"}, {child(bin, "lock"), "flock", "flock"}, {child(bin, "lock"), "posix", "posix_lock"}} {
		v, err := tristate(f.e, f.attr)
		if err != nil {
			return VirtioFS{}, err
		}
		if v != nil && *v {
			opts += "," + f.on
		} else if v != nil {
			opts += ",no_" + f.on
		}
	}
	args := []string{"-o", opts}
	if tp := attr(child(bin, "thread_pool"), "size"); tp != "" {
		n, err := strconv.Atoi(tp)
		if err != nil {
			return VirtioFS{}, xmlError("Invalid thread_pool size '%s'", tp)
		}
		args = append(args, fmt.Sprintf("--thread-pool-size=%d", n))
	}
	return VirtioFS{Alias: alias, Socket: sock, Binary: attr(bin, "path"), Source: dir, Args: args}, nil
}
