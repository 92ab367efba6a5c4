package nodedev

import (
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// scan builds the device list as libvirt's udev backend does at start:
// computer first, then every device whose type it recognises, in
// enumeration order, so that a parent is known before its children.
func (m *Manager) scan() []*Device {
	f := m.fs
	devs := []*Device{m.computer()}
	byPath := map[string]string{}
	for _, p := range f.enumerate() {
		ud, ok := f.loadDevice(p)
		if !ok || ignoredSubsystems[ud.subsystem] {
			continue
		}
		d, ok := m.addOne(ud)
		if !ok {
			continue
		}
		d.Parent = parentOf(p, byPath)
		byPath[p] = d.Name
		devs = append(devs, d)
	}
	return devs
}

// parentOf is udevSetParent: the nearest ancestor directory that is a
// known device, else computer.
func parentOf(p string, byPath map[string]string) string {
	for dir := filepath.Dir(p); dir != "/" && dir != "." && dir != "/sys"; dir = filepath.Dir(dir) {
		if n, ok := byPath[dir]; ok {
			return n
		}
	}
	return "computer"
}

// deviceType is udevGetDeviceType.
func deviceType(ud *udevDevice) string {
	if ud.devtype != "" {
		switch ud.devtype {
		case "usb_device":
			return "usb_device"
		case "usb_interface":
			return "usb"
		case "scsi_host":
			return "scsi_host"
		case "scsi_target":
			return "scsi_target"
		case "scsi_device":
			return "scsi"
		case "disk":
			return "storage"
		case "wlan":
			return "net"
		case "drm_minor":
			return "drm"
		}
		return ""
	}
	t := ""
	if _, ok := ud.prop("PCI_CLASS"); ok {
		t = "pci"
	}
	if _, ok := ud.prop("INTERFACE"); ok {
		t = "net"
	}
	// ccw, css, vdpa and the s390 AP devices are not served.
	switch s, _ := ud.prop("SUBSYSTEM"); s {
	case "scsi_generic":
		t = "scsi_generic"
	case "mdev":
		t = "mdev"
	}
	return t
}

// addOne is udevAddOneDevice up to the parent: type, device nodes and
// the type's details. A device libvirt would discard gives false.
func (m *Manager) addOne(ud *udevDevice) (*Device, bool) {
	d := &Device{Path: ud.syspath}
	d.Driver, _ = ud.prop("DRIVER")
	d.Cap.Type = deviceType(ud)
	if d.Cap.Type == "" {
		return nil, false
	}
	d.Devnode, _ = ud.prop("DEVNAME")
	d.Devlinks = ud.devlinks
	var ok bool
	switch d.Cap.Type {
	case "pci":
		ok = m.processPCI(ud, d)
	case "usb_device":
		ok = processUSBDevice(ud, d)
	case "usb":
		ok = processUSBInterface(ud, d)
	case "net":
		ok = m.processNet(ud, d)
	case "scsi_host":
		ok = m.processSCSIHost(ud, d)
	case "scsi_target":
		ok = m.processSCSITarget(ud, d)
	case "scsi":
		ok = processSCSIDevice(ud, d)
	case "storage":
		ok = processStorage(ud, d)
	case "scsi_generic":
		d.Cap.SGPath, ok = ud.prop("DEVNAME")
		d.Name = generateName(ud.subsystem, ud.sysname, "")
	case "drm":
		ok = processDRM(ud, d)
	case "mdev":
		ok = m.processMdev(ud, d)
	}
	return d, ok
}

// uintProp is udevGetUintProperty: the property must exist and parse.
func uintProp(ud *udevDevice, key string, base int) (uint, bool) {
	s, ok := ud.prop(key)
	if !ok {
		return 0, false
	}
	v, ok := parseUint(s, base, 32)
	return uint(v), ok
}

// uintAttr is udevGetUintSysfsAttr: a missing attribute leaves def and
// succeeds, an unparsable one fails.
func uintAttr(ud *udevDevice, name string, base int, def uint) (uint, bool) {
	s, ok := ud.sysattr(name)
	if !ok {
		return def, true
	}
	v, ok := parseUint(s, base, 32)
	return uint(v), ok
}

func uint64Attr(ud *udevDevice, name string) (uint64, bool) {
	s, ok := ud.sysattr(name)
	if !ok {
		return 0, true
	}
	return parseUint(s, 0, 64)
}

// stringAttr is udevGetStringSysfsAttr: control characters dropped, an
// empty value is none.
func stringAttr(ud *udevDevice, name string) string {
	s, _ := ud.sysattr(name)
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return s
}

func processUSBDevice(ud *udevDevice, d *Device) bool {
	c := &USBDevCap{}
	var ok bool
	if c.Bus, ok = uintProp(ud, "BUSNUM", 10); !ok {
		return false
	}
	if c.Device, ok = uintProp(ud, "DEVNUM", 10); !ok {
		return false
	}
	if c.Vendor, ok = uintProp(ud, "ID_VENDOR_ID", 16); !ok {
		return false
	}
	c.VendorName, _ = ud.prop("ID_VENDOR_FROM_DATABASE")
	if c.VendorName == "" {
		c.VendorName = stringAttr(ud, "manufacturer")
	}
	if c.Product, ok = uintProp(ud, "ID_MODEL_ID", 16); !ok {
		return false
	}
	c.ProductName, _ = ud.prop("ID_MODEL_FROM_DATABASE")
	if c.ProductName == "" {
		c.ProductName = stringAttr(ud, "product")
	}
	d.Cap.USBDev = c
	d.Name = generateName(ud.subsystem, ud.sysname, "")
	return true
}

func processUSBInterface(ud *udevDevice, d *Device) bool {
	c := &USBIfCap{}
	var ok bool
	if c.Number, ok = uintAttr(ud, "bInterfaceNumber", 16, 0); !ok {
		return false
	}
	if c.Class, ok = uintAttr(ud, "bInterfaceClass", 16, 0); !ok {
		return false
	}
	if c.Subclass, ok = uintAttr(ud, "bInterfaceSubClass", 16, 0); !ok {
		return false
	}
	if c.Protocol, ok = uintAttr(ud, "bInterfaceProtocol", 16, 0); !ok {
		return false
	}
	d.Cap.USBIf = c
	d.Name = generateName(ud.subsystem, ud.sysname, "")
	return true
}

func (m *Manager) processNet(ud *udevDevice, d *Device) bool {
	c := &NetCap{Subtype: "80203"}
	if ud.devtype == "wlan" {
		c.Subtype = "80211"
	}
	c.Ifname, _ = ud.prop("INTERFACE")
	c.Address = stringAttr(ud, "address")
	if _, ok := uintAttr(ud, "addr_len", 0, 0); !ok {
		return false
	}
	d.Name = generateName(ud.subsystem, ud.sysname, c.Address)
	d.Cap.Net = c
	return m.refreshNet(c) == nil
}

func (m *Manager) processSCSIHost(ud *udevDevice, d *Device) bool {
	base := filepath.Base(ud.syspath)
	num, ok := strings.CutPrefix(base, "host")
	if !ok {
		return false
	}
	n, ok := parseUint(num, 0, 32)
	if !ok {
		return false
	}
	c := &SCSIHostCap{Host: uint(n)}
	m.refreshSCSIHost(c)
	d.Cap.SCSIHost = c
	d.Name = generateName(ud.subsystem, ud.sysname, "")
	return true
}

// refreshSCSIHost is virNodeDeviceGetSCSIHostCaps.
func (m *Manager) refreshSCSIHost(c *SCSIHostCap) {
	f := m.fs
	host := "host" + strconv.FormatUint(uint64(c.Host), 10)
	c.UniqueID = -1
	if b, err := f.readFile("/sys/class/scsi_host/" + host + "/unique_id"); err == nil {
		s, _, _ := strings.Cut(string(b), "\n")
		if v, ok := parseInt(s, 10); ok {
			c.UniqueID = v
		}
	}
	c.FC, c.Vport = false, false
	c.WWNN, c.WWPN, c.FabricWWN = "", "", ""
	fcDir := "/sys/class/fc_host/" + host
	vhba := func(entry string) (string, bool) {
		b, err := f.readFile(fcDir + "/" + entry)
		if err != nil {
			return "", false
		}
		s, _, _ := strings.Cut(string(b), "\n")
		if i := strings.Index(s, "0x"); i >= 0 {
			s = s[i+2:]
		}
		return s, true
	}
	if f.exists(fcDir) {
		wwpn, ok1 := vhba("port_name")
		wwnn, ok2 := vhba("node_name")
		if !ok1 || !ok2 {
			return
		}
		c.FC, c.WWPN, c.WWNN = true, wwpn, wwnn
		c.FabricWWN, _ = vhba("fabric_name")
	}
	if f.exists(fcDir+"/vport_create") || f.exists("/sys/class/scsi_host/"+host+"/vport_create") {
		maxv, ok1 := vhba("max_npiv_vports")
		inuse, ok2 := vhba("npiv_vports_inuse")
		mv, ok3 := parseInt(maxv, 10)
		iu, ok4 := parseInt(inuse, 10)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			c.FC, c.WWNN, c.WWPN, c.FabricWWN = false, "", "", ""
			return
		}
		c.Vport, c.MaxVports, c.Vports = true, mv, iu
	}
}

