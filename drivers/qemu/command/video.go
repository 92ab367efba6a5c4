package command

import (
	"fmt"
	"strconv"

	"govirt/conf"
	"govirt/virerr"
)

// videoModels are the <video><model type> values QEMU has a device for.
var videoModels = map[string]bool{"vga": true, "cirrus": true, "vmvga": true, "qxl": true,
	"virtio": true, "bochs": true, "ramfb": true, "none": true}

// video is one <video> with libvirt's post-parse defaults applied.
type video struct {
	dev                       *conf.Video
	alias                     string
	primary                   bool
	heads                     uint64
	ram, vram, vram64, vgamem uint64 // KiB
	xres, yres                uint64
	vhostUser                 bool   // <driver name='vhostuser'>: a vhost-user-gpu process renders
	rendernode                string // <acceleration rendernode>, for that process
	accel3d                   string // yes, no or ""
}

// roundPow2 is VIR_ROUND_UP_POWER_OF_TWO.
func roundPow2(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	p := uint64(1)
	for p < n {
		p <<= 1
	}
	return p
}

// parseVideo reads a <video> and applies libvirt's defaults
// (virDomainVideoDefPostParse, qemuDomainDeviceVideoDefPostParse) and
// checks (virDomainVideoDefValidate, qemuValidateDomainDeviceDefVideo).
func (b *builder) parseVideo(v *conf.Video, i int) (*video, error) {
	e := conf.DeviceElement(v)
	m := child(e, "model")
	vd := &video{dev: v, alias: attr(child(e, "alias"), "name"), primary: i == 0, heads: 1}
	if !videoModels[v.Model] {
		return nil, unsupported("unknown video model '%s'", v.Model)
	}
	if p := attr(m, "primary"); p == "yes" && i != 0 {
		// libvirt's parser moves the primary video first.
		return nil, unsupported("only the first video device can be primary")
	}
	for _, f := range []struct {
		name string
		dst  *uint64
	}{{"heads", &vd.heads}, {"ram", &vd.ram}, {"vram", &vd.vram}, {"vram64", &vd.vram64}, {"vgamem", &vd.vgamem}} {
		s := attr(m, f.name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "cannot parse video %s '%s'", f.name, s)
		}
		*f.dst = n
	}
	switch dn := attr(child(e, "driver"), "name"); dn {
	case "vhostuser":
		vd.vhostUser = true
		if v.Model != "virtio" {
			return nil, unsupported("'vhostuser' driver is only supported with 'virtio' device")
		}
		if b.knowsTypes() && !b.caps.HasType("vhost-user-gpu-pci") && !b.caps.HasType("vhost-user-gpu") {
			return nil, unsupported("this QEMU does not support 'vhost-user' video device")
		}
	case "", "qemu":
	default:
		return nil, xmlInvalid("name", "driver", dn, "")
	}
	if acc := child(m, "acceleration"); acc != nil {
		vd.accel3d = attr(acc, "accel3d")
		vd.rendernode = attr(acc, "rendernode")
		if attr(acc, "accel2d") == "yes" {
			return nil, unsupported("qemu does not support the accel2d setting")
		}
		if vd.rendernode != "" && !vd.vhostUser {
			return nil, unsupported("unsupported rendernode accel attribute without 'vhostuser'")
		}
	}
	if r := child(m, "resolution"); r != nil {
		for _, f := range []struct {
			name string
			dst  *uint64
		}{{"x", &vd.xres}, {"y", &vd.yres}} {
			n, err := strconv.ParseUint(attr(r, f.name), 10, 32)
			if err != nil {
				return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError,
					"Invalid value for attribute '%s' in element 'resolution': '%s'. Expected non-negative integer value", f.name, attr(r, f.name))
			}
			*f.dst = n
		}
		if vd.xres == 0 || vd.yres == 0 {
			return nil, unsupported("video resolution values must be greater than 0")
		}
		switch v.Model {
		case "vga", "qxl", "virtio", "bochs":
		default:
			return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "model resolution is not supported")
		}
	}
	if v.Model != "virtio" {
		if err := noVirtioOpts(child(e, "driver")); err != nil {
			return nil, err
		}
	}
	if v.Model == "none" {
		if len(b.def.Devices.Videos) > 1 {
			return nil, unsupported("a 'none' video type must be the only video device defined for the domain")
		}
		return vd, nil
	}
	if v.Model != "qxl" {
		for _, a := range []string{"ram", "vram64", "vgamem"} {
			if attr(m, a) != "" && attr(m, a) != "0" {
				return nil, unsupported("%s attribute only supported for video type qxl", a)
			}
		}
	}
	// Post-parse defaults.
	def := uint64(0)
	switch v.Model {
	case "vga", "cirrus", "vmvga", "bochs":
		def = 16 * 1024
	case "qxl":
		def = 64 * 1024
		if vd.ram == 0 {
			vd.ram = def
		}
		if vd.vgamem == 0 {
			vd.vgamem = 16 * 1024
		}
	}
	if vd.vram == 0 {
		vd.vram = def
	}
	vd.ram, vd.vram = roundPow2(vd.ram), roundPow2(vd.vram)
	// QEMU's checks.
	if v.Model != "qxl" && v.Model != "virtio" {
		if !vd.primary {
			return nil, unsupported("video type '%s' is only valid as primary video device", v.Model)
		}
		if vd.heads != 1 {
			return nil, unsupported("video type '%s' doesn't support multiple 'heads'", v.Model)
		}
	}
	if v.Model == "qxl" && vd.vgamem != 0 {
		if vd.vgamem < 1024 {
			return nil, unsupported("value for 'vgamem' must be at least 1 MiB (1024 KiB)")
		}
		if vd.vgamem != roundPow2(vd.vgamem) {
			return nil, unsupported("value for 'vgamem' must be power of two")
		}
	}
	if (v.Model == "vga" || v.Model == "vmvga") && vd.vram != 0 && vd.vram < 1024 {
		return nil, unsupported("value for 'vram' must be at least 1 MiB (1024 KiB)")
	}
	if vd.accel3d == "yes" && !vd.vhostUser {
		if v.Model != "virtio" {
			return nil, unsupported("3d acceleration is supported only with 'virtio' video device")
		}
		if b.knowsTypes() && !b.caps.Has("virtio-gpu.virgl") && !b.caps.HasType("virtio-gpu-gl-pci") && !b.caps.HasType("virtio-vga-gl") {
			return nil, unsupported("3d acceleration is not supported by this QEMU binary")
		}
	}
	if v.Model == "ramfb" && conf.DeviceAddress(v).Type != "" {
		return nil, unsupported("address not supported for video type ramfb")
	}
	return vd, nil
}

