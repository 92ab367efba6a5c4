package command

import (
	"os"

	"govirt/conf"
)

// <source startupPolicy>: what a cold boot does with a local image that
// is missing (qemuDomainCheckDiskStartupPolicy). 'optional' drops it: a
// CD-ROM or floppy starts empty, a disk is removed from the running
// guest. 'requisite' and 'mandatory' keep it, so the start fails on it.
// Migration and restore, where 'requisite' would drop too, do not go
// through here.

// checkStartupPolicies refuses the policies libvirt's parser refuses.
func checkStartupPolicies(ds []*conf.Disk) error {
	for _, d := range ds {
		pol := attr(child(conf.DeviceElement(d), "source"), "startupPolicy")
		switch pol {
		case "":
			continue
		case "mandatory", "requisite", "optional":
		default:
			return xmlError("Invalid value for attribute 'startupPolicy' in element 'source': '%s'.", pol)
		}
		switch d.Source.Type {
		case "file", "block", "dir":
		default:
			return xmlError("disk startupPolicy '%s' is not allowed for disk of '%s' type", pol, d.Source.Type)
		}
		if pol == "requisite" && d.Device != "cdrom" && d.Device != "floppy" {
			return xmlError("disk startupPolicy 'requisite' is allowed only for cdrom or floppy")
		}
	}
	return nil
}

// applyStartupPolicies drops the missing optional images of b.def.
func (b *builder) applyStartupPolicies() { ApplyStartupPolicies(b.def, b.p.SourceExists) }

// ApplyStartupPolicies drops the missing optional images of def, the
// definition about to start; exists nil asks the file system. The driver
// applies it before anything looks at the images (their chains), Build
// again, where it changes nothing more.
func ApplyStartupPolicies(def *conf.Domain, exists func(string) bool) {
	if exists == nil {
		exists = func(p string) bool { _, err := os.Stat(p); return err == nil }
	}
	ds := &def.Devices
	var keep []*conf.Disk
	for _, d := range ds.Disks {
		pol := attr(child(conf.DeviceElement(d), "source"), "startupPolicy")
		if pol != "optional" || sourceEmpty(&d.Source) || exists(d.Source.Path) {
			keep = append(keep, d)
			continue
		}
		if d.Device == "cdrom" || d.Device == "floppy" {
			// The policy no longer applies to whatever is inserted later.
			conf.SetDeviceValue(d, "source/@startupPolicy", "")
			d.Source = conf.DiskSource{Type: d.Source.Type, Format: d.Source.Format}
			keep = append(keep, d)
		}
	}
	ds.Disks = keep
}
