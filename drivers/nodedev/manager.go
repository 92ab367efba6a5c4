package nodedev

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"govirt/conf"
	"govirt/uuid"
	"govirt/virerr"
)

// Config configures a Manager.
type Config struct {
	// Root is the filesystem root the host's /sys, /run/udev and
	// /usr/share/misc are read under; "" is "/".
	Root string
	// Privileged is a root daemon: PCI configuration space is read.
	Privileged bool
	// HostUUID is virGetHostUUID, shown in computer's <hardware>.
	HostUUID func() uuid.UUID
	// Features replaces the ethtool queries (for tests with a fake
	// tree); nil queries the kernel.
	Features func(ifname string) []string
}

// Manager answers the node device calls of one daemon.
type Manager struct {
	fs         fsys
	privileged bool
	hostUUID   func() uuid.UUID
	features   func(string) []string

	idsOnce sync.Once
	ids     *pciIDs

	// mu serialises detach/reattach/reset of PCI functions.
	mu sync.Mutex

	// watchMu guards the uevent watcher's state: how many event
	// registrations hold it (Hold) and the scan the next burst is
	// compared with, taken when the first one came.
	watchMu   sync.Mutex
	watchers  int
	watchPrev map[string]string

	// The last scan, reused for a moment by lookups, lists and parents
	// (virsh nodedev-list --tree asks for every device's parent); an
	// XML description or capability list always scans afresh, as
	// libvirt refreshes a device's dynamic capabilities for them.
	cacheMu  sync.Mutex
	cached   []*Device
	cachedAt time.Time
}

// cacheFor is how long a scan answers lookups and lists.
const cacheFor = time.Second

// recent is the last scan when it is recent enough, else a fresh one.
func (m *Manager) recent() []*Device {
	m.cacheMu.Lock()
	defer m.cacheMu.Unlock()
	if m.cached != nil && time.Since(m.cachedAt) < cacheFor {
		return m.cached
	}
	m.cached, m.cachedAt = m.scan(), time.Now()
	return m.cached
}

// fresh scans now and keeps the result for recent.
func (m *Manager) fresh() []*Device {
	devs := m.scan()
	m.cacheMu.Lock()
	m.cached, m.cachedAt = devs, time.Now()
	m.cacheMu.Unlock()
	return devs
}

// New makes a Manager.
func New(cfg Config) *Manager {
	root := cfg.Root
	if root == "" {
		root = "/"
	}
	m := &Manager{fs: fsys{root}, privileged: cfg.Privileged, hostUUID: cfg.HostUUID, features: cfg.Features}
	if m.features == nil {
		m.features = func(ifname string) []string { return ethtoolFeatures(root, ifname) }
	}
	return m
}

// dmiPath is libvirt's DMI_DEVPATH.
const dmiPath = "/sys/devices/virtual/dmi/id"

// computer is udevSetupSystemDev: the system device with the DMI data.
// Without DMI (no such sysfs directory) libvirt leaves even the UUID
// zero.
func (m *Manager) computer() *Device {
	s := &SystemCap{UUID: "00000000-0000-0000-0000-000000000000"}
	if m.fs.exists(dmiPath + "/uevent") {
		ud := &udevDevice{syspath: dmiPath, fs: m.fs}
		s.ProductName = stringAttr(ud, "product_name")
		s.HWVendor = stringAttr(ud, "sys_vendor")
		s.HWVersion = stringAttr(ud, "product_version")
		s.HWSerial = stringAttr(ud, "product_serial")
		if m.hostUUID != nil {
			s.UUID = m.hostUUID().String()
		}
		s.FWVendor = stringAttr(ud, "bios_vendor")
		s.FWVersion = stringAttr(ud, "bios_version")
		s.FWDate = stringAttr(ud, "bios_date")
	}
	return &Device{Name: "computer", Cap: Cap{Type: "system", System: s}}
}

// errMdevctl is what a mediated device call answers: libvirt runs
// mdevctl, and says so when the host lacks it; govirt does not drive
// mdevctl.
func errMdevctl() error {
	if _, err := exec.LookPath("mdevctl"); err != nil {
		return virerr.New(virerr.FromNone, virerr.ErrSystemError, "Cannot find 'mdevctl' in path: No such file or directory")
	}
	return virerr.New(virerr.FromNodedev, virerr.ErrOperationUnsupported, "mediated devices (mdevctl) are not supported by govirt")
}

