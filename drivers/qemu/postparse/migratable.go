package postparse

import (
	"bytes"

	"govirt/conf"
)

// ClearDefaultAudio drops the only <audio> of def when it is the one the
// defaults would have added (libvirt's qemuDomainDefClearDefaultAudioBackend,
// done on migratable XML: older libvirt knows no <audio>).
func ClearDefaultAudio(def *conf.Domain, opts Options) {
	if len(def.Devices.Audios) != 1 {
		return
	}
	probe := *def
	probe.Devices.Audios = nil
	p := &pp{def: &probe, opts: opts}
	if p.defaultAudio() != nil || len(probe.Devices.Audios) != 1 {
		return
	}
	want := conf.DeviceElement(probe.Devices.Audios[0]).XML()
	if bytes.Equal(conf.DeviceElement(def.Devices.Audios[0]).XML(), want) {
		def.Devices.Audios = nil
	}
}

// DropMigratableInputs drops the PS/2 and Xen keyboards, which libvirt
// leaves out of migratable XML (virDomainInputDefFormat) for older
// versions that added them implicitly.
func DropMigratableInputs(def *conf.Domain) {
	var keep []*conf.Input
	for _, in := range def.Devices.Inputs {
		if in.Type == "keyboard" && (in.Bus == "ps2" || in.Bus == "xen") {
			continue
		}
		keep = append(keep, in)
	}
	def.Devices.Inputs = keep
}
