package command

import (
	"os"
	"strconv"
	"syscall"

	"govirt/conf"
)

// The -blockdev nodes of a disk, as libvirt's qemu_block.c lays them out:
// per image layer a storage (protocol) node and a format node, bottom
// layer first, properties in libvirt's order so the command line and the
// QMP blockdev-add arguments are libvirt's.

// chainLayer is one image of a disk's chain with the element it is
// written in (<disk> for the top image, <backingStore> below).
type chainLayer struct {
	src *conf.DiskSource
	el  *conf.Element
	top bool
}

// chain returns the disk's image layers from the top down (nil for an
// empty drive), each with its element.
func chain(d *conf.Disk) []chainLayer {
	var out []chainLayer
	el := conf.DeviceElement(d)
	for i, s := range layers(d) {
		if i > 0 {
			el = child(el, "backingStore")
		}
		out = append(out, chainLayer{src: s, el: el, top: i == 0})
	}
	return out
}

// hostEnv is what the node properties need to know about the host.
type hostEnv struct {
	// isCDROM reports whether a block device is a CD-ROM drive; QEMU
	// needs host_cdrom for those (libvirt's virFileIsCDROM).
	isCDROM func(path string) bool
	// secrets resolves <auth>/<encryption> secret references.
	secrets SecretLookup
}

func (b *builder) hostEnv() hostEnv {
	e := hostEnv{isCDROM: b.p.IsCDROM, secrets: b.p.Secrets}
	if e.isCDROM == nil {
		e.isCDROM = IsCDROM
	}
	return e
}

// IsCDROM reports whether path is a block device that answers the
// CD-ROM drive-status ioctl, as libvirt's virFileIsCDROM.
func IsCDROM(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		return false
	}
	const cdromDriveStatus, cdslCurrent = 0x5326, 0x7fffffff
	r, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), cdromDriveStatus, cdslCurrent)
	return errno == 0 && int(r) >= 0
}

// layerReadOnly is whether QEMU opens a layer read-only: backing images
// always, the top image when the disk is <readonly/> or a CD-ROM.
func layerReadOnly(d *conf.Disk, l chainLayer) bool {
	return !l.top || d.ReadOnly || d.Device == "cdrom"
}

// detectZeroes is the format node's detect-zeroes: unmap only works with
// discard=unmap, otherwise it means on (virDomainDiskGetDetectZeroesMode).
func detectZeroes(d *conf.Disk) string {
	v := attr(child(conf.DeviceElement(d), "driver"), "detect_zeroes")
	if v == "unmap" && d.Discard != "unmap" {
		return "on"
	}
	return v
}

// storageNode is the protocol node of one layer.
func (b *builder) storageNode(d *conf.Disk, l chainLayer, env hostEnv) (obj, error) {
	s := l.src
	var o obj
	switch s.Type {
	case "file", "block":
		drv := "file"
		if s.Type == "block" {
			drv = "host_device"
			if l.top && d.Device == "cdrom" && format(s) == "raw" && env.isCDROM(s.Path) {
				drv = "host_cdrom"
			}
		}
		path := s.Path
		if fs := b.diskFDs[s]; fs != nil {
			path = "/dev/fdset/" + strconv.Itoa(fs.set)
		}
		o = o.set("driver", drv).set("filename", path)
		if d.IO != "" {
			o = o.set("aio", d.IO)
		}
	case "dir":
		o = o.set("driver", "vvfat").set("dir", s.Path).set("floppy", d.Device == "floppy").
			set("rw", !layerReadOnly(d, l))
	case "network":
		var err error
		if o, err = b.networkStorage(d, l, env); err != nil {
			return nil, err
		}
	case "nvme":
		n := child(l.el, "source")
		a := child(n, "address")
		o = o.set("driver", "nvme").set("device", pciAddrString(a))
		if ns := attr(n, "namespace"); ns != "" {
			o = o.set("namespace", uintOr(ns, 0))
		}
	}
	o = o.set("node-name", s.NodeName)
	o = withCache(o, d.Cache)
	if fs := b.diskFDs[s]; fs != nil {
		o = fdStorageProps(o, fs, d, l)
	} else {
		o = o.set("auto-read-only", true)
	}
	o = o.set("discard", "unmap")
	return o, nil
}

