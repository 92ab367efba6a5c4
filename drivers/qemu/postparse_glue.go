package qemu

import (
	"context"
	"errors"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/drivers/qemu/postparse"
	"govirt/virerr"
)

// applyPostParse gives a definition being defined or created what
// libvirt's QEMU driver fills in when it parses one (machine type,
// default CPU, implicit controllers and devices, addresses), so
// `dumpxml` of an inactive guest shows libvirt's result and the stored
// definition keeps its addresses from run to run.
//
// libvirt's own refusals among those steps fail the call. Where the
// step meets something govirt's address assignment does not model
// (ErrConfigUnsupported), the definition is kept as written: libvirt
// accepts it, and start applies the same step again and refuses it
// there if the builder cannot run it either. When the emulator cannot
// be probed the definition is kept as written too, and start reports
// the probe failure.
func (d *Driver) applyPostParse(def *conf.Domain) error {
	command.DefaultNVRAM(def, d.dirs.nvram)
	command.SortFirmwareFeatures(def)
	emu := def.Devices.Emulator
	if emu == "" {
		emu = d.cfg.Emulator
	}
	qc, err := d.caps.get(context.Background(), emu)
	if err != nil {
		d.log.Warn("definition kept without post-parse defaults", "domain", def.Name, "err", err)
		return nil
	}
	work := def.Clone()
	if err := postparse.ApplyWith(work, qc, postparse.Options{Audio: d.audioDefaults(), NewDomain: true}); err != nil {
		if r := postparse.Refusal(err); r != nil {
			return r
		}
		var ve *virerr.Error
		if errors.As(err, &ve) && ve.Code == virerr.ErrConfigUnsupported {
			d.log.Info("definition kept without post-parse defaults", "domain", def.Name, "err", err)
			return nil
		}
		return err
	}
	*def = *work
	return nil
}

// validateDefine makes the checks libvirt makes on a definition it
// parses (define, create) beyond the post-parse step: firmware and TPM
// (command.ValidateDefine). Without the emulator's capabilities the
// checks needing them wait for start.
func (d *Driver) validateDefine(def *conf.Domain) error {
	emu := def.Devices.Emulator
	if emu == "" {
		emu = d.cfg.Emulator
	}
	var c command.Caps
	if qc, err := d.caps.get(context.Background(), emu); err == nil {
		c = qc
	}
	return command.ValidateDefine(def, c)
}
