package nodedev

import (
	"strconv"
	"strings"
)

// Device is one node device, virNodeDeviceDef with its one capability.
type Device struct {
	Name     string
	Path     string // sysfs path; "" for computer
	Parent   string
	Driver   string
	Devnode  string
	Devlinks []string
	Cap      Cap
}

// Cap is the device's capability; Type is virNodeDevCapType's name and
// one of the pointers is set for it.
type Cap struct {
	Type       string
	System     *SystemCap
	PCI        *PCICap
	USBDev     *USBDevCap
	USBIf      *USBIfCap
	Net        *NetCap
	SCSIHost   *SCSIHostCap
	SCSITarget *SCSITargetCap
	SCSI       *SCSICap
	Storage    *StorageCap
	SGPath     string // scsi_generic
	DRMType    string // drm: primary, control, render
	Mdev       *MdevCap
}

// MdevCap is virNodeDevCapMdev for an active mediated device as the
// udev backend sees it in sysfs (mdevctl's definitions are not read).
type MdevCap struct {
	Type, UUID, ParentAddr string
	IOMMUGroup             uint
}

// SystemCap is the computer: DMI data.
type SystemCap struct {
	ProductName                   string
	HWVendor, HWVersion, HWSerial string
	UUID                          string
	FWVendor, FWVersion, FWDate   string
}

// PCIAddr is a PCI function address.
type PCIAddr struct{ Domain, Bus, Slot, Function uint }

// PCILink is one link of <pci-express>.
type PCILink struct {
	Port  int // -1: none
	Speed uint
	Width uint
}

// MdevType is one mediated device type a parent offers.
type MdevType struct {
	ID, Name, DeviceAPI string
	Available           uint
}

// PCICap is virNodeDevCapPCIDev.
type PCICap struct {
	Class                   int // -1: unknown
	Addr                    PCIAddr
	Vendor, Product         uint
	VendorName, ProductName string
	NUMANode                int
	HdrType                 int
	PhysFn                  *PCIAddr
	VirtFns                 []PCIAddr
	MaxVFs                  uint
	HasVFCap                bool
	MdevTypes               []MdevType
	VPD                     *VPD // vpd.go; nil without a well-formed one
	IOMMUGroup              int
	IOMMUDevs               []PCIAddr
	PCIe                    bool
	LinkCap, LinkSta        *PCILink
}

// USBDevCap is virNodeDevCapUSBDev.
type USBDevCap struct {
	Bus, Device             uint
	Vendor, Product         uint
	VendorName, ProductName string
}

// USBIfCap is virNodeDevCapUSBIf.
type USBIfCap struct{ Number, Class, Subclass, Protocol uint }

// NetCap is virNodeDevCapNet.
type NetCap struct {
	Ifname, Address string
	Speed           uint
	State           string
	Features        []string
	Subtype         string // 80203 or 80211
}

// SCSIHostCap is virNodeDevCapSCSIHost.
type SCSIHostCap struct {
	Host                  uint
	UniqueID              int // -1: none
	FC                    bool
	WWNN, WWPN, FabricWWN string
	Vport                 bool
	MaxVports, Vports     int
}

// SCSITargetCap is virNodeDevCapSCSITarget.
type SCSITargetCap struct {
	Name      string
	Rport     string
	RportWWPN string
}

// SCSICap is virNodeDevCapSCSI.
type SCSICap struct {
	Host, Bus, Target, Lun uint
	Type                   string
}

// StorageCap is virNodeDevCapStorage.
type StorageCap struct {
	Block, Bus, DriveType, Model, Vendor, Serial string
	Removable, MediaAvailable                    bool
	MediaSize                                    uint64
	MediaLabel                                   string
	Size, LogicalBlockSize, NumBlocks            uint64
}

// capNames lists what a device's capability counts as for listing
// filters and virNodeDeviceListCaps: its type and the nested
// capabilities libvirt reports beside it (fc_host and vports of an HBA,
// mdev_types of a PCI parent).
func (d *Device) capNames() []string {
	out := []string{d.Cap.Type}
	switch {
	case d.Cap.SCSIHost != nil:
		if d.Cap.SCSIHost.FC {
			out = append(out, "fc_host")
		}
		if d.Cap.SCSIHost.Vport {
			out = append(out, "vports")
		}
	case d.Cap.PCI != nil:
		if len(d.Cap.PCI.MdevTypes) > 0 {
			out = append(out, "mdev_types")
		}
		if d.Cap.PCI.VPD != nil {
			out = append(out, "vpd")
		}
	}
	return out
}

func (d *Device) hasCap(name string) bool {
	for _, c := range d.capNames() {
		if c == name {
			return true
		}
	}
	return false
}

// generateName is nodeDeviceGenerateName: subsystem_sysname[_suffix]
// with every byte that is not an ASCII letter or digit made '_'.
func generateName(subsystem, sysname, suffix string) string {
	s := subsystem + "_" + sysname
	if suffix != "" {
		s += "_" + suffix
	}
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// parseUint is virStrToLong_ui/ull: strtoul with the given base (0:
// C's prefixes), a leading '-' wrapping around as in C, and nothing but
// the number (base 0 also accepts a trailing newline here because the
// callers pass stripped attributes).
func parseUint(s string, base int, bits int) (uint64, bool) {
	s = strings.TrimLeft(s, " \t\n")
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	} else {
		s = strings.TrimPrefix(s, "+")
	}
	if base == 16 || base == 0 {
		if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
			s, base = s[2:], 16
		} else if base == 0 && len(s) > 1 && s[0] == '0' {
			base = 8
		} else if base == 0 {
			base = 10
		}
	}
	v, err := strconv.ParseUint(s, base, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	if bits == 32 {
		if !neg && v > 0xffffffff {
			return 0, false
		}
		v &= 0xffffffff
	}
	return v, true
}

// parseInt is virStrToLong_i.
func parseInt(s string, base int) (int, bool) {
	s = strings.TrimLeft(s, " \t\n")
	if base == 16 {
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "0x")
		v, err := strconv.ParseInt(s, 16, 32)
		if err != nil {
			return 0, false
		}
		if neg {
			v = -v
		}
		return int(v), true
	}
	v, err := strconv.ParseInt(s, base, 32)
	if err != nil {
		return 0, false
	}
	return int(v), true
}
