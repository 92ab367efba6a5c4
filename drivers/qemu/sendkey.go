package qemu

import (
	"context"
	"fmt"
	"time"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// Key codesets (virKeycodeSet) and their tables, as libvirt's
// virkeycode.c maps them: XT shares AT set 1's table, RFB is QNUM.
var keycodeTables = [...]*[454]uint16{
	0: &keycodes_linux,
	1: &keycodes_atset1, // xt
	2: &keycodes_atset1,
	3: &keycodes_atset2,
	4: &keycodes_atset3,
	5: &keycodes_osx,
	6: &keycodes_xtkbd,
	7: &keycodes_usb,
	8: &keycodes_win32,
	9: &keycodes_qnum,
}

var keycodeSetNames = [...]string{"linux", "xt", "atset1", "atset2", "atset3", "os_x", "xt_kbd", "usb", "win32", "qnum"}

const keycodeSetQNUM = 9

// translateKeycode is virKeycodeValueTranslate: the first Linux key whose
// code in from is v, in to's codeset; -1 when there is none.
func translateKeycode(from, to int, v uint32) int {
	for i := range keycodeTables[from] {
		if uint32(keycodeTables[from][i]) == v {
			return int(keycodeTables[to][i])
		}
	}
	return -1
}

// DomainSendKey is qemuDomainSendKey: the codes are translated to qnum,
// then sent with send-key in a modify job.
func (c *conn) DomainSendKey(h driver.Domain, codeset, holdtime uint32, keycodes []uint32, flags uint32) error {
	if codeset >= uint32(len(keycodeTables)) {
		return virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, fmt.Sprintf("Unsupported codeset '%d'", codeset))
	}
	if len(keycodes) == 0 {
		return virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, "nkeycodes in virDomainSendKey must be greater than zero")
	}
	if flags != 0 {
		return errFlagsFn(flags, "qemuDomainSendKey")
	}
	keys := append([]uint32(nil), keycodes...)
	if codeset != keycodeSetQNUM {
		for i, k := range keys {
			q := translateKeycode(int(codeset), keycodeSetQNUM, k)
			if q < 0 {
				return errQEMU(virerr.ErrInternalError, "cannot translate keycode %d of %s codeset to qnum keycode", k, keycodeSetNames[codeset])
			}
			keys[i] = uint32(q)
		}
	}
	return c.withJob(h, "send key", func(v *vm, mon monitor) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := qmp.SendKey(ctx, mon, keys, holdtime); err != nil {
			return errQEMU(virerr.ErrInternalError, "%v", err)
		}
		return nil
	})
}
