package conf

import (
	"strconv"
	"strings"

	"govirt/virerr"
)

// checkDevices applies the structural checks libvirt's parser makes on
// device XML regardless of driver, with libvirt's messages. Driver-level
// checks (what the hypervisor supports) are not conf's business.
func checkDevices(devs *node) error {
	for _, dev := range devs.elems() {
		switch dev.name {
		case "controller":
			if s, ok := dev.get("@index"); ok {
				if v, err := strconv.Atoi(strings.TrimSpace(s)); err != nil || v < 0 {
					return xmlErr("Invalid value for attribute 'index' in element 'controller': '%s'. Expected non-negative value", s)
				}
			}
		case "interface":
			if s, ok := dev.get("driver/@queues"); ok {
				if _, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32); err != nil {
					return xmlErr("Invalid value for attribute 'queues' in element 'driver': '%s'. Expected non-negative integer value", s)
				}
			}
		case "tpm":
			if dev.child("backend") == nil {
				return xmlErr("missing TPM device backend")
			}
		}
		if err := checkAddresses(dev); err != nil {
			return err
		}
	}
	return nil
}

func xmlErr(format string, args ...any) error {
	return virerr.New(virerr.FromDomain, virerr.ErrXMLError, format, args...)
}

// checkAddresses validates every <address> below n: PCI coordinates in
// range and USB port paths of at most four dotted levels.
func checkAddresses(n *node) error {
	for _, k := range n.elems() {
		if k.name == "address" {
			switch typ := k.attr("type"); {
			case typ == "pci" || (typ == "" && n.name == "source" && k.attr("slot") != ""):
				if err := checkPCI(k); err != nil {
					return err
				}
			case typ == "usb":
				if p, ok := k.get("@port"); ok && !validUSBPort(p) {
					return virerr.New(virerr.FromDomain, virerr.ErrInternalError, "Cannot parse <address> 'port' attribute")
				}
			}
		}
		if err := checkAddresses(k); err != nil {
			return err
		}
	}
	return nil
}

func checkPCI(a *node) error {
	num := func(name string) uint64 {
		v, _ := parseUintAny(a.attr(name))
		return v
	}
	bus, slot, fn := num("bus"), num("slot"), num("function")
	if num("domain") == 0 && bus == 0 && slot == 0 {
		return nil // an empty address asks libvirt to assign one
	}
	switch {
	case bus > 0xFF:
		return xmlErr("Invalid PCI address bus='0x%x', must be <= 0xFF", bus)
	case slot > 0x1F:
		return xmlErr("Invalid PCI address slot='0x%x', must be <= 0x1F", slot)
	case fn > 7:
		return xmlErr("Invalid PCI address function=0x%x, must be <= 7", fn)
	}
	return nil
}

func validUSBPort(p string) bool {
	parts := strings.Split(p, ".")
	if len(parts) > 4 {
		return false
	}
	for _, s := range parts {
		if _, err := strconv.ParseUint(s, 10, 32); err != nil {
			return false
		}
	}
	return true
}
