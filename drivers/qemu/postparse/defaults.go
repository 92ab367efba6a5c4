package postparse

import (
	"slices"
	"strconv"
	"strings"

	"govirt/conf"
)

// parseOrder puts disks and controllers where libvirt's parser puts
// them: disks by bus, then by target position among disks of the same
// bus (virDomainDiskInsert); controllers by type, then index
// (virDomainControllerInsertPreAlloced).
func (p *pp) parseOrder() error {
	ds := &p.def.Devices
	var disks []*conf.Disk
	for _, d := range ds.Disks {
		at := -1
		for i := len(disks) - 1; i >= 0; i-- {
			o := disks[i]
			if o.TargetBus != d.TargetBus {
				continue
			}
			oi, _ := diskIndex(o.TargetDev)
			di, _ := diskIndex(d.TargetDev)
			if o.TargetDev != "" && d.TargetDev != "" && oi > di {
				at = i
			} else if at == -1 {
				at = i + 1
			}
		}
		if at == -1 {
			at = len(disks)
		}
		disks = slices.Insert(disks, at, d)
	}
	ds.Disks = disks
	var ctrls []*conf.Controller
	for _, c := range ds.Controllers {
		ctrls = insertController(ctrls, c)
	}
	ds.Controllers = ctrls
	return nil
}

// controllerIndexes gives index-less controllers the lowest unused index
// of their type, or their USB2 group's (virDomainAssignControllerIndexes).
func (p *pp) controllerIndexes() error {
	ds := &p.def.Devices
	for i, c := range ds.Controllers {
		if c.Index >= 0 {
			continue
		}
		if i > 0 && usb2(c) {
			var prev *conf.Controller
			for j := i - 1; j >= 0; j-- {
				if ds.Controllers[j].Type == "usb" {
					prev = ds.Controllers[j]
					break
				}
			}
			if prev != nil && usb2(prev) && !slices.ContainsFunc(ds.Controllers, func(o *conf.Controller) bool {
				return o.Type == "usb" && o.Index == prev.Index && o.Model == c.Model
			}) {
				c.Index = prev.Index
				continue
			}
		}
		c.Index = p.unusedIndex(c.Type)
	}
	return nil
}

// insertController places c as virDomainControllerInsertPreAlloced does.
func insertController(list []*conf.Controller, c *conf.Controller) []*conf.Controller {
	at := -1
	for i := len(list) - 1; i >= 0; i-- {
		cur := list[i]
		if cur.Type != c.Type {
			continue
		}
		if c.Index == -1 {
			at = i + 1
			break
		}
		if cur.Index > c.Index {
			at = i
		} else if !isCompanion(c) && isCompanion(cur) && cur.Index == c.Index {
			at = i
		} else if at == -1 {
			at = i + 1
		}
	}
	if at == -1 {
		at = len(list)
	}
	return slices.Insert(slices.Clip(list), at, c)
}

func isCompanion(c *conf.Controller) bool {
	e := conf.DeviceElement(c)
	m := e.Child("master")
	if m != nil {
		return true
	}
	// libvirt's parser gives the ICH9 UHCIs a <master> when they have
	// none, before it places them.
	switch c.Model {
	case "ich9-uhci1", "ich9-uhci2", "ich9-uhci3":
		return c.Type == "usb"
	}
	return false
}

// usb2 reports the ICH9 USB2 controllers, which come in companion
// groups sharing one index.
func usb2(c *conf.Controller) bool {
	if c.Type != "usb" {
		return false
	}
	switch c.Model {
	case "ich9-ehci1", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3":
		return true
	}
	return false
}

func (p *pp) unusedIndex(typ string) int {
	idx := 0
	for _, c := range p.def.Devices.Controllers {
		if c.Type == typ && c.Index >= idx {
			idx = c.Index + 1
		}
	}
	return idx
}

func (p *pp) controller(typ string, idx int) *conf.Controller {
	for _, c := range p.def.Devices.Controllers {
		if c.Type == typ && c.Index == idx {
			return c
		}
	}
	return nil
}

// addController appends a controller, as virDomainDefAddController does
// (unlike parsing, adding does not sort).
func (p *pp) addController(typ string, idx int, model string) *conf.Controller {
	if idx < 0 {
		idx = p.unusedIndex(typ)
	}
	c := &conf.Controller{Type: typ, Index: idx, Model: model}
	p.def.Devices.Controllers = append(slices.Clip(p.def.Devices.Controllers), c)
	return c
}