// formatNode is the format node of one layer, its backing named.
func (b *builder) formatNode(d *conf.Disk, l chainLayer) (obj, error) {
	s := l.src
	o := obj{}.set("node-name", s.NodeNameFormat).set("read-only", layerReadOnly(d, l))
	if d.Discard != "" {
		o = o.set("discard", d.Discard)
	}
	if l.top {
		if dz := detectZeroes(d); dz != "" && dz != "off" {
			o = o.set("detect-zeroes", dz)
		}
	}
	o = withCache(o, d.Cache)
	enc := encryptionOf(l.el)
	slice := storageSlice(l.el)
	file := s.NodeName
	switch f := format(s); f {
	case "raw":
		if enc != nil && enc.format == "luks" {
			o = o.set("driver", "luks").set("key-secret", enc.alias(s))
		} else {
			o = o.set("driver", "raw")
			if slice != nil {
				o = o.set("offset", slice.offset).set("size", slice.size)
			}
		}
	case "qcow2", "qcow":
		o = o.set("driver", f)
		if enc != nil {
			ef := "luks"
			if enc.format == "qcow" {
				ef = "aes"
			}
			o = o.set("encrypt", obj{}.set("format", ef).set("key-secret", enc.alias(s)))
		}
		if f == "qcow2" {
			if mc := metadataCacheSize(l.el); mc > 0 {
				o = o.set("cache-size", mc)
			}
		}
	case "fat":
		o = o.set("driver", "raw")
	case "vhd":
		o = o.set("driver", "vhdx")
	case "ploop":
		o = o.set("driver", "parallels")
	default:
		o = o.set("driver", f)
	}
	if needsSliceNode(s, l.el) {
		file = sliceNodeName(s)
	}
	o = o.set("file", file)
	if s.Backing != nil {
		if backingFormat(format(s)) {
			if s.Backing.Type == "" {
				o = o.set("backing", nil)
			} else {
				o = o.set("backing", s.Backing.NodeNameFormat)
			}
		} else if s.Backing.Type != "" {
			return nil, unsupported("storage format '%s' does not support backing store", format(s))
		}
	}
	return o, nil
}

// backingFormat reports formats that can have a backing image.
func backingFormat(f string) bool {
	switch f {
	case "cow", "qcow", "qcow2", "qed", "vmdk":
		return true
	}
	return false
}

// diskNodes returns the -blockdev objects of disk, in the order QEMU needs
// them: per layer from the bottom up, its secrets, storage node, slice
// node and format node; then the copy-on-read layer.
func (b *builder) diskNodes(d *conf.Disk, env hostEnv) ([]string, []obj, error) {
	var out []obj
	ls := chain(d)
	var args []string
	for i := len(ls) - 1; i >= 0; i-- {
		l := ls[i]
		objs, err := b.layerObjects(d, l, env)
		if err != nil {
			return nil, nil, err
		}
		st, err := b.storageNode(d, l, env)
		if err != nil {
			return nil, nil, err
		}
		f, err := b.formatNode(d, l)
		if err != nil {
			return nil, nil, err
		}
		for _, o := range objs {
			args = append(args, "-object", o.String())
		}
		args = append(args, "-blockdev", st.String())
		out = append(out, st)
		if needsSliceNode(l.src, l.el) {
			sl := storageSlice(l.el)
			so := obj{}.set("driver", "raw").set("node-name", sliceNodeName(l.src)).
				set("offset", sl.offset).set("size", sl.size).set("file", l.src.NodeName).
				set("auto-read-only", true).set("discard", "unmap")
			so = withCache(so, d.Cache)
			args = append(args, "-blockdev", so.String())
			out = append(out, so)
		}
		args = append(args, "-blockdev", f.String())
		out = append(out, f)
	}
	if len(ls) > 0 && attr(child(conf.DeviceElement(d), "driver"), "copy_on_read") == "on" {
		c := obj{}.set("driver", "copy-on-read").set("node-name", "libvirt-CoR-"+d.TargetDev).
			set("file", ls[0].src.NodeNameFormat).set("discard", "unmap")
		args = append(args, "-blockdev", c.String())
		out = append(out, c)
	}
	return args, out, nil
}

// diskDrive is the node the disk's device reads from.
func diskDrive(d *conf.Disk) string {
	if sourceEmpty(&d.Source) {
		return ""
	}
	if attr(child(conf.DeviceElement(d), "driver"), "copy_on_read") == "on" {
		return "libvirt-CoR-" + d.TargetDev
	}
	return d.Source.NodeNameFormat
}

// uintOr parses a decimal number, def when it is none.
func uintOr(s string, def uint64) uint64 {
	var n uint64
	for _, r := range s {
		if r < '0' || r > '9' {
			return def
		}
		n = n*10 + uint64(r-'0')
	}
	if s == "" {
		return def
	}
	return n
}