// validName says whether a name from a client may be looked for: device
// names are made only of letters, digits and '_', interface names of
// what the kernel allows (no '/', no NUL, not "." or "..", < 16 bytes).
// Nothing a client sends is ever joined to a path without it.
func validName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 255 {
		return false
	}
	return !strings.ContainsAny(s, "/\x00\n")
}

func errFlags(flags, allowed uint32, fn string) error {
	if flags&^allowed != 0 {
		return virerr.Raw(virerr.FromNodedev, virerr.ErrInvalidArg, fmt.Sprintf("unsupported flags (0x%x) in function %s", flags&^allowed, fn))
	}
	return nil
}

func errNoDevice(name string) error {
	return virerr.New(virerr.FromNodedev, virerr.ErrNoNodeDevice, "no node device with matching name '%s'", name)
}

// find is nodeDeviceObjFindByName plus nodeDeviceUpdateCaps (the scan is
// fresh, so its dynamic capabilities are current).
func (m *Manager) find(name string) (*Device, error) {
	return m.findIn(name, m.fresh)
}

// findRecent is find on the last scan when it is recent.
func (m *Manager) findRecent(name string) (*Device, error) {
	return m.findIn(name, m.recent)
}

func (m *Manager) findIn(name string, scan func() []*Device) (*Device, error) {
	if !validName(name) {
		return nil, errNoDevice(name)
	}
	for _, d := range scan() {
		if d.Name == name {
			return d, nil
		}
	}
	return nil, errNoDevice(name)
}

// capBits are VIR_CONNECT_LIST_NODE_DEVICES_CAP_*, bit i for name i.
var capBits = []string{"system", "pci", "usb_device", "usb", "net", "scsi_host", "scsi_target", "scsi",
	"storage", "fc_host", "vports", "scsi_generic", "drm", "mdev_types", "mdev", "ccw", "css", "vdpa",
	"ap_card", "ap_queue", "ap_matrix", "vpd"}

const (
	listCapsMask   = 1<<22 - 1
	listInactive   = 1 << 30
	listActive     = 1 << 31
	listFiltersAll = listCapsMask | listInactive | listActive
)

// ListAllNodeDevices is nodeConnectListAllNodeDevices: every device is
// active (udev only reports present devices).
func (m *Manager) ListAllNodeDevices(flags uint32) ([]string, error) {
	if err := errFlags(flags, listFiltersAll, "nodeConnectListAllNodeDevices"); err != nil {
		return nil, err
	}
	out := []string{}
	for _, d := range m.recent() {
		if flags&listCapsMask != 0 {
			match := false
			for i, c := range capBits {
				if flags&(1<<i) != 0 && d.hasCap(c) {
					match = true
				}
			}
			if !match {
				continue
			}
		}
		if flags&(listActive|listInactive) != 0 && flags&listActive == 0 {
			continue
		}
		out = append(out, d.Name)
	}
	return out, nil
}

func (m *Manager) list(cap string) []string {
	out := []string{}
	for _, d := range m.recent() {
		if cap == "" || d.hasCap(cap) {
			out = append(out, d.Name)
		}
	}
	return out
}

// NodeNumOfDevices is nodeNumOfDevices.
func (m *Manager) NodeNumOfDevices(cap string, flags uint32) (int32, error) {
	if err := errFlags(flags, 0, "nodeNumOfDevices"); err != nil {
		return 0, err
	}
	return int32(len(m.list(cap))), nil
}

// NodeListDevices is nodeListDevices.
func (m *Manager) NodeListDevices(cap string, maxnames int32, flags uint32) ([]string, error) {
	if err := errFlags(flags, 0, "nodeListDevices"); err != nil {
		return nil, err
	}
	names := m.list(cap)
	if maxnames < 0 {
		maxnames = 0
	}
	if int32(len(names)) > maxnames {
		names = names[:maxnames]
	}
	return names, nil
}

// LookupNodeDeviceByName is nodeDeviceLookupByName.
func (m *Manager) LookupNodeDeviceByName(name string) (string, error) {
	d, err := m.findRecent(name)
	if err != nil {
		return "", err
	}
	return d.Name, nil
}

// LookupSCSIHostByWWN is nodeDeviceLookupSCSIHostByWWN.
func (m *Manager) LookupSCSIHostByWWN(wwnn, wwpn string, flags uint32) (string, error) {
	if err := errFlags(flags, 0, "nodeDeviceLookupSCSIHostByWWN"); err != nil {
		return "", err
	}
	for _, d := range m.scan() {
		if h := d.Cap.SCSIHost; h != nil && h.FC && h.WWNN == wwnn && h.WWPN == wwpn {
			return d.Name, nil
		}
	}
	// virNodeDeviceObjListFindSCSIHostByWWNs fails without reporting an
	// error; the client shows its placeholder.
	return "", virerr.Raw(virerr.FromNone, virerr.ErrInternalError, "An error occurred, but the cause is unknown")
}

