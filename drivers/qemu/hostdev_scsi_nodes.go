package qemu

import (
	"fmt"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/drivers/qemu/command"
)

// scsiGenericOf finds the /dev/sgN of a host SCSI device "H:B:T:U" (from
// sysfs; tests replace it).
var scsiGenericOf = command.HostSCSIGeneric

// scsiHostdevDevices are the SCSI generic nodes QEMU opens by name for the
// <hostdev type='scsi'> of a host adapter (libvirt's
// qemuDomainGetHostdevPath with virSCSIDeviceGetPath): read-write, or
// read-only with <readonly/>. iSCSI ones open no node. They go into the
// guest's cgroup list, its private /dev and (security_nsdev.go's
// hostdevFiles) its DAC labels, as libvirt's qemuSetupHostdevCgroup,
// qemuDomainSetupHostdev and virSecurityDACSetHostdevLabel.
func scsiHostdevDevices(devs *conf.Element) []devUse {
	var out []devUse
	for _, h := range devs.Children("hostdev") {
		if p := scsiHostdevNode(h); p != "" {
			perms := "rw"
			if h.Child("readonly") != nil {
				perms = "r"
			}
			out = append(out, devUse{p, perms})
		}
	}
	return out
}

// scsiHostdevNode is the /dev/sgN of one <hostdev type='scsi'> ("" for
// another kind, iSCSI, or a device the host lacks: the command line
// refuses that one).
func scsiHostdevNode(h *conf.Element) string {
	if t, _ := h.Attr("type"); t != "scsi" {
		return ""
	}
	if m, ok := h.Attr("mode"); ok && m != "subsystem" {
		return ""
	}
	src := h.Child("source")
	if src == nil {
		return ""
	}
	if p, _ := src.Attr("protocol"); p != "" && p != "adapter" {
		return ""
	}
	var name string
	if a := src.Child("adapter"); a != nil {
		name, _ = a.Attr("name")
	}
	hostN, ok := strings.CutPrefix(name, "scsi_host")
	host, err := strconv.ParseUint(hostN, 10, 32)
	addr := src.Child("address")
	if !ok || err != nil || addr == nil {
		return ""
	}
	var v [3]uint64
	for i, n := range []string{"bus", "target", "unit"} {
		s, _ := addr.Attr(n)
		if v[i], err = strconv.ParseUint(s, 0, 32); err != nil {
			return ""
		}
	}
	sg, err := scsiGenericOf(fmt.Sprintf("%d:%d:%d:%d", host, v[0], v[1], v[2]))
	if err != nil {
		return ""
	}
	return sg
}

// hostdevFiles are the SCSI generic nodes the DAC driver labels (all of
// them, remembered, as virSecurityDACSetSCSILabel).
func hostdevFiles(def *conf.Domain) []string {
	devs := def.Tree().Child("devices")
	if devs == nil {
		return nil
	}
	var out []string
	for _, u := range scsiHostdevDevices(devs) {
		out = append(out, u.path)
	}
	return out
}
