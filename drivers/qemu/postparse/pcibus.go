package postparse

import (
	"fmt"
	"slices"
)

// Connect flags, after libvirt's virDomainPCIConnectFlags: what a device
// needs of the slot it plugs into and what a bus accepts.
const (
	fPCI        = 1 << iota // conventional PCI endpoint
	fPCIe                   // PCI Express endpoint
	fAuto                   // placed automatically (endpoints); a bus taking such devices
	fRootPort               // a pcie-root-port
	fPCIeToPCI              // a pcie-to-pci-bridge
	fPCIBridge              // a pci-bridge
	fDMI                    // a dmi-to-pci-bridge
	fAggregate              // may share a slot with its kind (root ports)
	fSwitchUp               // a pcie-switch-upstream-port
	fSwitchDown             // a pcie-switch-downstream-port
	fIntegrated             // must sit on bus 0 itself (virtio-iommu)
	fPXB                    // a pci-expander-bus
	fPXBPCIe                // a pcie-expander-bus
	typeMask    = fPCI | fPCIe | fRootPort | fPCIeToPCI | fPCIBridge | fDMI | fSwitchUp | fSwitchDown | fPXB | fPXBPCIe
)

// pciBus is one bus of the address set (virDomainPCIAddressBus).
type pciBus struct {
	model            string
	flags            int
	minSlot, maxSlot uint
	used             [32][8]bool
	aggregate        [32]bool
}

func newBus(model string) *pciBus {
	b := &pciBus{model: model, minSlot: 1, maxSlot: 31}
	switch model {
	case "pci-root":
		b.flags = fPCI | fAuto | fPCIBridge | fPXB
	case "pci-bridge", "pcie-to-pci-bridge":
		b.flags = fPCI | fAuto | fPCIBridge
	case "pci-expander-bus":
		b.flags = fPCI | fAuto | fPCIBridge
		b.minSlot = 0
	case "pcie-expander-bus":
		// Only root ports and DMI bridges, as libvirt's bus model says.
		b.flags = fRootPort | fDMI
		b.minSlot = 0
	case "pcie-root":
		// Endpoints go here only when integrated or placed by the user.
		b.flags = fPCIe | fRootPort | fDMI | fPXBPCIe
	case "dmi-to-pci-bridge":
		b.flags = fPCI | fPCIBridge
		b.minSlot = 0
	case "pcie-root-port", "pcie-switch-downstream-port":
		b.flags = fPCIe | fAuto | fPCIeToPCI | fSwitchUp
		b.minSlot, b.maxSlot = 0, 0
	case "pcie-switch-upstream-port":
		b.flags = fSwitchDown
		b.minSlot = 0
	default:
		return nil
	}
	return b
}

func (b *pciBus) slotFree(slot uint) bool {
	for _, u := range b.used[slot] {
		if u {
			return false
		}
	}
	return true
}

// accepts is virDomainPCIAddressFlagsCompatible for automatic
// placement: the kinds must match, and an automatically placed endpoint
// needs a bus that takes those (not pcie-root or a dmi-to-pci-bridge).
func (b *pciBus) accepts(flags int) bool {
	if flags&typeMask&b.flags == 0 {
		return false
	}
	// An integrated device is placed on the root bus, which otherwise
	// takes no automatically placed endpoints (libvirt grants it
	// AUTOASSIGN there).
	if flags&fIntegrated != 0 {
		return b.model == "pcie-root" || b.model == "pci-root"
	}
	return flags&fAuto == 0 || b.flags&fAuto != 0
}

// addrSet is the PCI address set of one assignment pass.
type addrSet struct {
	buses  []*pciBus
	dryRun bool // may add buses (virDomainPCIAddressSetGrow)
	q35    bool
}

type pciAddr struct{ bus, slot, fn uint }

