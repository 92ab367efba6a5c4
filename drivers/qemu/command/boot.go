package command

import (
	"strconv"

	"govirt/virerr"
)

// emitBoot writes -boot: the boot menu and its timeout, the BIOS reboot
// timeout, and strict=on (only the devices given a boot index boot).
func (b *builder) emitBoot() error {
	os := child(b.def.Tree(), "os")
	s := ""
	if m := child(os, "bootmenu"); m != nil {
		switch v := attr(m, "enable"); v {
		case "yes":
			s += "menu=on,"
		case "no":
			s += "menu=off,"
		}
	}
	if bios := child(os, "bios"); bios != nil {
		if rt := attr(bios, "rebootTimeout"); rt != "" {
			n, err := strconv.Atoi(rt)
			if err != nil || n < -1 || n > 65535 {
				return virerr.New(virerr.FromDomain, virerr.ErrXMLError,
					"invalid value for rebootTimeout, must be in range [-1,65535]")
			}
			s += "reboot-timeout=" + rt + ","
		}
	}
	if m := child(os, "bootmenu"); m != nil {
		if t := attr(m, "timeout"); t != "" {
			n, err := strconv.ParseUint(t, 10, 32)
			if err != nil || n > 65535 {
				return unsupported("invalid value for boot menu timeout, must be in range [0,65535]")
			}
			s += "splash-time=" + strconv.FormatUint(n, 10) + ","
		}
	}
	b.add("-boot", s+"strict=on")
	return nil
}