func (p *pp) maybeAddController(typ string, idx int, model string) bool {
	if idx >= 0 && p.controller(typ, idx) != nil {
		return false
	}
	p.addController(typ, idx, model)
	return true
}

// defaultDevices is qemuDomainDefAddDefaultDevices for x86: the PS/2
// mouse and keyboard, the USB controller, the q35 SATA controller, the
// PCI root, the balloon and the audio backend.
func (p *pp) defaultDevices() error {
	ds := &p.def.Devices
	p.maybeAddInput("mouse", "ps2")
	p.maybeAddInput("keyboard", "ps2")
	if p.def.OS.Machine != "isapc" {
		if p.controller("usb", 0) == nil {
			model := ""
			if p.q35 {
				switch {
				case p.caps.Has("qemu-xhci") || p.caps.HasType("qemu-xhci"):
					model = "qemu-xhci"
				case p.caps.Has("nec-usb-xhci") || p.caps.HasType("nec-usb-xhci"):
					model = "nec-xhci"
				case p.caps.Has("ich9-usb-ehci1") || p.caps.HasType("ich9-usb-ehci1"):
					model = "ich9-ehci1"
				default:
					model = "skip"
				}
			}
			if model != "skip" {
				p.addController("usb", 0, model)
			}
			// virDomainDefAddUSBController: an EHCI controller comes
			// with its three UHCI companions.
			if model == "ich9-ehci1" {
				for i, m := range []string{"ich9-uhci1", "ich9-uhci2", "ich9-uhci3"} {
					c := p.addController("usb", 0, m)
					conf.SetDeviceValue(c, "master/@startport", strconv.Itoa(2*i))
				}
			}
		}
		if p.q35 {
			p.maybeAddController("sata", 0, "")
		}
		root := "pci-root"
		if p.q35 {
			root = "pcie-root"
		}
		if c := p.controller("pci", 0); c != nil {
			if c.Model != root {
				return xmlError("The PCI controller with index='0' must be model='%s' for this machine type, but model='%s' was found instead", root, c.Model)
			}
		} else {
			p.addController("pci", 0, root)
		}
	}
	if ds.MemBalloon == nil {
		ds.MemBalloon = &conf.MemBalloon{Model: "virtio"}
	}
	return p.defaultAudio()
}

func (p *pp) maybeAddInput(typ, bus string) {
	ds := &p.def.Devices
	if slices.ContainsFunc(ds.Inputs, func(i *conf.Input) bool { return i.Type == typ && i.Bus == bus }) {
		return
	}
	ds.Inputs = append(slices.Clip(ds.Inputs), &conf.Input{Type: typ, Bus: bus})
}

// audioDrivers maps <audio type> to QEMU's -audiodev driver names, which
// QEMU_AUDIO_DRV uses.
var audioDrivers = map[string]string{
	"none": "none", "alsa": "alsa", "coreaudio": "coreaudio", "jack": "jack",
	"oss": "oss", "pulseaudio": "pa", "sdl": "sdl", "spice": "spice",
	"file": "wav", "dbus": "dbus",
}

// defaultAudio gives a definition without <audio> the backend libvirt
// picks from its displays (qemuDomainDefSuggestDefaultAudioBackend):
// SPICE audio for SPICE, none for VNC and for no display, unless
// qemu.conf lets the guest use host audio, in which case the daemon's
// QEMU_AUDIO_DRV names it (and nothing is added when that is unset).
func (p *pp) defaultAudio() error {
	ds := &p.def.Devices
	if len(ds.Audios) > 0 {
		return nil
	}
	cfg := &p.opts.Audio
	add, passthrough, typ := false, false, "none"
	for _, g := range ds.Graphics {
		switch g.Type {
		case "vnc":
			passthrough, add = cfg.VNCAllowHostAudio, true
			if !passthrough {
				typ = "none"
			}
		case "spice":
			passthrough, add, typ = false, true, "spice"
		case "sdl":
			passthrough, add = true, true
		}
	}
	if len(ds.Graphics) == 0 {
		passthrough, add = cfg.NogfxAllowHostAudio, true
		if !passthrough {
			typ = "none"
		}
	}
	if add && passthrough {
		if cfg.DriverEnv == "" {
			add = false
		} else {
			typ = ""
			for t, drv := range audioDrivers {
				if drv == cfg.DriverEnv {
					typ = t
				}
			}
			if typ == "" {
				return unsupported("unknown QEMU_AUDIO_DRV setting %s", cfg.DriverEnv)
			}
		}
	}
	if !add {
		return nil
	}
	a := &conf.Audio{ID: 1, Type: typ}
	if typ == "sdl" && cfg.SDLDriverEnv != "" {
		switch cfg.SDLDriverEnv {
		case "esd", "alsa", "arts", "pulseaudio":
		default:
			return unsupported("unknown SDL_AUDIODRIVER setting %s", cfg.SDLDriverEnv)
		}
		conf.SetDeviceValue(a, "@driver", cfg.SDLDriverEnv)
	}
	ds.Audios = append(slices.Clip(ds.Audios), a)
	return nil
}