// videoDriver is qemuDeviceVideoGetModel: the VGA-compatible device for
// the primary video, the plain one for the others.
func (b *builder) videoDriver(vd *video) string {
	gl := vd.accel3d == "yes"
	if vd.vhostUser {
		// qemuDomainSupportsVideoVga: the VGA variant when QEMU has it.
		if vd.primary && (!b.knowsTypes() || b.caps.HasType("vhost-user-vga")) {
			return "vhost-user-vga"
		}
		return "vhost-user-gpu-pci"
	}
	if vd.primary {
		switch vd.dev.Model {
		case "vga":
			return "VGA"
		case "cirrus":
			return "cirrus-vga"
		case "vmvga":
			return "vmware-svga"
		case "qxl":
			return "qxl-vga"
		case "bochs":
			return "bochs-display"
		case "ramfb":
			return "ramfb"
		case "virtio":
			if !b.knowsTypes() || b.caps.HasType("virtio-vga") {
				if gl && b.caps.HasType("virtio-vga-gl") {
					return "virtio-vga-gl"
				}
				return "virtio-vga"
			}
		}
	}
	switch vd.dev.Model {
	case "qxl":
		return "qxl"
	case "virtio":
		if gl && b.caps.HasType("virtio-gpu-gl-pci") {
			return "virtio-gpu-gl-pci"
		}
		return "virtio-gpu-pci"
	}
	return ""
}

