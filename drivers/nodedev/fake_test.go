package nodedev

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"govirt/uuid"
)

// fakeHost builds a sysfs tree under a temporary root: a PCIe NIC with
// an IOMMU group, SR-IOV and its net interface, a VF, a PCI bridge, a USB
// device and interface (one with udevd's database, one without), an ATA
// CD-ROM (SCSI host, target, device, block and generic nodes), DRM
// minors, a loop disk and a tty, DMI and a pci.ids.
type fakeHost struct {
	t    *testing.T
	root string
}

func (f fakeHost) file(p, content string) {
	f.t.Helper()
	full := filepath.Join(f.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// link makes p a symlink to the absolute (root-relative) target, as a
// relative link, the way sysfs has them.
func (f fakeHost) link(p, target string) {
	f.t.Helper()
	full := filepath.Join(f.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		f.t.Fatal(err)
	}
	rel, err := filepath.Rel(filepath.Dir(full), filepath.Join(f.root, target))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(rel, full); err != nil {
		f.t.Fatal(err)
	}
}

// dev makes a device directory with its uevent and subsystem link, and
// the bus or class entry pointing at it.
func (f fakeHost) dev(p, subsystem, entry, uevent string) {
	f.file(p+"/uevent", uevent)
	f.link(p+"/subsystem", subsystem)
	if entry != "" {
		f.link(entry, p)
	}
}

func pciConfig(size int, hdr byte, pcie bool) string {
	cfg := make([]byte, size)
	cfg[pciHeaderType] = hdr
	if pcie {
		binary.LittleEndian.PutUint16(cfg[pciStatus:], pciStatusCapList)
		cfg[pciCapList] = 0x40
		cfg[0x40], cfg[0x41] = pciCapIDExp, 0                                   // last capability
		binary.LittleEndian.PutUint16(cfg[0x40+pciExpFlags:], 0x0002)           // endpoint
		binary.LittleEndian.PutUint32(cfg[0x40+pciExpDevCap:], pciExpDevCapFLR) // FLR
		binary.LittleEndian.PutUint32(cfg[0x40+pciExpLnkCap:], 3<<24|1<<4|2)    // port 3, x1, 5 GT/s
		binary.LittleEndian.PutUint16(cfg[0x40+pciExpLnkSta:], 1<<4|1)          // x1, 2.5 GT/s
	}
	return string(cfg)
}

func newFakeHost(t *testing.T) (fakeHost, *Manager) {
	f := fakeHost{t, t.TempDir()}
	const nic = "/sys/devices/pci0000:00/0000:00:1f.0"
	f.dev(nic, "/sys/bus/pci", "/sys/bus/pci/devices/0000:00:1f.0",
		"DRIVER=e1000e\nPCI_CLASS=20000\nPCI_ID=8086:10D3\nPCI_SLOT_NAME=0000:00:1f.0\n")
	f.file(nic+"/vendor", "0x8086\n")
	f.file(nic+"/device", "0x10d3\n")
	f.file(nic+"/numa_node", "0\n")
	f.file(nic+"/config", pciConfig(4096, 0, true))
	f.file(nic+"/sriov_totalvfs", "7\n")
	f.link(nic+"/virtfn0", "/sys/devices/pci0000:00/0000:00:10.0")
	f.file("/sys/kernel/iommu_groups/7/devices/0000:00:1f.0/x", "")
	f.link(nic+"/iommu_group", "/sys/kernel/iommu_groups/7")
	const vf = "/sys/devices/pci0000:00/0000:00:10.0"
	f.dev(vf, "/sys/bus/pci", "/sys/bus/pci/devices/0000:00:10.0", "PCI_CLASS=20000\n")
	f.file(vf+"/vendor", "0x8086\n")
	f.file(vf+"/device", "0x10ca\n")
	f.file(vf+"/config", pciConfig(256, 0, false))
	f.link(vf+"/physfn", nic)
	const br = "/sys/devices/pci0000:00/0000:00:1c.0"
	f.dev(br, "/sys/bus/pci", "/sys/bus/pci/devices/0000:00:1c.0", "DRIVER=pcieport\nPCI_CLASS=60400\n")
	f.file(br+"/vendor", "0x1b36\n")
	f.file(br+"/device", "0x000c\n")
	f.file(br+"/config", pciConfig(256, 1, false))

	f.dev(nic+"/net/eth0", "/sys/class/net", "/sys/class/net/eth0", "INTERFACE=eth0\nIFINDEX=2\n")
	f.file(nic+"/net/eth0/address", "00:1b:21:aa:bb:cc\n")
	f.file(nic+"/net/eth0/addr_len", "6\n")
	f.file(nic+"/net/eth0/operstate", "up\n")
	f.file(nic+"/net/eth0/speed", "1000\n")

	const usb = "/sys/devices/pci0000:00/0000:00:1d.0/usb1/1-1"
	f.dev(usb, "/sys/bus/usb", "/sys/bus/usb/devices/1-1", "MAJOR=189\nMINOR=1\nDEVNAME=bus/usb/001/002\nDEVTYPE=usb_device\nBUSNUM=001\nDEVNUM=002\n")
	f.file(usb+"/product", "USB Receiver\n")
	f.file("/run/udev/data/c189:1", "I:123\nE:ID_VENDOR_ID=046d\nE:ID_MODEL_ID=c52b\nE:ID_VENDOR_FROM_DATABASE=Logitech, Inc.\nG:seat\n")
	f.dev(usb+"/1-1:1.0", "/sys/bus/usb", "/sys/bus/usb/devices/1-1:1.0", "DEVTYPE=usb_interface\nDRIVER=usbhid\n")
	f.file(usb+"/1-1:1.0/bInterfaceNumber", "00\n")
	f.file(usb+"/1-1:1.0/bInterfaceClass", "03\n")
	f.file(usb+"/1-1:1.0/bInterfaceSubClass", "01\n")
	f.file(usb+"/1-1:1.0/bInterfaceProtocol", "02\n")
	// no database entry: libvirt cannot read its IDs and leaves it out
	f.dev("/sys/devices/pci0000:00/0000:00:1d.0/usb1/1-2", "/sys/bus/usb", "/sys/bus/usb/devices/1-2", "MAJOR=189\nMINOR=2\nDEVTYPE=usb_device\nBUSNUM=001\nDEVNUM=003\n")

	const host = "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0"
	f.dev(host, "/sys/bus/scsi", "/sys/bus/scsi/devices/host0", "DEVTYPE=scsi_host\n")
	f.file("/sys/class/scsi_host/host0/unique_id", "1\n")
	f.dev(host+"/target0:0:0", "/sys/bus/scsi", "/sys/bus/scsi/devices/target0:0:0", "DEVTYPE=scsi_target\n")
	const sdev = host + "/target0:0:0/0:0:0:0"
	f.dev(sdev, "/sys/bus/scsi", "/sys/bus/scsi/devices/0:0:0:0", "DEVTYPE=scsi_device\nDRIVER=sr\n")
	f.file(sdev+"/type", "5\n")
	f.file(sdev+"/vendor", "QEMU    \n")
	f.file(sdev+"/model", "QEMU DVD-ROM    \n")
	f.dev(sdev+"/block/sr0", "/sys/class/block", "/sys/class/block/sr0", "MAJOR=11\nMINOR=0\nDEVNAME=sr0\nDEVTYPE=disk\n")
	f.link(sdev+"/block/sr0/device", sdev)
	f.file(sdev+"/block/sr0/removable", "1\n")
	f.file(sdev+"/block/sr0/size", "0\n")
	f.file("/run/udev/data/b11:0", "S:cdrom\nS:disk/by-id/ata-QEMU_DVD-ROM_QM00001\nE:ID_CDROM=1\nE:ID_TYPE=cd\nE:ID_BUS=ata\nE:ID_SERIAL=QEMU_DVD-ROM_QM00001\n")
	f.dev(sdev+"/scsi_generic/sg0", "/sys/class/scsi_generic", "/sys/class/scsi_generic/sg0", "MAJOR=21\nMINOR=0\nDEVNAME=sg0\n")

	const gpu = "/sys/devices/pci0000:00/0000:00:02.0"
	f.dev(gpu+"/drm/card0", "/sys/class/drm", "/sys/class/drm/card0", "MAJOR=226\nMINOR=0\nDEVNAME=dri/card0\nDEVTYPE=drm_minor\n")
	f.dev(gpu+"/drm/renderD128", "/sys/class/drm", "/sys/class/drm/renderD128", "MAJOR=226\nMINOR=128\nDEVNAME=dri/renderD128\nDEVTYPE=drm_minor\n")

	f.dev("/sys/devices/virtual/block/loop0", "/sys/class/block", "/sys/class/block/loop0", "MAJOR=7\nMINOR=0\nDEVNAME=loop0\nDEVTYPE=disk\n")
	f.dev("/sys/devices/virtual/tty/tty0", "/sys/class/tty", "/sys/class/tty/tty0", "MAJOR=4\nMINOR=0\nDEVNAME=tty0\nINTERFACE=bogus\n")

	f.file(dmiPath+"/uevent", "MODALIAS=dmi:bvnSeaBIOS\n")
	f.file(dmiPath+"/product_name", "Standard PC (Q35 + ICH9, 2009)\n")
	f.file(dmiPath+"/sys_vendor", "QEMU\n")
	f.file(dmiPath+"/product_version", "pc-q35-7.2\n")
	f.file(dmiPath+"/bios_vendor", "SeaBIOS\n")
	f.file(dmiPath+"/bios_version", "1.16.2-debian-1.16.2-1\n")
	f.file(dmiPath+"/bios_date", "04/01/2014\n")

	f.file("/usr/share/misc/pci.ids", "# test\n8086  Intel Corporation\n\t10d3  82574L Gigabit Network Connection\n\t\t8086 a01f  Gigabit CT Desktop Adapter\n\t10ca  82576 Virtual Function\n1b36  Red Hat, Inc.\n\t000c  QEMU PCIe Root port\nC 02  Network controller\n")

	u, _ := uuid.Parse("c7a5fdbd-edaf-9455-926a-d65c16db1809")
	m := New(Config{Root: f.root, Privileged: true, HostUUID: func() uuid.UUID { return u },
		Features: func(string) []string { return []string{"rx", "tx", "sg"} }})
	return f, m
}