func (m *Manager) processSCSITarget(ud *udevDevice, d *Device) bool {
	c := &SCSITargetCap{Name: ud.sysname}
	m.refreshSCSITarget(d.Path, c)
	d.Cap.SCSITarget = c
	d.Name = generateName(ud.subsystem, ud.sysname, "")
	return true
}

// refreshSCSITarget is virNodeDeviceGetSCSITargetCaps: a target below
// an FC remote port names it and its WWPN.
func (m *Manager) refreshSCSITarget(syspath string, c *SCSITargetCap) {
	c.Rport, c.RportWWPN = "", ""
	rport := filepath.Base(filepath.Dir(syspath))
	if !validName(rport) || !m.fs.exists("/sys/class/fc_remote_ports/"+rport) {
		return
	}
	b, err := m.fs.readFile("/sys/class/fc_remote_ports/" + rport + "/port_name")
	if err != nil {
		return
	}
	s, _, _ := strings.Cut(string(b), "\n")
	c.Rport, c.RportWWPN = rport, s
}

var scsiTypes = map[uint]string{
	0x00: "disk", 0x01: "tape", 0x03: "processor", 0x04: "worm", 0x05: "cdrom",
	0x06: "scanner", 0x07: "mod", 0x08: "changer", 0x0d: "enclosure", 0x0c: "raid",
}

