package nodedev

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// processPCI is udevProcessPCI.
func (m *Manager) processPCI(ud *udevDevice, d *Device) bool {
	c := &PCICap{Class: -1, NUMANode: -1}
	s, ok := ud.prop("PCI_CLASS")
	if !ok {
		return false
	}
	if c.Class, ok = parseInt(s, 16); !ok {
		return false
	}
	addr, ok := parsePCIAddr(filepath.Base(ud.syspath))
	if !ok {
		return false
	}
	c.Addr = addr
	if c.Vendor, ok = uintAttr(ud, "vendor", 16, 0); !ok {
		return false
	}
	if c.Product, ok = uintAttr(ud, "device", 16, 0); !ok {
		return false
	}
	c.VendorName, c.ProductName = m.pciNames(c.Vendor, c.Product)
	d.Name = generateName(ud.subsystem, ud.sysname, "")
	if s, ok := ud.sysattr("numa_node"); ok {
		v, ok := parseInt(s, 10)
		if !ok {
			return false
		}
		c.NUMANode = v
	}
	if !m.refreshPCI(d.Path, c) {
		return false
	}
	if m.privileged {
		if !m.pciConfigCaps(c) {
			return false
		}
	}
	d.Cap.PCI = c
	return true
}

// parsePCIAddr reads DDDD:BB:SS.F as libvirt's strtoul chain does.
func parsePCIAddr(s string) (PCIAddr, bool) {
	dom, rest, ok1 := strings.Cut(s, ":")
	bus, rest, ok2 := strings.Cut(rest, ":")
	slot, fn, ok3 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || !ok3 {
		return PCIAddr{}, false
	}
	var v [4]uint
	for i, p := range []string{dom, bus, slot, fn} {
		n, ok := parseUint(p, 16, 32)
		if !ok {
			return PCIAddr{}, false
		}
		v[i] = uint(n)
	}
	return PCIAddr{v[0], v[1], v[2], v[3]}, true
}

func (a PCIAddr) String() string {
	return fmt.Sprintf("%04x:%02x:%02x.%x", a.Domain, a.Bus, a.Slot, a.Function)
}

// refreshPCI is virNodeDeviceGetPCIDynamicCaps: SR-IOV functions, the
// IOMMU group and mediated device types, read again for every XML.
// (VPD is not read: the <capability type='vpd'> of a device with one is
// missing.)
func (m *Manager) refreshPCI(syspath string, c *PCICap) bool {
	f := m.fs
	c.PhysFn, c.VirtFns, c.MaxVFs, c.HasVFCap = nil, nil, 0, false
	if a, ok := m.pciLinkAddr(syspath + "/physfn"); ok {
		c.PhysFn = &a
	}
	if b, err := f.readFile(syspath + "/sriov_totalvfs"); err == nil {
		s, _, _ := strings.Cut(string(b), "\n")
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return false
		}
		c.MaxVFs = uint(v)
	}
	for i := 0; i < 4096; i++ {
		p := syspath + "/virtfn" + strconv.Itoa(i)
		if !f.exists(p) {
			break
		}
		a, ok := m.pciLinkAddr(p)
		if !ok {
			return false
		}
		c.VirtFns = append(c.VirtFns, a)
	}
	c.HasVFCap = len(c.VirtFns) > 0 || c.MaxVFs > 0

	c.IOMMUGroup, c.IOMMUDevs = 0, nil
	link := "/sys/bus/pci/devices/" + c.Addr.String() + "/iommu_group"
	if f.isLink(link) {
		t, ok := f.resolve(link)
		if !ok {
			return false
		}
		g, err := strconv.ParseUint(filepath.Base(t), 10, 31)
		if err != nil {
			return false
		}
		c.IOMMUGroup = int(g)
		names := m.dirNames(link + "/devices")
		if names == nil {
			c.IOMMUDevs = []PCIAddr{c.Addr}
		}
		for _, n := range names {
			a, ok := parsePCIAddr(n)
			if !ok {
				return false
			}
			c.IOMMUDevs = append(c.IOMMUDevs, a)
		}
	}

	c.VPD = m.readVPD(syspath)
	c.MdevTypes = nil
	typesDir := syspath + "/mdev_supported_types"
	for _, n := range m.dirNames(typesDir) {
		t := MdevType{ID: n}
		dir := typesDir + "/" + n
		if b, err := f.readFile(dir + "/name"); err == nil {
			t.Name = strings.TrimRight(string(b), "\n")
		}
		b, err := f.readFile(dir + "/device_api")
		if err != nil {
			return false
		}
		t.DeviceAPI = strings.TrimRight(string(b), "\n")
		b, err = f.readFile(dir + "/available_instances")
		if err != nil {
			return false
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
		if err != nil {
			return false
		}
		t.Available = uint(v)
		c.MdevTypes = append(c.MdevTypes, t)
	}
	return true
}

