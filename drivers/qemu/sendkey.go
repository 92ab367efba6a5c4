package qemu

import (
	"context"
	"fmt"
	"govirt/internal/keycode"
	"time"

	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// DomainSendKey is qemuDomainSendKey: the codes are translated to qnum,
// then sent with send-key in a modify job.
func (c *conn) DomainSendKey(h driver.Domain, codeset, holdtime uint32, keycodes []uint32, flags uint32) error {
	if codeset >= keycode.Sets {
		return virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg, fmt.Sprintf("Unsupported codeset '%d'", codeset))
	}
	if flags != 0 {
		return errFlagsFn(flags, "qemuDomainSendKey")
	}
	keys := append([]uint32(nil), keycodes...)
	if codeset != keycode.QNUM {
		for i, k := range keys {
			q := keycode.Translate(int(codeset), keycode.QNUM, k)
			if q < 0 {
				return errQEMU(virerr.ErrInternalError, "cannot translate keycode %d of %s codeset to qnum keycode", k, keycode.Names[codeset])
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
