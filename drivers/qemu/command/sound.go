package command

import (
	"fmt"
	"strconv"

	"govirt/conf"
)

// soundModels maps <sound model> to its QEMU device (qemuBuildSoundDevCmd).
var soundModels = map[string]string{"es1370": "ES1370", "ac97": "AC97", "ich6": "intel-hda",
	"ich9": "ich9-intel-hda", "sb16": "sb16", "usb": "usb-audio"}

// soundCodecs are the HDA codec devices of <codec type>.
var soundCodecs = map[string]string{"duplex": "hda-duplex", "micro": "hda-micro", "output": "hda-output"}

// hdaModel reports a sound model that takes codecs.
func hdaModel(m string) bool { return m == "ich6" || m == "ich9" }

// emitSounds writes each sound card and, for the HDA ones, its codecs (a
// duplex codec when the definition lists none), every one wired to the
// audio backend (qemuBuildSoundCommandLine).
func (b *builder) emitSounds() error {
	for i, s := range b.def.Devices.Sounds {
		e := conf.DeviceElement(s)
		alias := attr(child(e, "alias"), "name")
		if alias == "" {
			alias = fmt.Sprintf("sound%d", i)
		}
		audio, err := b.audioID(child(e, "audio"))
		if err != nil {
			return err
		}
		if s.Model == "pcspk" {
			b.add("-soundhw", "pcspk")
			continue
		}
		drv, ok := soundModels[s.Model]
		if !ok {
			return unsupportedValue("devices/sound", "model", s.Model)
		}
		if s.Model == "usb" {
			return unsupportedValue("devices/sound", "model", s.Model)
		}
		o := obj{}.set("driver", drv).set("id", alias)
		if !hdaModel(s.Model) {
			o = o.set("audiodev", audio)
		}
		b.device(b.pciProps(o, conf.DeviceAddress(s)))
		if !hdaModel(s.Model) {
			continue
		}
		codecs := e.Children("codec")
		if len(codecs) == 0 {
			b.device(codecProps(alias, "hda-duplex", 0, audio))
			continue
		}
		for cad, c := range codecs {
			typ := attr(c, "type")
			dev, ok := soundCodecs[typ]
			if !ok {
				return unsupportedValue("devices/sound/codec", "type", typ)
			}
			b.device(codecProps(alias, dev, cad, audio))
		}
	}
	return nil
}

func codecProps(alias, dev string, cad int, audio string) obj {
	return obj{}.set("driver", dev).set("id", fmt.Sprintf("%s-codec%d", alias, cad)).
		set("bus", alias+".0").set("cad", cad).set("audiodev", audio)
}

// audioID is the QEMU id of the audio backend a device names with
// <audio id='N'/> (the first one when it names none), as
// qemuGetAudioIDString finds it.
func (b *builder) audioID(a *conf.Element) (string, error) {
	id := 1
	if a != nil {
		n, err := strconv.Atoi(attr(a, "id"))
		if err != nil || n < 1 {
			return "", unsupported("invalid audio id '%s'", attr(a, "id"))
		}
		id = n
	}
	for _, au := range b.audios() {
		if attr(au, "id") == strconv.Itoa(id) {
			return "audio" + strconv.Itoa(id), nil
		}
	}
	if a == nil && len(b.audios()) == 0 {
		return "audio1", nil // the default backend emitAudio adds
	}
	return "", unsupported("unable to find audio backend for sound device")
}

// audios are the <audio> elements of the definition.
func (b *builder) audios() []*conf.Element {
	var out []*conf.Element
	for _, d := range b.def.Tree().Children("devices") {
		out = append(out, d.Children("audio")...)
	}
	return out
}

// defaultAudio is the backend libvirt adds when the definition has no
// <audio> (qemuDomainDefSuggestDefaultAudioBackend, with qemu.conf's
// defaults: no host audio for VNC or without graphics): spice when a
// SPICE display is present, none otherwise.
func (b *builder) defaultAudio() string {
	typ := "none"
	for _, g := range b.def.Devices.Graphics {
		switch g.Type {
		case "vnc":
			typ = "none"
		case "spice":
			typ = "spice"
		}
	}
	return typ
}