func processSCSIDevice(ud *udevDevice, d *Device) bool {
	parts := strings.Split(filepath.Base(ud.syspath), ":")
	if len(parts) != 4 {
		return false
	}
	var v [4]uint
	for i, p := range parts {
		n, ok := parseUint(p, 10, 32)
		if !ok {
			return false
		}
		v[i] = uint(n)
	}
	c := &SCSICap{Host: v[0], Bus: v[1], Target: v[2], Lun: v[3]}
	if s, ok := ud.sysattr("type"); ok {
		t, ok := parseUint(s, 0, 32)
		if !ok {
			return false
		}
		c.Type = scsiTypes[uint(t)]
	}
	d.Cap.SCSI = c
	d.Name = generateName(ud.subsystem, ud.sysname, "")
	return true
}

func processDRM(ud *udevDevice, d *Device) bool {
	s, ok := ud.prop("MINOR")
	if !ok {
		return false
	}
	minor, ok := parseInt(s, 10)
	if !ok || minor < 0 {
		return false
	}
	switch minor >> 6 {
	case 0:
		d.Cap.DRMType = "primary"
	case 1:
		d.Cap.DRMType = "control"
	case 2:
		d.Cap.DRMType = "render"
	default:
		return false
	}
	d.Name = generateName(ud.subsystem, ud.sysname, "")
	return true
}

// processMdev is udevProcessMediatedDevice: the type is where the
// device's mdev_type link points, the UUID its name, the IOMMU group
// its iommu_group link's (virMediatedDeviceGetIOMMUGroupNum), the
// parent address its parent's directory; the name is
// mdev_UUID_PARENT.
func (m *Manager) processMdev(ud *udevDevice, d *Device) bool {
	t, ok := m.fs.resolve(ud.syspath + "/mdev_type")
	if !ok {
		return false
	}
	g, ok := m.fs.resolve(ud.syspath + "/iommu_group")
	if !ok {
		return false
	}
	grp, ok := parseUint(path.Base(g), 10, 32)
	if !ok {
		return false
	}
	parent := path.Base(path.Dir(ud.syspath))
	if parent == "" || parent == "/" || parent == "." {
		return false
	}
	d.Cap.Mdev = &MdevCap{Type: path.Base(t), UUID: ud.sysname, ParentAddr: parent, IOMMUGroup: uint(grp)}
	d.Name = generateName(ud.subsystem, ud.sysname, parent)
	return true
}
