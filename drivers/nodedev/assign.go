package nodedev

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"time"

	"govirt/virerr"
)

// PCI detach, reattach and reset are the QEMU driver's
// (qemuNodeDeviceDetachFlags and virHostdevPCINodeDevice*): a function is
// handed to vfio-pci through driver_override, unbind and drivers_probe,
// and given back the same way. InUse names the running guest a function
// is assigned to ("" for none), which libvirt keeps as its active list.
type InUse func(addr string) string

func errQEMU(code virerr.Code, format string, args ...any) error {
	return virerr.New(virerr.FromQemu, code, format, args...)
}

// errNone is an error of libvirt's virpci.c and virhostdev.c, which
// carry no error domain.
func errNone(code virerr.Code, format string, args ...any) error {
	return virerr.New(virerr.FromNone, code, format, args...)
}

// vfioSupported is qemuHostdevHostSupportsPassthroughVFIO: an IOMMU
// group exists and /dev/vfio/vfio is there.
func (m *Manager) vfioSupported() bool {
	names := m.dirNames("/sys/kernel/iommu_groups")
	return len(names) > 0 && m.fs.exists("/dev/vfio/vfio")
}

// pciFor is virDomainDriverNodeDeviceGetPCIInfo on the device's XML.
func (m *Manager) pciFor(name string) (*PCICap, error) {
	d, err := m.find(name)
	if err != nil {
		return nil, err
	}
	if d.Cap.PCI == nil {
		return nil, virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "device %s is not a PCI device", d.Name)
	}
	return d.Cap.PCI, nil
}

