package command

import (
	"strconv"
)

// -boot as qemuBuildBootCommandLine writes it: the boot menu and its
// timeout, the BIOS reboot timeout, always strict=on (boot order itself
// goes on the devices as bootindex).
func (b *builder) emitBoot() error {
	os := child(b.tree(), "os")
	s := ""
	if bm := child(os, "bootmenu"); bm != nil {
		switch en := attr(bm, "enable"); en {
		case "yes":
			s += "menu=on,"
		case "no":
			s += "menu=off,"
		default:
			return xmlError("Invalid value for attribute 'enable' in element 'bootmenu': '%s'. Expected yes/no", en)
		}
	}
	if bios := child(os, "bios"); bios != nil {
		if rt := attr(bios, "rebootTimeout"); rt != "" {
			n, err := strconv.Atoi(rt)
			if err != nil || n < -1 || n > 65535 {
				return xmlError("invalid value for rebootTimeout, must be in range [-1,65535]")
			}
			s += "reboot-timeout=" + strconv.Itoa(n) + ","
		}
		switch us := attr(bios, "useserial"); us {
		case "", "yes", "no":
		default:
			return xmlError("Invalid value for attribute 'useserial' in element 'bios': '%s'. Expected yes/no", us)
		}
	}
	if bm := child(os, "bootmenu"); bm != nil && attr(bm, "enable") == "yes" {
		if t := attr(bm, "timeout"); t != "" {
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
