package command

import (
	"strconv"

	"govirt/conf"
)

// vhost-user disks (<disk type='vhostuser'>): the disk is served by an
// external vhost-user-blk backend on a unix socket; QEMU gets a chardev
// to it and a vhost-user-blk-pci device, no block nodes.

// vhostUserDiskChardev is the -chardev of a vhost-user disk: QEMU is
// always the client.
func vhostUserDiskChardev(d *conf.Disk) string {
	src := child(conf.DeviceElement(d), "source")
	s := "socket,id=" + vhostUserChrAlias(d) + ",path=" + escapeComma(d.Source.Path)
	if rc := child(src, "reconnect"); attr(rc, "enabled") == "yes" {
		if t := attr(rc, "timeout"); t != "" {
			s += ",reconnect=" + t
		}
	}
	return s
}

func vhostUserChrAlias(d *conf.Disk) string { return "chr-vu-" + d.Alias }

// checkVhostUserDisk refuses what libvirt's virDomainDiskVhostUserValidate
// refuses, with its messages.
func (b *builder) checkVhostUserDisk(d *conf.Disk) error {
	el := conf.DeviceElement(d)
	drv := child(el, "driver")
	src := child(el, "source")
	if d.TargetBus != "virtio" {
		return unsupported("vhostuser disk supports only virtio bus")
	}
	if attr(src, "type") != "unix" {
		return xmlError("invalid source type '%s' for vhostuser disk", attr(src, "type"))
	}
	if rc := child(src, "reconnect"); rc != nil {
		if t := attr(rc, "timeout"); t != "" {
			if _, err := strconv.ParseUint(t, 10, 32); err != nil {
				return xmlError("invalid reconnect timeout '%s'", t)
			}
		}
	}
	if s := attr(el, "snapshot"); s != "" && s != "no" {
		return unsupported("only snapshot=no is supported with vhostuser disk")
	}
	refused := []struct {
		set  bool
		what string
	}{
		{d.Cache != "", "cache"},
		{attr(drv, "error_policy") != "" || attr(drv, "rerror_policy") != "", "error_policy"},
		{d.IO != "", "io"},
		{attr(drv, "ioeventfd") != "", "ioeventfd"},
		{attr(drv, "copy_on_read") != "", "copy_on_read"},
		{d.Discard != "", "discard"},
		{attr(drv, "iothread") != "", "iothread"},
		{attr(drv, "detect_zeroes") != "", "detect_zeroes"},
		{child(drv, "metadata_cache") != nil, "metadata_cache"},
		{child(el, "iotune") != nil, "iotune"},
		{d.Source.Backing != nil && d.Source.Backing.Type != "", "backingStore"},
		{child(el, "encryption") != nil || child(src, "encryption") != nil, "encryption"},
		{d.ReadOnly, "readonly"},
		{d.Shareable, "shareable"},
		{child(el, "transient") != nil, "transient"},
		{d.Serial != "", "serial"},
		{child(el, "wwn") != nil, "wwn"},
		{child(el, "vendor") != nil, "vendor"},
		{child(el, "product") != nil, "product"},
	}
	for _, r := range refused {
		if r.set {
			return unsupported("%s is not supported with vhostuser disk", r.what)
		}
	}
	return b.requireSharedMemory("vhostuser")
}
