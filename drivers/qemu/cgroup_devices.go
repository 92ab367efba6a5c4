package qemu

import (
	"os"
	"path/filepath"

	"govirt/conf"
	"govirt/internal/cgroup"
)

// A confined guest's cgroup allows only the devices its QEMU may open, as
// libvirt's qemuSetupDevicesCgroup: everything is denied, then come
// qemu.conf's default cgroup_device_acl, every pty (major 136), the
// block and character devices of its disks (read-only for backing
// images and read-only disks), serial/parallel/channel devices, TPM,
// RNG and evdev input devices and VFIO for assigned PCI devices.
// Hot-plug keeps the list in sync. Only with the security driver on
// (a configured user): a root QEMU keeps today's open list.

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
	if !d.sec.enabled || !g.Has(cgroup.Devices) {
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
// the guest's list; denyDiskDevices takes them back on unplug.
func (d *Driver) allowDiskDevices(v *vm, disk *conf.Disk) error {
	g := guestCgroup(v)
	if !d.sec.enabled || g == nil || disk == nil {
		return nil
	}
	for _, u := range diskDevices(disk) {
		if _, err := g.AllowDevicePath(u.path, u.perms); err != nil {
			return cgErr(err)
		}
	}
	return nil
}

func (d *Driver) denyDiskDevices(v *vm, disk *conf.Disk) {
	g := guestCgroup(v)
	if !d.sec.enabled || g == nil || disk == nil {
		return
	}
	for _, u := range diskDevices(disk) {
		if isDefaultACL(u.path) {
			continue
		}
		if _, err := g.DenyDevicePath(u.path, "rwm"); err != nil {
			d.log.Warn("cannot deny a device in the guest's cgroup", "domain", v.name, "path", u.path, "err", err)
		}
	}
}

func isDefaultACL(p string) bool {
	for _, x := range defaultDeviceACL {
		if x == p {
			return true
		}
	}
	return false
}