func (s *addrSet) reserve(a pciAddr) error {
	if int(a.bus) >= len(s.buses) || s.buses[a.bus] == nil {
		return unsupported("PCI bus 0x%02x is not present in the domain's PCI controllers", a.bus)
	}
	b := s.buses[a.bus]
	if a.slot > 31 || a.fn > 7 {
		return xmlError("Invalid PCI address %s", a)
	}
	if b.used[a.slot][a.fn] {
		return unsupported("Attempted double use of PCI Address %s", a)
	}
	b.used[a.slot][a.fn] = true
	return nil
}

func (a pciAddr) String() string { return fmt.Sprintf("0000:%02x:%02x.%x", a.bus, a.slot, a.fn) }

// next finds (and takes) the first free address for a device with the
// given flags, growing the set in a dry run.
func (s *addrSet) next(flags int, fn uint) (pciAddr, error) {
	return s.nextBelow(flags, fn, -1)
}

// nextBelow is next for a PCI controller, which only plugs into a bus
// of lower index than its own (below < 0: any bus).
func (s *addrSet) nextBelow(flags int, fn uint, below int) (pciAddr, error) {
	for {
		for i, b := range s.buses {
			if b == nil || !b.accepts(flags) || (below >= 0 && i >= below) {
				continue
			}
			// The lowest slot that is free, or (for devices that
			// gather, like root ports) already holds their kind and
			// has a function left (virDomainPCIAddressFindUnusedFunctionOnBus).
			for slot := b.minSlot; slot <= b.maxSlot; slot++ {
				if b.slotFree(slot) {
					b.used[slot][fn] = true
					if flags&fAggregate != 0 {
						b.aggregate[slot] = true
					}
					return pciAddr{uint(i), slot, fn}, nil
				}
				if flags&fAggregate != 0 && b.aggregate[slot] {
					for f := uint(0); f < 8; f++ {
						if !b.used[slot][f] {
							b.used[slot][f] = true
							return pciAddr{uint(i), slot, f}, nil
						}
					}
				}
			}
		}
		if !s.dryRun || flags&fIntegrated != 0 || !s.grow(flags) {
			return pciAddr{}, unsupported("No more available PCI slots")
		}
	}
}

// grow adds the buses a device that found no slot needs, as
// virDomainPCIAddressSetGrow: a pci-bridge on a pci-root machine, a
// pcie-root-port (for the bridge) plus pcie-to-pci-bridge for
// conventional PCI on a pcie-root machine, a pcie-root-port for a PCIe
// device.
func (s *addrSet) grow(flags int) bool {
	switch {
	case flags&fPCI != 0:
		if !s.q35 {
			s.buses = append(s.buses, newBus("pci-bridge"))
			return true
		}
		hasBridge := slices.ContainsFunc(s.buses, func(b *pciBus) bool { return b != nil && b.flags&fPCIBridge != 0 })
		if hasBridge {
			s.buses = append(s.buses, newBus("pci-bridge"))
			return true
		}
		rp := newBus("pcie-root-port")
		rp.flags = fPCIeToPCI // this port is for the bridge only
		s.buses = append(s.buses, rp, newBus("pcie-to-pci-bridge"))
		return true
	case flags&fPCIe != 0:
		s.buses = append(s.buses, newBus("pcie-root-port"))
		return true
	}
	return false
}

// growFor adds one bus for a device whose given address names a bus past
// the last, as virDomainPCIAddressSetGrow does for one missing bus:
// a pci-bridge for conventional PCI (on q35 only where a bus already
// takes pci-bridges), a pcie-root-port for PCIe; false when libvirt
// would renumber the device's address instead, which is not modelled.
func (s *addrSet) growFor(flags int) bool {
	switch {
	case flags&fPCI != 0:
		if s.q35 && !slices.ContainsFunc(s.buses, func(b *pciBus) bool { return b != nil && b.flags&fPCIBridge != 0 }) {
			return false
		}
		s.buses = append(s.buses, newBus("pci-bridge"))
		return true
	case flags&(fPCIe|fSwitchUp) != 0:
		s.buses = append(s.buses, newBus("pcie-root-port"))
		return true
	}
	return false
}
