package command

import (
	"strconv"

	"govirt/conf"
	"govirt/virerr"
)

// audioDrivers maps <audio type> to QEMU's -audiodev driver.
var audioDrivers = map[string]string{
	"none": "none", "alsa": "alsa", "coreaudio": "coreaudio", "jack": "jack",
	"oss": "oss", "pulseaudio": "pa", "sdl": "sdl", "spice": "spice",
	"file": "wav", "dbus": "dbus",
}

// audioFormats are the sample formats <settings format> takes.
var audioFormats = map[string]bool{"u8": true, "s8": true, "u16": true, "s16": true,
	"u32": true, "s32": true, "f32": true}

// sdlAudioDrivers are libvirt's SDL audio driver names (SDL 2.0's); the
// default backend itself is postparse's.
var sdlAudioDrivers = map[string]bool{"esd": true, "alsa": true, "arts": true, "pulseaudio": true}

// audioByID is virDomainDefFindAudioByID: id 0 means the first backend.
func (b *builder) audioByID(id int) *conf.Audio {
	for _, a := range b.def.Devices.Audios {
		if id == 0 || a.ID == id {
			return a
		}
	}
	return nil
}

// audioRef reads the <audio id> child a sound card or display refers to
// its backend with; 0 when absent.
func audioRef(e *conf.Element) (int, error) {
	a := child(e, "audio")
	if a == nil {
		return 0, nil
	}
	s := attr(a, "id")
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil || n == 0 {
		return 0, virerr.New(virerr.FromDomain, virerr.ErrXMLError,
			"Invalid value for attribute 'id' in element 'audio': '%s'. Expected non-zero value", s)
	}
	return int(n), nil
}

// audioID resolves a reference to the -audiodev id, as qemuGetAudioIDString.
func (b *builder) audioID(ref int) (string, error) {
	if ref > 0 && b.audioByID(ref) == nil {
		return "", virerr.New(virerr.FromDomain, virerr.ErrXMLError, "no audio device with ID %d", ref)
	}
	a := b.audioByID(ref)
	if a == nil {
		return "", virerr.New(virerr.FromQemu, virerr.ErrInternalError, "unable to find audio backend for sound device")
	}
	return "audio" + strconv.Itoa(a.ID), nil
}

// emitAudio writes one -audiodev per <audio>, as qemuBuildAudioCommandLine.
func (b *builder) emitAudio() error {
	seen := map[int]bool{}
	for _, a := range b.def.Devices.Audios {
		if seen[a.ID] {
			return virerr.New(virerr.FromDomain, virerr.ErrXMLError, "audio ID %d is used multiple times", a.ID)
		}
		seen[a.ID] = true
		o, err := b.audiodev(a)
		if err != nil {
			return err
		}
		b.add("-audiodev", o.String())
	}
	return nil
}

func (b *builder) audiodev(a *conf.Audio) (obj, error) {
	e := conf.DeviceElement(a)
	drv, ok := audioDrivers[a.Type]
	if !ok {
		return nil, unsupportedValue("devices/audio", "type", a.Type)
	}
	if a.ID <= 0 {
		return nil, virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Missing required attribute 'id' in element 'audio'")
	}
	switch a.Type {
	case "spice":
		if !b.hasGraphics("spice") {
			return nil, unsupported("Spice audio is not supported without spice graphics")
		}
	case "dbus":
		if !b.caps.Has("display-dbus") {
			return nil, unsupported("D-Bus audio is not supported with this QEMU")
		}
	}
	o := obj{}.set("id", "audio"+strconv.Itoa(a.ID)).set("driver", drv)
	var err error
	if o, err = setUint(o, e, "timerPeriod", "timer-period", "devices/audio"); err != nil {
		return nil, err
	}
	var in, out obj
	if in, err = audioIO(a.Type, child(e, "input"), "input"); err != nil {
		return nil, err
	}
	if out, err = audioIO(a.Type, child(e, "output"), "output"); err != nil {
		return nil, err
	}
	switch a.Type {
	case "oss":
		for _, p := range [][2]string{{"tryMMap", "try-mmap"}, {"exclusive", "exclusive"}} {
			if o, err = setYesNo(o, e, p[0], p[1], "audio"); err != nil {
				return nil, err
			}
		}
		if s := attr(e, "dspPolicy"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, xmlInvalid("dspPolicy", "audio", s, "integer value")
			}
			o = o.set("dsp-policy", n)
		}
	case "pulseaudio":
		o = setStr(o, e, "serverName", "server")
	case "sdl":
		if d := attr(e, "driver"); d != "" {
			if !sdlAudioDrivers[d] {
				return nil, xmlInvalid("driver", "audio", d, "")
			}
			b.extraEnv = append(b.extraEnv, "SDL_AUDIODRIVER="+d)
		}
	case "file":
		o = setStr(o, e, "path", "path")
	}
	if len(in) > 0 {
		o = o.set("in", in)
	}
	if len(out) > 0 {
		o = o.set("out", out)
	}
	return o, nil
}