// emitVideos writes the video devices as qemuBuildDeviceVideoCmd, and
// records libvirt's defaults in the live definition.
func (b *builder) emitVideos() error {
	for i, v := range b.def.Devices.Videos {
		vd, err := b.parseVideo(v, i)
		if err != nil {
			return err
		}
		if v.Model == "none" {
			continue
		}
		drv := b.videoDriver(vd)
		if drv == "" {
			return virerr.New(virerr.FromQemu, virerr.ErrInternalError, "invalid model for video type '%s'", v.Model)
		}
		o := obj{}.set("driver", drv)
		var vuFD int
		if vd.vhostUser {
			if b.p.VhostUserGPU == nil {
				return unsupported("vhost-user video needs a vhost-user-gpu helper, which this host lacks")
			}
			if vuFD, err = b.p.VhostUserGPU(vd.alias, vd.rendernode, vd.accel3d == "yes"); err != nil {
				return err
			}
			b.add("-chardev", fmt.Sprintf("socket,id=chr-vu-%s,fd=%d", vd.alias, vuFD))
		}
		// The VGA variant of vhost-user is not a virtio device to libvirt.
		if v.Model == "virtio" && drv != "vhost-user-vga" {
			if o, err = virtioOpts(o, child(conf.DeviceElement(v), "driver")); err != nil {
				return err
			}
		}
		o = o.set("id", vd.alias)
		if v.Model == "virtio" && vd.accel3d != "" && b.caps.Has("virtio-gpu.virgl") {
			o = o.set("virgl", vd.accel3d == "yes")
		}
		if (v.Model == "qxl" || v.Model == "virtio") && vd.heads > 0 {
			o = o.set("max_outputs", vd.heads)
		}
		switch v.Model {
		case "qxl":
			o = o.set("ram_size", vd.ram*1024).set("vram_size", vd.vram*1024)
			if !b.knowsTypes() || b.caps.Has("qxl.vram64_size_mb") {
				o = o.set("vram64_size_mb", vd.vram64/1024)
			}
			if !b.knowsTypes() || b.caps.Has("qxl.vgamem_mb") {
				o = o.set("vgamem_mb", vd.vgamem/1024)
			}
		case "virtio":
			if vd.vhostUser {
				o = o.set("chardev", "chr-vu-"+vd.alias)
			}
		case "vga", "vmvga":
			if vd.vram/1024 > 0 {
				o = o.set("vgamem_mb", vd.vram/1024)
			}
		case "bochs":
			if vd.vram > 0 {
				o = o.set("vgamem", vd.vram*1024)
			}
		}
		if vd.xres > 0 {
			o = o.set("xres", vd.xres).set("yres", vd.yres)
		}
		if v.Model != "ramfb" {
			o = b.pciProps(o, conf.DeviceAddress(v))
		}
		// The defaults libvirt writes into the live definition.
		if v.Model == "qxl" {
			conf.SetDeviceValue(v, "model/@ram", strconv.FormatUint(vd.ram, 10))
		}
		if vd.vram != 0 {
			conf.SetDeviceValue(v, "model/@vram", strconv.FormatUint(vd.vram, 10))
		}
		if v.Model == "qxl" {
			conf.SetDeviceValue(v, "model/@vgamem", strconv.FormatUint(vd.vgamem, 10))
		}
		conf.SetDeviceValue(v, "model/@heads", strconv.FormatUint(vd.heads, 10))
		if i == 0 {
			conf.SetDeviceValue(v, "model/@primary", "yes")
		}
		b.device(o)
	}
	return nil
}
