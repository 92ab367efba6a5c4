package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"govirt/conf"
	"govirt/internal/cgroup"
	"govirt/virerr"
)

// A confined guest's cgroup allows only the devices its QEMU may open, as
// libvirt's qemuSetupDevicesCgroup: everything is denied, then come
// qemu.conf's default cgroup_device_acl, every pty (major 136), the
// block and character devices of its disks (read-only for backing
// images and read-only disks), serial/parallel/channel devices, TPM,
// RNG and evdev input devices, USB and SCSI host devices' nodes and VFIO
// for assigned PCI devices.
// Hot-plug keeps the list in sync. As libvirt (qemuSetupDevicesCgroup
// runs whenever the controller is there), a QEMU that runs as root gets
// the same list: the taps, vhost-net, vhost-vsock and vhost-scsi nodes it
// uses are opened by the daemon and reach it as descriptors, which the
// controller does not check. The same paths make up its private /dev
// (namespace_paths.go), which hot-plug also keeps in sync.

// defaultDeviceACL is libvirt's default cgroup_device_acl.
var defaultDeviceACL = []string{"/dev/null", "/dev/full", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/ptmx", "/dev/kvm"}

const devicePtyMajor = 136

// devUse is one device path a guest uses and how.
type devUse struct {
	path, perms string
}

// diskDevices are the device nodes of a disk's chain.
func diskDevices(disk *conf.Disk) []devUse {
	var out []devUse
	i := 0
	for s := &disk.Source; s != nil; s = s.Backing {
		if i > 0 && s.Type == "" {
			break
		}
		if p := localPath(s); p != "" {
			perms := "rw"
			if i > 0 || disk.ReadOnly {
				perms = "r"
			}
			out = append(out, devUse{p, perms})
		}
		i++
	}
	return out
}

// guestDevices lists the device paths of a definition besides its disks.
func guestDevices(def *conf.Domain) []devUse {
	var out []devUse
	devs := def.Tree().Child("devices")
	if devs == nil {
		return nil
	}
	for _, kind := range []string{"serial", "parallel", "channel", "console"} {
		for _, c := range devs.Children(kind) {
			if t, _ := c.Attr("type"); t != "dev" {
				continue
			}
			if src := c.Child("source"); src != nil {
				if p, _ := src.Attr("path"); p != "" {
					out = append(out, devUse{p, "rw"})
				}
			}
		}
	}
	for _, r := range devs.Children("rng") {
		if b := r.Child("backend"); b != nil {
			if m, _ := b.Attr("model"); m == "random" && b.Text() != "" {
				out = append(out, devUse{b.Text(), "rw"})
			}
		}
	}
	for _, t := range devs.Children("tpm") {
		if b := t.Child("backend"); b != nil {
			if dev := b.Child("device"); dev != nil {
				if p, _ := dev.Attr("path"); p != "" {
					out = append(out, devUse{p, "rw"})
				}
			}
		}
	}
	for _, in := range devs.Children("input") {
		if src := in.Child("source"); src != nil {
			if p, _ := src.Attr("evdev"); p != "" {
				out = append(out, devUse{p, "rw"})
			}
		}
	}
	for _, h := range devs.Children("hostdev") {
		// A USB device QEMU opens by its bus and device number.
		if t, _ := h.Attr("type"); t != "usb" {
			continue
		}
		if src := h.Child("source"); src != nil {
			if a := src.Child("address"); a != nil {
				bus, _ := a.Attr("bus")
				dev, _ := a.Attr("device")
				b, err1 := strconv.ParseUint(bus, 0, 32)
				n, err2 := strconv.ParseUint(dev, 0, 32)
				if err1 == nil && err2 == nil {
					out = append(out, devUse{fmt.Sprintf("/dev/bus/usb/%03d/%03d", b, n), "rw"})
				}
			}
		}
	}
	out = append(out, scsiHostdevDevices(devs)...)
	if len(devs.Children("hostdev")) > 0 {
		// The VFIO container and the IOMMU groups' nodes.
		if ents, err := os.ReadDir("/dev/vfio"); err == nil {
			for _, e := range ents {
				out = append(out, devUse{filepath.Join("/dev/vfio", e.Name()), "rw"})
			}
		}
	}
	return out
}

// setupDeviceACL writes the guest's device list into its group.
func (d *Driver) setupDeviceACL(g *cgroup.Group, live *conf.Domain) error {
	if !g.Has(cgroup.Devices) {
		return nil
	}
	if err := g.DenyAllDevices(); err != nil {
		d.log.Warn("Group devices ACL is not accessible, disabling filtering", "err", err)
		return nil
	}
	uses := []devUse{}
	for _, p := range defaultDeviceACL {
		uses = append(uses, devUse{p, "rw"})
	}
	for _, disk := range live.Devices.Disks {
		uses = append(uses, diskDevices(disk)...)
	}
	uses = append(uses, guestDevices(live)...)
	for _, u := range uses {
		if _, err := g.AllowDevicePath(u.path, u.perms); err != nil && !os.IsNotExist(err) {
			if _, statErr := os.Stat(u.path); os.IsNotExist(statErr) {
				continue // libvirt skips an ACL entry the host lacks
			}
			return cgErr(err)
		}
	}
	if err := g.AllowDevice('c', devicePtyMajor, -1, "rw"); err != nil {
		return cgErr(err)
	}
	return nil
}

// allowDiskDevices adds a plugged disk's devices (or a new image's) to
// the guest's list and its private /dev; denyDiskDevices takes them back
// on unplug, except those another disk of the guest still uses.
func (d *Driver) allowDiskDevices(v *vm, disk *conf.Disk) error {
	if disk == nil {
		return nil
	}
	uses := diskDevices(disk)
	if g := guestCgroup(v); g != nil {
		for _, u := range uses {
			if _, err := g.AllowDevicePath(u.path, u.perms); err != nil {
				return cgErr(err)
			}
		}
	}
	return d.nsCreate(v, usePaths(uses), d.nsOwnersOf(v, disk))
}

func (d *Driver) denyDiskDevices(v *vm, disk *conf.Disk) {
	if disk == nil {
		return
	}
	var uses []devUse
	live, _, _ := liveSnapshot(v)
	for _, u := range diskDevices(disk) {
		if !isDefaultACL(u.path) && !usedByOtherDisk(live, disk, u.path) {
			uses = append(uses, u)
		}
	}
	if g := guestCgroup(v); g != nil {
		for _, u := range uses {
			if _, err := g.DenyDevicePath(u.path, "rwm"); err != nil {
				d.log.Warn("cannot deny a device in the guest's cgroup", "domain", v.name, "path", u.path, "err", err)
			}
		}
	}
	if err := d.nsRemove(v, usePaths(uses)); err != nil {
		d.log.Warn("cannot remove a device from the guest's namespace", "domain", v.name, "err", err)
	}
}

// usedByOtherDisk is true when a disk of live other than disk (by alias)
// has path in its chain.
func usedByOtherDisk(live *conf.Domain, disk *conf.Disk, path string) bool {
	if live == nil {
		return false
	}
	for _, x := range live.Devices.Disks {
		if x == disk || (disk.Alias != "" && x.Alias == disk.Alias) {
			continue
		}
		for _, u := range diskDevices(x) {
			if u.path == path {
				return true
			}
		}
	}
	return false
}

func usePaths(uses []devUse) []string {
	out := make([]string, len(uses))
	for i, u := range uses {
		out[i] = u.path
	}
	return out
}

// nsCreate and nsRemove change a running guest's private /dev.
func (d *Driver) nsCreate(v *vm, paths []string, owners map[string]devOwner) error {
	pid, start := guestProc(v)
	if err := nsMknod(pid, start, paths, owners); err != nil {
		return errQEMU(virerr.ErrSystemError, "cannot create devices in the namespace of '%s': %v", v.name, err)
	}
	return nil
}

func (d *Driver) nsRemove(v *vm, paths []string) error {
	pid, start := guestProc(v)
	return nsUnlink(pid, start, paths)
}

// guestProc is the pid and start time of the guest's QEMU (0 if none).
func guestProc(v *vm) (int, uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.proc == nil {
		return 0, 0
	}
	return v.proc.pid, v.proc.start
}

func isDefaultACL(p string) bool {
	for _, x := range defaultDeviceACL {
		if x == p {
			return true
		}
	}
	return false
}