// NodeDeviceGetXMLDesc is nodeDeviceGetXMLDesc.
func (m *Manager) NodeDeviceGetXMLDesc(name string, flags uint32) (string, error) {
	if err := errFlags(flags, 0, "nodeDeviceGetXMLDesc"); err != nil {
		return "", err
	}
	d, err := m.find(name)
	if err != nil {
		return "", err
	}
	return d.Format(), nil
}

// NodeDeviceGetParent is nodeDeviceGetParent.
func (m *Manager) NodeDeviceGetParent(name string) (string, error) {
	d, err := m.findRecent(name)
	if err != nil {
		return "", err
	}
	if d.Parent == "" {
		return "", virerr.New(virerr.FromNodedev, virerr.ErrInternalError, "no parent for this device")
	}
	return d.Parent, nil
}

// NodeDeviceNumOfCaps is nodeDeviceNumOfCaps.
func (m *Manager) NodeDeviceNumOfCaps(name string) (int32, error) {
	d, err := m.find(name)
	if err != nil {
		return 0, err
	}
	return int32(len(d.capNames())), nil
}

// NodeDeviceListCaps is nodeDeviceListCaps.
func (m *Manager) NodeDeviceListCaps(name string, maxnames int32) ([]string, error) {
	d, err := m.find(name)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, c := range d.capNames() {
		if int32(len(out)) < maxnames {
			out = append(out, c)
		}
	}
	return out, nil
}

// NodeDeviceCreateXML is nodeDeviceCreateXML: a vHBA needs a
// vport-capable FC HBA (refused here as libvirt refuses when the host
// has none), a mediated device needs mdevctl (not served), anything
// else is refused as libvirt refuses it.
func (m *Manager) NodeDeviceCreateXML(xml string, flags uint32) (string, error) {
	if err := errFlags(flags, 1, "nodeDeviceCreateXML"); err != nil {
		return "", err
	}
	def, err := conf.ParseNodeDevice([]byte(xml), conf.NodeDevCreate)
	if err != nil {
		return "", err
	}
	errNodedev := func(format string, args ...any) error {
		return virerr.New(virerr.FromNodedev, virerr.ErrInternalError, format, args...)
	}
	switch {
	case def.HasCap("scsi_host"):
		if h := def.SCSIHost(); h == nil || !h.FCHost {
			return "", errNodedev("Device is not a fibre channel HBA")
		}
		if def.Parent != "" {
			p, err := m.find(def.Parent)
			if err != nil {
				return "", errNodedev("Could not find parent device for '%s'", def.Name)
			}
			if p.Cap.SCSIHost == nil || !p.Cap.SCSIHost.Vport {
				return "", errNodedev("Parent device %s is not capable of vport operations", p.Name)
			}
		} else {
			found := false
			for _, d := range m.scan() {
				if d.Cap.SCSIHost != nil && d.Cap.SCSIHost.Vport {
					found = true
				}
			}
			if !found {
				return "", errNodedev("Could not find any vport capable device")
			}
		}
		return "", virerr.New(virerr.FromNodedev, virerr.ErrOperationUnsupported, "creating vHBAs is not supported by govirt")
	case def.HasCap("mdev"):
		if def.Parent == "" {
			return "", virerr.New(virerr.FromNodedev, virerr.ErrXMLError, "cannot create a mediated device without a parent")
		}
		return "", errMdevctl()
	}
	return "", virerr.New(virerr.FromNodedev, virerr.ErrConfigUnsupported, "Unsupported device type")
}

// NodeDeviceDestroy is nodeDeviceDestroy: only vHBAs and mediated
// devices can be destroyed, and this host's devices are neither.
func (m *Manager) NodeDeviceDestroy(name string) error {
	d, err := m.find(name)
	if err != nil {
		return err
	}
	if h := d.Cap.SCSIHost; h != nil && h.FC {
		return virerr.New(virerr.FromNodedev, virerr.ErrOperationUnsupported, "destroying vHBAs is not supported by govirt")
	}
	return virerr.New(virerr.FromNodedev, virerr.ErrConfigUnsupported, "Unsupported device type")
}