// diskIndex is the position a target name stands for: vda=0, sdb=1,
// hdaa=26, as virDiskNameToIndex computes it.
func diskIndex(dev string) (int, bool) {
	var rest string
	for _, pfx := range []string{"vd", "sd", "hd", "fd", "xvd", "ubd"} {
		if strings.HasPrefix(dev, pfx) {
			rest = dev[len(pfx):]
			break
		}
	}
	if rest == "" {
		return -1, false
	}
	idx := 0
	for i, r := range rest {
		if r < 'a' || r > 'z' {
			return -1, false
		}
		if i > 0 {
			idx = (idx + 1) * 26
		}
		idx += int(r - 'a')
	}
	return idx, true
}

// devicePostParse applies the per-device defaults of libvirt's device
// post-parse callbacks (virDomainDeviceDefPostParse and
// qemuDomainDeviceDefPostParse) that this package covers.
func (p *pp) devicePostParse() error {
	ds := &p.def.Devices
	for _, d := range ds.Disks {
		if err := p.diskPostParse(d); err != nil {
			return err
		}
	}
	for _, c := range ds.Controllers {
		p.controllerPostParse(c)
	}
	for _, g := range ds.Graphics {
		graphicsListen(g)
	}
	for _, n := range ds.Interfaces {
		if n.MAC == "" {
			n.MAC = conf.GenerateMAC()
		}
		switch {
		case n.Model == "" && n.Type == "vdpa":
			n.Model = "virtio" // a vDPA device is virtio by nature
		case n.Model == "" && n.Type != "hostdev":
			n.Model = "rtl8139"
		}
	}
	for _, in := range ds.Inputs {
		if in.Bus == "" {
			switch in.Type {
			case "mouse", "keyboard":
				in.Bus = "ps2"
			case "tablet":
				in.Bus = "usb"
			}
		}
	}
	for _, r := range p.def.RawDevices() {
		// qemuDomainVsockDefPostParse.
		if r.Kind == "vsock" && rawAttr(r, "model") == "" {
			conf.SetDeviceValue(r, "@model", "virtio")
		}
		// libvirt always writes managed= on subsystem hostdevs.
		if r.Kind == "hostdev" && rawAttr(r, "mode") == "subsystem" && rawAttr(r, "managed") == "" {
			conf.SetDeviceValue(r, "@managed", "no")
			conf.OrderDeviceAttrs(r, "", "mode", "type", "managed")
		}
		if r.Kind == "tpm" {
			tpmPostParse(r, p.def.OS.Arch)
		}
		// virDomainFSDefPostParse: passthrough unless served by an
		// external virtiofsd socket.
		if r.Kind == "filesystem" && rawAttr(r, "accessmode") == "" && rawAttr(r, "source", "socket") == "" {
			conf.SetDeviceValue(r, "@accessmode", "passthrough")
			conf.OrderDeviceAttrs(r, "", "type", "accessmode", "model", "multidevs", "fmode", "dmode")
		}
	}
	for _, list := range [][]*conf.Chardev{ds.Serials, ds.Consoles, ds.Channels} {
		for _, c := range list {
			chardevSource(c)
		}
	}
	assignSerialPorts(ds.Serials)
	for _, s := range ds.Serials {
		serialPostParse(s)
	}
	return nil
}