// audioIO is the "in" or "out" object of an -audiodev: the settings
// common to every backend, then the backend's own.
func audioIO(typ string, e *conf.Element, elem string) (obj, error) {
	if e == nil {
		return nil, nil
	}
	o := obj{}
	var err error
	for _, p := range [][2]string{{"mixingEngine", "mixing-engine"}, {"fixedSettings", "fixed-settings"}} {
		if o, err = setYesNo(o, e, p[0], p[1], elem); err != nil {
			return nil, err
		}
	}
	for _, p := range [][2]string{{"voices", "voices"}, {"bufferLength", "buffer-length"}} {
		if o, err = setUint(o, e, p[0], p[1], elem); err != nil {
			return nil, err
		}
	}
	// The fixed sample settings only count when fixedSettings is on.
	if st := child(e, "settings"); st != nil && attr(e, "fixedSettings") == "yes" {
		for _, p := range []string{"frequency", "channels"} {
			if o, err = setUint(o, st, p, p, "settings"); err != nil {
				return nil, err
			}
		}
		if f := attr(st, "format"); f != "" {
			if !audioFormats[f] {
				return nil, xmlInvalid("format", "settings", f, "")
			}
			o = o.set("format", f)
		}
	}
	switch typ {
	case "alsa":
		o = setStr(o, e, "dev", "dev")
	case "coreaudio", "sdl":
		o, err = setUint(o, e, "bufferCount", "buffer-count", elem)
	case "jack":
		o = setStr(o, e, "serverName", "server-name")
		o = setStr(o, e, "clientName", "client-name")
		o = setStr(o, e, "connectPorts", "connect-ports")
		o, err = setYesNo(o, e, "exactName", "exact-name", elem)
	case "oss":
		o = setStr(o, e, "dev", "dev")
		if o, err = setUint(o, e, "bufferCount", "buffer-count", elem); err == nil {
			o, err = setYesNo(o, e, "tryPoll", "try-poll", elem)
		}
	case "pulseaudio":
		o = setStr(o, e, "name", "name")
		o = setStr(o, e, "streamName", "stream-name")
		o, err = setUint(o, e, "latency", "latency", elem)
	}
	return o, err
}

// xmlInvalid is libvirt's error for an attribute value it cannot parse.
func xmlInvalid(name, elem, value, expected string) error {
	if expected == "" {
		return virerr.New(virerr.FromDomain, virerr.ErrXMLError,
			"Invalid value for attribute '%s' in element '%s': '%s'.", name, elem, value)
	}
	return virerr.New(virerr.FromDomain, virerr.ErrXMLError,
		"Invalid value for attribute '%s' in element '%s': '%s'. Expected %s", name, elem, value, expected)
}

// setUint copies a positive integer attribute ("p:" in libvirt's JSON
// builder: zero is left out).
func setUint(o obj, e *conf.Element, a, key, elem string) (obj, error) {
	s := attr(e, a)
	if s == "" {
		return o, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return o, xmlInvalid(a, elem, s, "non-negative integer value")
	}
	if n == 0 {
		return o, nil
	}
	return o.set(key, n), nil
}

// setYesNo copies a yes/no attribute as a JSON boolean.
func setYesNo(o obj, e *conf.Element, a, key, elem string) (obj, error) {
	switch s := attr(e, a); s {
	case "":
		return o, nil
	case "yes":
		return o.set(key, true), nil
	case "no":
		return o.set(key, false), nil
	default:
		return o, xmlInvalid(a, elem, s, "")
	}
}

func setStr(o obj, e *conf.Element, a, key string) obj {
	if s := attr(e, a); s != "" {
		return o.set(key, s)
	}
	return o
}

func (b *builder) hasGraphics(typ string) bool {
	for _, g := range b.def.Devices.Graphics {
		if g.Type == typ {
			return true
		}
	}
	return false
}

// soundDrivers maps <sound model> to QEMU's device; pcspk is no -device
// and ich7 has no QEMU model.
var soundDrivers = map[string]string{"es1370": "ES1370", "ac97": "AC97", "ich6": "intel-hda",
	"usb": "usb-audio", "ich9": "ich9-intel-hda", "sb16": "sb16"}

// soundCodecs maps <codec type> to the HDA codec device.
var soundCodecs = map[string]string{"duplex": "hda-duplex", "micro": "hda-micro", "output": "hda-output"}