// dirNames lists a directory in the kernel's order (readdir, as
// libvirt's loops see it), nil when it cannot be read.
func (m *Manager) dirNames(dir string) []string {
	fh, err := os.Open(m.fs.path(dir))
	if err != nil {
		return nil
	}
	defer fh.Close()
	names, _ := fh.Readdirnames(-1)
	if names == nil {
		names = []string{}
	}
	return names
}

// pciLinkAddr is virPCIGetDeviceAddressFromSysfsLink.
func (m *Manager) pciLinkAddr(link string) (PCIAddr, bool) {
	t, ok := m.fs.resolve(link)
	if !ok {
		return PCIAddr{}, false
	}
	return parsePCIAddr(filepath.Base(t))
}

// PCI configuration space offsets and values (linux/pci_regs.h).
const (
	pciStatus        = 0x06
	pciStatusCapList = 0x10
	pciHeaderType    = 0x0e
	pciCapList       = 0x34
	pciConfHeaderLen = 0x40
	pciCapIDExp      = 0x10
	pciExpFlags      = 0x02
	pciExpLnkCap     = 0x0c
	pciExpLnkSta     = 0x12
	pciExpTypeRCIEP  = 0x9
	pciExpTypeRCEC   = 0xa
)

// pciConfigCaps reads what libvirt reads from the configuration space
// as root: the header type and whether the function is PCI Express,
// with its link capability and status. Only the bytes needed are read:
// in a virtual machine every configuration access traps.
func (m *Manager) pciConfigCaps(c *PCICap) bool {
	cfg, size, ok := m.readConfig(c.Addr)
	if !ok || len(cfg) <= pciHeaderType {
		return false
	}
	c.HdrType = int(cfg[pciHeaderType] & 0x7f)
	if c.HdrType > 2 {
		return false
	}
	pos, found := findPCICap(cfg, pciCapIDExp)
	if found {
		c.PCIe = true
	} else {
		// libvirt's guess when the list cannot be walked or lacks the
		// capability: a config space other than 256 bytes is PCIe.
		c.PCIe = size != 256
		pos = 0
	}
	c.LinkCap, c.LinkSta = nil, nil
	if pos == 0 || pos+pciExpLnkSta+2 > len(cfg) {
		return true
	}
	flags := binary.LittleEndian.Uint16(cfg[pos+pciExpFlags:])
	typ := (flags & 0xf0) >> 4
	if typ == pciExpTypeRCIEP || typ == pciExpTypeRCEC {
		return true
	}
	lc := binary.LittleEndian.Uint32(cfg[pos+pciExpLnkCap:])
	ls := binary.LittleEndian.Uint16(cfg[pos+pciExpLnkSta:])
	c.LinkCap = &PCILink{Port: int(lc >> 24), Speed: uint(lc & 0xf), Width: uint((lc & 0x3f0) >> 4)}
	c.LinkSta = &PCILink{Port: -1, Speed: uint(ls & 0xf), Width: uint((ls & 0x3f0) >> 4)}
	return true
}

// readConfig reads the standard header and the capability list of a
// function's configuration space (the first 256 bytes hold them) and
// returns the file's size, which libvirt's PCIe guess uses.
func (m *Manager) readConfig(a PCIAddr) ([]byte, int64, bool) {
	fh, err := os.Open(m.fs.path("/sys/bus/pci/devices/" + a.String() + "/config"))
	if err != nil {
		return nil, 0, false
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, 0, false
	}
	cfg := make([]byte, 256)
	n, _ := fh.ReadAt(cfg[:pciConfHeaderLen], 0)
	if n < pciConfHeaderLen {
		return cfg[:n], fi.Size(), true
	}
	// Fetch each capability's header and what follows it lazily: the
	// list walk touches a few dwords, not the whole page.
	read := func(off, l int) {
		if off+l <= len(cfg) {
			fh.ReadAt(cfg[off:off+l], int64(off))
		}
	}
	if binary.LittleEndian.Uint16(cfg[pciStatus:])&pciStatusCapList != 0 {
		pos := int(cfg[pciCapList])
		for i := 0; i < 64 && pos >= pciConfHeaderLen && pos != 0xff && pos+2 <= len(cfg); i++ {
			l := 0x14 // enough for the PCIe link status, PM control and AF cap
			if pos+l > len(cfg) {
				l = len(cfg) - pos
			}
			read(pos, l)
			pos = int(cfg[pos+1])
		}
	}
	return cfg, fi.Size(), true
}

// findPCICap is virPCIDeviceFindCapabilityOffset: walk the standard
// capability list (bounded, since a corrupt list may loop).
func findPCICap(cfg []byte, id byte) (int, bool) {
	if len(cfg) < pciCapList+1 {
		return 0, false
	}
	status := binary.LittleEndian.Uint16(cfg[pciStatus:])
	if status&pciStatusCapList == 0 {
		return 0, false
	}
	pos := int(cfg[pciCapList])
	for n := 0; n < 64 && pos >= pciConfHeaderLen && pos != 0xff && pos+1 < len(cfg); n++ {
		if cfg[pos] == id {
			return pos, true
		}
		pos = int(cfg[pos+1])
	}
	return 0, false
}