// assignSerialPorts gives a serial that names no target port the port
// after the highest any serial has, in document order
// (virDomainChrDefPostParse): an unnamed one before a port='0' gets 1.
func assignSerialPorts(list []*conf.Chardev) {
	ports := make([]int, len(list))
	for i, c := range list {
		ports[i] = -1
		if t := conf.DeviceElement(c).Child("target"); t != nil {
			if _, ok := t.Attr("port"); ok {
				ports[i] = c.TargetPort
			}
		}
	}
	for i, c := range list {
		if ports[i] != -1 {
			continue
		}
		maxport := -1
		for _, p := range ports {
			maxport = max(maxport, p)
		}
		ports[i] = maxport + 1
		c.TargetPort = ports[i]
		conf.SetDeviceValue(c, "target/@port", strconv.Itoa(ports[i]))
	}
}

// graphicsListen is the parser's compatibility listen: VNC and SPICE
// (and RDP) without a <listen> get one from the listen (or VNC socket)
// attribute, as virDomainGraphicsListensParseXML does.
// spiceListenNone is virDomainDefPostParseGraphics: a SPICE display
// without ports and without autoport listens nowhere, which libvirt
// writes as listen type none.
func spiceListenNone(g *conf.Graphics) {
	l := conf.DeviceElement(g).Child("listen")
	// A port of -1 (allocate this one) is a port here too.
	if g.Type != "spice" || l == nil || g.AutoPort || g.Port != 0 || g.TLSPort != 0 {
		return
	}
	if t, _ := l.Attr("type"); t != "address" {
		return
	}
	g.Listen = ""
	conf.SetDeviceValue(g, "listen/@address", "")
	conf.SetDeviceValue(g, "listen/@type", "none")
}

func graphicsListen(g *conf.Graphics) {
	switch g.Type {
	case "vnc", "spice", "rdp":
	default:
		return
	}
	switch g.Type {
	case "vnc":
		vncPorts(g)
	case "spice":
		spicePorts(g)
	default:
		if g.AutoPort {
			conf.SetDeviceValue(g, "@autoport", "yes")
		}
	}
	// virDomainGraphicsDefFormat's order.
	conf.OrderDeviceAttrs(g, "", "type", "socket", "port", "tlsPort", "autoport", "websocket", "listen")
	defer listenAttr(g)
	defer spiceListenNone(g)
	if conf.DeviceElement(g).Child("listen") != nil {
		return
	}
	if g.Type == "vnc" && g.Socket != "" {
		conf.SetDeviceValue(g, "listen/@type", "socket")
		conf.SetDeviceValue(g, "listen/@socket", g.Socket)
		return
	}
	conf.SetDeviceValue(g, "listen/@type", "address")
	if g.Listen != "" {
		conf.SetDeviceValue(g, "listen/@address", g.Listen)
	}
}

// chardevSource drops a unix source that says nothing but mode='bind':
// libvirt generates the path when the guest starts and does not write
// the empty source back.
func chardevSource(c *conf.Chardev) {
	if c.Type != "unix" || c.SourcePath != "" {
		return
	}
	src := conf.DeviceElement(c).Child("source")
	if src == nil || len(src.Children("")) > 0 {
		return
	}
	if a := src.Attrs(); len(a) == 1 && a[0] == "mode" && c.SourceMode == "bind" {
		c.SourceMode = ""
		conf.SetDeviceValue(c, "source/@mode", "")
	}
}

func serialPostParse(s *conf.Chardev) {
	if s.TargetType == "" || s.TargetType == "isa-serial" {
		e := conf.DeviceElement(s)
		if t := e.Child("target"); t == nil || t.Child("model") == nil {
			s.TargetType = "isa-serial"
			conf.SetDeviceValue(s, "target/@type", "isa-serial")
			conf.SetDeviceValue(s, "target/@port", strconv.Itoa(s.TargetPort))
			conf.SetDeviceValue(s, "target/model/@name", "isa-serial")
		}
	}
	conf.OrderDeviceAttrs(s, "target", "type", "port")
}

