package postparse

import (
	"fmt"
	"os"
	"strconv"

	"govirt/conf"
)

// sysPCIDevices is where the host's PCI functions are (a variable for
// tests with a fake sysfs).
var sysPCIDevices = "/sys/bus/pci/devices"

// hostPCIFlags are the connect flags of a PCI hostdev
// (qemuDomainDeviceCalculatePCIConnectFlags): on a PCIe machine, a
// function that is conventional PCI on the host goes to a conventional
// slot; one that is PCIe, or that cannot be looked at (not on this host),
// to a PCIe slot. A guest address given already makes the check moot.
func (p *pp) hostPCIFlags(h *conf.RawDevice, a conf.Address) int {
	if !p.q35 || present(a) {
		return p.pcieFlags()
	}
	src := conf.DeviceElement(h).Child("source")
	if src == nil || src.Child("address") == nil {
		return p.pcieFlags()
	}
	ad := src.Child("address")
	get := func(n string) string { v, _ := ad.Attr(n); return v }
	addr, ok := hostPCIName(get("domain"), get("bus"), get("slot"), get("function"))
	if !ok {
		return p.pcieFlags()
	}
	cfg, err := os.ReadFile(sysPCIDevices + "/" + addr + "/config")
	if err != nil || isPCIExpress(cfg) {
		return p.pcieFlags()
	}
	return p.pciFlags()
}

// isPCIExpress walks the config space's capability list for the PCI
// Express capability (ID 0x10), as virPCIDeviceIsPCIExpress.
func isPCIExpress(cfg []byte) bool {
	const statusReg, capList, capPtr, capExp = 0x06, 0x10, 0x34, 0x10
	if len(cfg) < 0x40 || cfg[statusReg]&capList == 0 {
		return false
	}
	pos := int(cfg[capPtr]) &^ 3
	for n := 0; pos >= 0x40 && pos+1 < len(cfg) && n < 48; n++ {
		if cfg[pos] == capExp {
			return true
		}
		pos = int(cfg[pos+1]) &^ 3
	}
	return false
}

// hostPCIName formats a host PCI address as sysfs names it.
func hostPCIName(dom, bus, slot, fn string) (string, bool) {
	var v [4]uint64
	for i, s := range []string{dom, bus, slot, fn} {
		if s == "" && i == 0 {
			continue
		}
		x, err := parseUint(s)
		if err != nil {
			return "", false
		}
		v[i] = x
	}
	return sprintfPCI(v), true
}

func parseUint(s string) (uint64, error) { return strconv.ParseUint(s, 0, 32) }

func sprintfPCI(v [4]uint64) string {
	return fmt.Sprintf("%04x:%02x:%02x.%x", v[0], v[1], v[2], v[3])
}