func (m *Manager) pciDriver(addr string) string {
	l, err := os.Readlink(m.fs.path("/sys/bus/pci/devices/" + addr + "/driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(l)
}

func (m *Manager) write(p, v string) error {
	return os.WriteFile(m.fs.path(p), []byte(v), 0o200)
}

// bind is virPCIDeviceBindWithDriverOverride: "" gives the function back
// to whatever driver the kernel picks.
func (m *Manager) bind(addr, drv string) error {
	dev := "/sys/bus/pci/devices/" + addr
	ov := drv
	if ov == "" {
		ov = "\n"
	}
	if err := m.write(dev+"/driver_override", ov); err != nil {
		return errNone(virerr.ErrSystemError, "Failed to write to '%s': %v", dev+"/driver_override", err)
	}
	if cur := m.pciDriver(addr); cur != "" {
		if err := m.write(dev+"/driver/unbind", addr); err != nil {
			return errNone(virerr.ErrSystemError, "Failed to unbind PCI device '%s' from %s: %v", addr, cur, err)
		}
	}
	if err := m.write("/sys/bus/pci/drivers_probe", addr); err != nil {
		return errNone(virerr.ErrSystemError, "Failed to trigger a probe for PCI device '%s': %v", addr, err)
	}
	return nil
}

func errInUse(addr, dom string) error {
	return errNone(virerr.ErrOperationInvalid, "PCI device %s is in use by driver %s, domain %s", addr, "QEMU", dom)
}

// Detach is qemuNodeDeviceDetachFlags with the vfio stub.
func (m *Manager) Detach(name, driverName string, flags uint32, inUse InUse) error {
	if flags != 0 {
		return virerr.Raw(virerr.FromQemu, virerr.ErrInvalidArg, "unsupported flags (0x"+hex(flags)+") in function qemuNodeDeviceDetachFlags")
	}
	if driverName == "" {
		driverName = "vfio"
	}
	if driverName != "vfio" && driverName != "kvm" {
		return errQEMU(virerr.ErrInvalidArg, "unknown driver name '%s'", driverName)
	}
	if driverName == "kvm" {
		return errQEMU(virerr.ErrArgumentUnsupported, "KVM device assignment is no longer supported on this system")
	}
	if !m.vfioSupported() {
		return errQEMU(virerr.ErrArgumentUnsupported, "VFIO device assignment is currently not supported on this system")
	}
	p, err := m.pciFor(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	addr := p.Addr.String()
	if dom := inUse(addr); dom != "" {
		return errInUse(addr, dom)
	}
	if !m.fs.exists("/sys/bus/pci/drivers/vfio-pci") {
		return errNone(virerr.ErrInternalError, "Failed to load PCI stub module %s", "vfio-pci")
	}
	if m.pciDriver(addr) == "vfio-pci" {
		return nil
	}
	if err := m.bind(addr, "vfio-pci"); err != nil {
		return err
	}
	m.waitDriver(addr, "vfio-pci")
	return nil
}

// ReAttach is qemuNodeDeviceReAttach: a function on a stub driver is
// given back to its own driver; any other is left alone.
func (m *Manager) ReAttach(name string, inUse InUse) error {
	p, err := m.pciFor(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	addr := p.Addr.String()
	if dom := inUse(addr); dom != "" {
		return errInUse(addr, dom)
	}
	switch m.pciDriver(addr) {
	case "vfio-pci", "pci-stub", "pciback":
	default:
		return nil
	}
	return m.bind(addr, "")
}

func (m *Manager) waitDriver(addr, want string) {
	for i := 0; i < 50 && m.pciDriver(addr) != want; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// PCI capability IDs and fields used to detect a reset method.
const (
	pciCapIDPM           = 0x01
	pciCapIDAF           = 0x13
	pciExpDevCap         = 0x04
	pciExpDevCapFLR      = 1 << 28
	pciAFCap             = 0x03
	pciAFCapFLR          = 0x02
	pciPMCtrl            = 0x04
	pciPMCtrlNoSoftReset = 0x08
)

// Reset is virPCIDeviceReset: endpoints only, a function vfio-pci holds
// or one with FLR is left alone (QEMU and vfio reset it), a PM or bus
// reset goes through the kernel's reset attribute, and a function with
// no way to reset is refused with libvirt's message.
func (m *Manager) Reset(name string, inUse InUse) error {
	p, err := m.pciFor(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	addr := p.Addr.String()
	cfg, _, ok := m.readConfig(p.Addr)
	if !ok || len(cfg) <= pciHeaderType {
		return errNone(virerr.ErrSystemError, "Failed to open config space file '%s'", "/sys/bus/pci/devices/"+addr+"/config")
	}
	if cfg[pciHeaderType]&0x7f != 0 {
		return errNone(virerr.ErrInternalError, "Invalid attempt to reset PCI device %s. Only PCI endpoint devices can be reset", addr)
	}
	if dom := inUse(addr); dom != "" {
		return errNone(virerr.ErrInternalError, "Not resetting active device %s", addr)
	}
	if m.pciDriver(addr) == "vfio-pci" {
		return nil
	}
	if hasFLR(cfg) || m.fs.exists("/sys/bus/pci/devices/"+addr+"/physfn") {
		return nil
	}
	pm := false
	if pos, ok := findPCICap(cfg, pciCapIDPM); ok && pos+pciPMCtrl+4 <= len(cfg) {
		pm = binary.LittleEndian.Uint32(cfg[pos+pciPMCtrl:])&pciPMCtrlNoSoftReset == 0
	}
	if pm || p.Addr.Bus != 0 {
		if err := m.write("/sys/bus/pci/devices/"+addr+"/reset", "1"); err == nil {
			return nil
		}
	}
	return errNone(virerr.ErrInternalError, "Unable to reset PCI device %s: %s", addr, "no FLR, PM reset or bus reset available")
}

// hasFLR is virPCIDeviceDetectFunctionLevelReset's capability checks.
func hasFLR(cfg []byte) bool {
	if pos, ok := findPCICap(cfg, pciCapIDExp); ok && pos+pciExpDevCap+4 <= len(cfg) {
		if binary.LittleEndian.Uint32(cfg[pos+pciExpDevCap:])&pciExpDevCapFLR != 0 {
			return true
		}
	}
	if pos, ok := findPCICap(cfg, pciCapIDAF); ok && pos+pciAFCap < len(cfg) {
		if cfg[pos+pciAFCap]&pciAFCapFLR != 0 {
			return true
		}
	}
	return false
}

func hex(v uint32) string {
	const digits = "0123456789abcdef"
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v >>= 4 {
		b = append([]byte{digits[v&0xf]}, b...)
	}
	return string(b)
}