// diskPostParse: driver qemu, format raw (qemuDomainDeviceDiskDefPostParse)
// and the drive address the target name implies
// (virDomainDiskDefAssignAddress).
func (p *pp) diskPostParse(d *conf.Disk) error {
	if d.DriverName == "" {
		d.DriverName = "qemu"
	}
	if d.Source.Format == "" && d.Source.Type != "volume" {
		d.Source.Format = "raw"
	}
	// Written in libvirt's attribute order (virDomainDiskDefFormatDriver).
	conf.SetDeviceValue(d, "driver/@name", d.DriverName)
	conf.SetDeviceValue(d, "driver/@type", d.Source.Format)
	conf.OrderDeviceAttrs(d, "driver", "name", "type", "cache", "error_policy", "rerror_policy",
		"io", "ioeventfd", "event_idx", "copy_on_read", "discard", "iothread", "detect_zeroes",
		"queues", "queue_size")
	// virStorageSourceNetworkAssignDefaultPorts, for a single TCP host.
	if d.Source.Type == "network" {
		if src := conf.DeviceElement(d).Child("source"); src != nil {
			hosts := src.Children("host")
			if len(hosts) == 1 {
				h := hosts[0]
				_, hasPort := h.Attr("port")
				tr, _ := h.Attr("transport")
				if !hasPort && (tr == "" || tr == "tcp") {
					if port := defaultNetPort[d.Source.Protocol]; port != "" {
						conf.SetDeviceValue(d, "source/host/@port", port)
					}
				}
			}
		}
	}
	for _, path := range []string{"encryption", "source/encryption", "backingStore/source/encryption"} {
		var e *conf.Element
		e = conf.DeviceElement(d)
		for _, part := range strings.Split(path, "/") {
			if e == nil {
				break
			}
			e = e.Child(part)
		}
		if e == nil {
			continue
		}
		// qemuDomainDeviceDiskDefPostParse: LUKS is done by QEMU.
		if _, ok := e.Attr("engine"); !ok {
			if f, _ := e.Attr("format"); f == "luks" {
				conf.SetDeviceValue(d, path+"/@engine", "qemu")
				conf.OrderDeviceAttrs(d, path, "format", "engine")
			}
		}
	}
	if d.Address.Type != "" {
		return nil
	}
	idx, ok := diskIndex(d.TargetDev)
	switch d.TargetBus {
	case "ide", "sata", "scsi", "fdc":
	default:
		return nil
	}
	if !ok {
		return xmlError("Unknown disk name '%s' and no address specified", d.TargetDev)
	}
	a := conf.Address{Type: "drive"}
	switch d.TargetBus {
	case "ide":
		a.Controller, a.Bus, a.Unit = uint(idx/4), uint(idx%4/2), uint(idx%2)
	case "sata":
		a.Controller, a.Unit = uint(idx/6), uint(idx%6)
	case "scsi":
		a.Controller, a.Unit = uint(idx/7), uint(idx%7)
	case "fdc":
		a.Unit = uint(idx)
	}
	d.Address = a
	return nil
}

// controllerPostParse: model defaults (qemuDomainControllerDefPostParse).
func (p *pp) controllerPostParse(c *conf.Controller) {
	defer func() {
		conf.SetDeviceValue(c, "@type", c.Type)
		conf.SetDeviceValue(c, "@index", strconv.Itoa(c.Index))
		conf.SetDeviceValue(c, "@model", c.Model)
		conf.OrderDeviceAttrs(c, "", "type", "index", "model")
	}()
	switch c.Type {
	case "usb":
		if c.Model == "" && (p.caps.Has("piix3-usb-uhci") || p.caps.HasType("piix3-usb-uhci")) {
			c.Model = "piix3-uhci"
		}
	case "scsi":
		if c.Model == "" {
			// qemuDomainGetSCSIControllerModel for x86.
			switch {
			case p.caps.Has("lsi") || p.caps.HasType("lsi53c895a"):
				c.Model = "lsilogic"
			case p.caps.Has("virtio-scsi-pci") || p.caps.HasType("virtio-scsi-pci"):
				c.Model = "virtio-scsi"
			}
		}
	}
}

// defaultNetPort is virStorageSourceNetworkDefaultPort.
var defaultNetPort = map[string]string{
	"http": "80", "https": "443", "ftp": "21", "ftps": "990", "tftp": "69",
	"sheepdog": "7000", "nbd": "10809", "ssh": "22", "iscsi": "3260",
	"gluster": "24007", "vxhs": "9999",
}

// portAttr is a port attribute of g as written, 0 when absent (or not a
// number, which the command line builder refuses).
func portAttr(g *conf.Graphics, name string) int {
	v, _ := conf.DeviceElement(g).Attr(name)
	n, _ := strconv.Atoi(v)
	return n
}

