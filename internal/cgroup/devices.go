package cgroup

import (
	"fmt"
	"path/filepath"
	"syscall"
)

// The v1 devices controller: a guest's group denies every device, then
// allows the ones its QEMU may open (libvirt's virCgroupDenyAllDevices,
// virCgroupAllowDevice, virCgroupAllowDevicePath). Thread sub-groups do
// not have the controller, so QEMU's threads all share the machine
// group's list. On v2 the list is a BPF program and map
// (devices_v2.go), which the thread sub-groups inherit.

// DenyAllDevices writes "a" to devices.deny.
func (g *Group) DenyAllDevices() error {
	if g.Has(Devices) && g.h.isV2(Devices) {
		return g.v2DenyAll()
	}
	return g.devicesWrite("devices.deny", "a")
}

// deviceRule is one line of devices.allow/deny: "c 1:3 rw", with
// minor -1 for every minor of a major ("c 136:* rw").
func deviceRule(kind byte, major, minor int, perms string) string {
	m := "*"
	if minor >= 0 {
		m = fmt.Sprint(minor)
	}
	return fmt.Sprintf("%c %d:%s %s", kind, major, m, perms)
}

// AllowDevice allows one device, or a whole major with minor -1.
func (g *Group) AllowDevice(kind byte, major, minor int, perms string) error {
	if g.Has(Devices) && g.h.isV2(Devices) {
		return g.v2Allow(kind, major, minor, perms)
	}
	return g.devicesWrite("devices.allow", deviceRule(kind, major, minor, perms))
}

// DenyDevice takes a device back.
func (g *Group) DenyDevice(kind byte, major, minor int, perms string) error {
	if g.Has(Devices) && g.h.isV2(Devices) {
		return g.v2Deny(kind, major, minor, perms)
	}
	return g.devicesWrite("devices.deny", deviceRule(kind, major, minor, perms))
}

// devicePath is the kind, major and minor of a device node; ok is false
// for anything else (regular files need no rule).
func devicePath(path string) (kind byte, major, minor int, ok bool, err error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, 0, 0, false, sysErr(err, "Path '%s' is not accessible", path)
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFCHR:
		kind = 'c'
	case syscall.S_IFBLK:
		kind = 'b'
	default:
		return 0, 0, 0, false, nil
	}
	rdev := uint64(st.Rdev)
	major = int((rdev>>8)&0xfff | (rdev>>32)&^0xfff)
	minor = int(rdev&0xff | (rdev>>12)&^0xff)
	return kind, major, minor, true, nil
}

// AllowDevicePath allows the device node at path with perms ("r", "rw",
// "rwm"); it reports false, without error, when path is not a device.
func (g *Group) AllowDevicePath(path, perms string) (bool, error) {
	kind, major, minor, ok, err := devicePath(path)
	if !ok || err != nil {
		return false, err
	}
	return true, g.AllowDevice(kind, major, minor, perms)
}

// DenyDevicePath is AllowDevicePath's opposite.
func (g *Group) DenyDevicePath(path, perms string) (bool, error) {
	kind, major, minor, ok, err := devicePath(path)
	if !ok || err != nil {
		return false, err
	}
	return true, g.DenyDevice(kind, major, minor, perms)
}

// DeviceList is the group's devices.list (on v2, the map in that form).
func (g *Group) DeviceList() (string, error) {
	if !g.Has(Devices) {
		return "", nil
	}
	if g.h.isV2(Devices) {
		return g.v2List()
	}
	return readTrim(filepath.Join(g.Dir(Devices), "devices.list"))
}

func (g *Group) devicesWrite(file, rule string) error {
	if !g.Has(Devices) || g.h.isV2(Devices) {
		return nil
	}
	return writeValue(filepath.Join(g.Dir(Devices), file), rule)
}