// hasCodecs is virDomainSoundModelSupportsCodecs: the HDA controllers.
func hasCodecs(model string) bool { return model == "ich6" || model == "ich9" }

// checkSounds refuses sound cards libvirt's QEMU driver refuses.
func (b *builder) checkSounds() error {
	for _, s := range b.def.Devices.Sounds {
		switch s.Model {
		case "ich7":
			return virerr.New(virerr.FromQemu, virerr.ErrInternalError, "sound card model '%s' is not supported by qemu", s.Model)
		case "pcspk":
			// libvirt passes it as -soundhw pcspk, which QEMU 7.1 removed.
			return unsupported("sound model 'pcspk' needs -soundhw, which QEMU no longer has")
		case "":
			return virerr.New(virerr.FromDomain, virerr.ErrXMLError, "Missing required attribute 'model' in element 'sound'")
		}
		if _, ok := soundDrivers[s.Model]; !ok {
			return virerr.New(virerr.FromDomain, virerr.ErrXMLError,
				"Invalid value for attribute 'model' in element 'sound': '%s'.", s.Model)
		}
		e := conf.DeviceElement(s)
		if hasCodecs(s.Model) {
			for _, c := range e.Children("codec") {
				if _, ok := soundCodecs[attr(c, "type")]; !ok {
					return virerr.New(virerr.FromDomain, virerr.ErrXMLError,
						"Invalid value for attribute 'type' in element 'codec': '%s'.", attr(c, "type"))
				}
			}
		}
		ref, err := audioRef(e)
		if err != nil {
			return err
		}
		if ref > 0 && b.audioByID(ref) == nil {
			return virerr.New(virerr.FromDomain, virerr.ErrXMLError, "no audio device with ID %d", ref)
		}
	}
	return nil
}

// emitSounds writes the sound cards and their HDA codecs in libvirt's
// order (qemuBuildSoundCommandLine); an HDA controller without codecs
// gets a duplex one.
func (b *builder) emitSounds() error {
	if err := b.checkSounds(); err != nil {
		return err
	}
	for _, s := range b.def.Devices.Sounds {
		e := conf.DeviceElement(s)
		alias := attr(child(e, "alias"), "name")
		ref, _ := audioRef(e)
		o := obj{}.set("driver", soundDrivers[s.Model]).set("id", alias)
		if !hasCodecs(s.Model) {
			id, err := b.audioID(ref)
			if err != nil {
				return err
			}
			o = o.set("audiodev", id)
		}
		switch s.Model {
		case "sb16":
		case "usb":
			// Its port is assigned with the other USB devices'
			// (assignUSB, usb.go).
			a := conf.DeviceAddress(s)
			if a.Type != "usb" {
				return unsupported("sound %s cannot have an address of type '%s'", alias, a.Type)
			}
			var err error
			if o, err = b.usbProps(o, a); err != nil {
				return err
			}
		default:
			o = b.pciProps(o, conf.DeviceAddress(s))
		}
		b.device(o)
		if !hasCodecs(s.Model) {
			continue
		}
		id, err := b.audioID(ref)
		if err != nil {
			return err
		}
		codecs := e.Children("codec")
		if len(codecs) == 0 {
			b.device(obj{}.set("driver", "hda-duplex").set("id", alias+"-codec0").set("bus", alias+".0").
				set("cad", 0).set("audiodev", id))
		}
		for cad, c := range codecs {
			b.device(obj{}.set("driver", soundCodecs[attr(c, "type")]).set("id", alias+"-codec"+strconv.Itoa(cad)).
				set("bus", alias+".0").set("cad", cad).set("audiodev", id))
		}
	}
	return nil
}

// soundPCIDevices are the sound cards that live on PCI, for assignPCI
// (libvirt assigns them right after the network interfaces).
func (b *builder) soundPCIDevices() []pciDev {
	var out []pciDev
	for _, s := range b.def.Devices.Sounds {
		switch s.Model {
		case "sb16", "pcspk", "usb":
			continue
		}
		g, set := rawAddr(s)
		out = append(out, pciDev{"sound " + s.Model, g, set, false})
	}
	return out
}

// pinICH9Sound gives an ich9 sound card without an address the ICH9's own
// HDA function, 00:1b.0, as qemuDomainValidateDevicePCISlotsQ35 does.
func (b *builder) pinICH9Sound(sp *pciSpace) {
	for _, s := range b.def.Devices.Sounds {
		if s.Model == "ich9" && conf.DeviceAddress(s).Type == "" && !sp.slots[[2]uint{0x1b, 0}] {
			// assignPCI reserves it with the other given addresses.
			conf.SetDeviceAddress(s, conf.Address{Type: "pci", Slot: 0x1b})
			return
		}
	}
}