// vncPorts is what libvirt's parser makes of a VNC display's port and
// autoport in a definition (virDomainGraphicsDefParseXMLVNC with
// VIR_DOMAIN_DEF_PARSE_INACTIVE) and its formatter writes back: no port
// or port -1 asks for automatic allocation unless autoport='no' says
// otherwise, autoport='yes' drops any port, and the result is written as
// port='-1' autoport='yes', port='N' autoport='no' or autoport='no'
// alone. Applied again, it changes nothing.
func vncPorts(g *conf.Graphics) {
	e := conf.DeviceElement(g)
	_, hasPort := e.Attr("port")
	auto, hasAuto := e.Attr("autoport")
	port := portAttr(g, "port")
	autoport := !hasPort || port == -1
	if port == -1 {
		port = 0
	}
	if hasAuto {
		// An unknown value leaves the parser's guess (libvirt ignores
		// virStringParseYesNo's failure).
		switch auto {
		case "yes":
			autoport = true
		case "no":
			autoport = false
		}
		if autoport {
			port = 0
		}
	}
	g.AutoPort = autoport
	switch {
	case autoport:
		g.Port = -1
		conf.SetDeviceValue(g, "@port", "-1")
	case port != 0:
		g.Port = port
		conf.SetDeviceValue(g, "@port", strconv.Itoa(port))
	default:
		g.Port = 0
		conf.SetDeviceValue(g, "@port", "")
	}
	conf.SetDeviceValue(g, "@autoport", yesNo(autoport))
}

// spicePorts is the same for SPICE (virDomainGraphicsDefParseXMLSpice):
// autoport is only what the attribute says, or port and tlsPort both
// -1 (the legacy spelling virt-install writes); with autoport both ports
// are dropped, and autoport is always written (yes or no). A single port
// of -1 without autoport stays: it asks for that one port to be
// allocated at start.
func spicePorts(g *conf.Graphics) {
	auto, _ := conf.DeviceElement(g).Attr("autoport")
	port, tls := portAttr(g, "port"), portAttr(g, "tlsPort")
	autoport := auto == "yes" || (port == -1 && tls == -1)
	if autoport {
		port, tls = 0, 0
	}
	g.AutoPort = autoport
	// conf's Graphics reads an absent port of an autoport display as -1.
	g.Port, g.TLSPort = port, tls
	if autoport {
		g.Port = -1
	}
	for name, v := range map[string]int{"port": port, "tlsPort": tls} {
		val := ""
		if v != 0 {
			val = strconv.Itoa(v)
		}
		conf.SetDeviceValue(g, "@"+name, val)
	}
	conf.SetDeviceValue(g, "@autoport", yesNo(autoport))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// listenAttr is the compatibility attribute libvirt's formatter writes
// on <graphics> from its first <listen>: listen= for an address
// (virDomainGraphicsListenDefFormatAddr), VNC's socket= for a socket.
func listenAttr(g *conf.Graphics) {
	l := conf.DeviceElement(g).Child("listen")
	if l == nil {
		return
	}
	switch t, _ := l.Attr("type"); t {
	case "address":
		if a, _ := l.Attr("address"); a != "" {
			g.Listen = a
			conf.SetDeviceValue(g, "@listen", a)
		}
	case "socket":
		if s, _ := l.Attr("socket"); s != "" && g.Type == "vnc" {
			g.Socket = s
			conf.SetDeviceValue(g, "@socket", s)
		}
	}
}

// tpmPostParse is qemuDomainTPMDefPostParse: the frontend model and the
// emulator's version are fixed at define (TPM 1.2 and 2.0 state are not
// compatible, so the version must not change under a guest).
func tpmPostParse(r *conf.RawDevice, arch string) {
	model := rawAttr(r, "model")
	if model == "" {
		model = "tpm-tis"
		if arch == "ppc64" || arch == "ppc64le" {
			model = "tpm-spapr"
		}
		conf.SetDeviceValue(r, "@model", model)
	}
	if rawAttr(r, "backend", "type") == "emulator" && rawAttr(r, "backend", "version") == "" {
		v := "1.2"
		if model == "tpm-spapr" || model == "tpm-crb" {
			v = "2.0"
		}
		conf.SetDeviceValue(r, "backend/@version", v)
		conf.OrderDeviceAttrs(r, "backend", "type", "version", "persistent_state")
	}
}
