package command

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"govirt/conf"
)

// SCSI host devices (<hostdev type='scsi'>): a host SCSI LUN through its
// SCSI generic node, or an iSCSI LUN, given to the guest as scsi-generic
// on a SCSI controller (qemuBuildHostdevSCSICommandLine). Their -blockdev
// nodes are numbered after the disks' (libvirt-N-backend).

// scsiGenericPath finds the /dev/sgN of a host SCSI address
// (virSCSIDeviceGetSgName): the adapter scsi_hostH and bus:target:unit.
func (b *builder) scsiGenericPath(adapter string, bus, target, unit uint64) (string, error) {
	if !strings.HasPrefix(adapter, "scsi_host") {
		return "", xmlError("Invalid adapter name '%s' for SCSI pass through", adapter)
	}
	host, err := strconv.ParseUint(strings.TrimPrefix(adapter, "scsi_host"), 10, 32)
	if err != nil {
		return "", xmlError("Invalid adapter name '%s' for SCSI pass through", adapter)
	}
	addr := fmt.Sprintf("%d:%d:%d:%d", host, bus, target, unit)
	if b.p.SCSIGeneric != nil {
		return b.p.SCSIGeneric(addr)
	}
	return hostSCSIGeneric(addr)
}

// scsiHostdevIndex is the first node-name index after the disks'.
func (b *builder) scsiHostdevIndex() int {
	n := 0
	for _, d := range b.def.Devices.Disks {
		for _, s := range layers(d) {
			var k int
			if _, err := fmt.Sscanf(s.NodeName, "libvirt-%d-", &k); err == nil {
				n = max(n, k)
			}
		}
	}
	return n + 1
}

// checkSCSIHostdevs applies libvirt's checks of SCSI hostdev addresses
// (virDomainDefHostdevValidate, the disk/hostdev drive conflicts).
func (b *builder) checkSCSIHostdevs() error {
	type key struct{ c, bus, t, u uint }
	seen := map[key]bool{}
	for _, h := range b.hostdevs() {
		if hostdevType(h) != "scsi" {
			continue
		}
		a := conf.DeviceAddress(h)
		if a.Type != "drive" {
			continue
		}
		k := key{a.Controller, a.Bus, a.Target, a.Unit}
		if seen[k] {
			return unsupported("SCSI host address controller='%d' bus='%d' target='%d' unit='%d' in use by another SCSI host device", a.Controller, a.Bus, a.Target, a.Unit)
		}
		seen[k] = true
		for _, d := range b.def.Devices.Disks {
			if d.TargetBus == "scsi" && d.Address.Type == "drive" && d.Address.Controller == a.Controller &&
				d.Address.Bus == a.Bus && d.Address.Target == a.Target && d.Address.Unit == a.Unit {
				// libvirt's message, its missing closing quote included.
				return unsupported("using disk target name '%s' conflicts with SCSI host device address controller='%d' bus='%d' target='%d' unit='%d", d.TargetDev, a.Controller, a.Bus, a.Target, a.Unit)
			}
		}
	}
	return nil
}

// emitSCSIHostdev writes the backend node (and its secret) and the
// scsi-generic device of one SCSI hostdev.
func (b *builder) emitSCSIHostdev(h *conf.RawDevice, e *conf.Element, id string, index int) (obj, error) {
	src := child(e, "source")
	if attr(src, "sgio") == "unfiltered" {
		return nil, unsupported("unfiltered sgio is no longer supported")
	}
	node := fmt.Sprintf("libvirt-%d-backend", index)
	ro := child(e, "readonly") != nil
	var be obj
	switch p := attr(src, "protocol"); p {
	case "", "adapter":
		ad := child(src, "address")
		var v [3]uint64
		for i, n := range []string{"bus", "target", "unit"} {
			x, err := strconv.ParseUint(attr(ad, n), 0, 32)
			if err != nil {
				return nil, xmlError("cannot parse SCSI %s '%s'", n, attr(ad, n))
			}
			v[i] = x
		}
		sg, err := b.scsiGenericPath(attr(child(src, "adapter"), "name"), v[0], v[1], v[2])
		if err != nil {
			return nil, err
		}
		be = obj{}.set("driver", "host_device").set("filename", sg)
	case "iscsi":
		name := attr(src, "name")
		target, lunStr, hasLun := strings.Cut(name, "/")
		lun := uint64(0)
		if hasLun {
			var err error
			if lun, err = strconv.ParseUint(lunStr, 10, 32); err != nil {
				return nil, internalError("cannot parse target for lunStr '%s'", target)
			}
		}
		host := child(src, "host")
		hname := attr(host, "name")
		if hname == "" {
			return nil, xmlError("missing hostname for iSCSI host device")
		}
		port := attr(host, "port")
		if port == "" {
			port = "3260"
		}
		portal := hname + ":" + port
		if ip := net.ParseIP(hname); ip != nil && ip.To4() == nil {
			portal = "[" + hname + "]:" + port
		}
		be = obj{}.set("driver", "iscsi").set("portal", portal).set("target", target).set("lun", lun).set("transport", "tcp")
		if auth := child(src, "auth"); auth != nil {
			secID := node + "-secret0"
			val, err := lookupSecret(b.hostEnv(), secretRef(child(auth, "secret"), "iscsi"))
			if err != nil {
				return nil, err
			}
			so, err := b.secretObject(secID, val)
			if err != nil {
				return nil, err
			}
			b.object(so)
			be = be.set("user", attr(auth, "username")).set("password-secret", secID)
		}
		if iqn := attr(child(src, "initiator", "iqn"), "name"); iqn != "" {
			be = be.set("initiator-name", iqn)
		}
	default:
		return nil, xmlError("Unknown SCSI subsystem protocol '%s'", p)
	}
	b.add("-blockdev", be.set("node-name", node).set("read-only", ro).String())
	o := obj{}.set("driver", "scsi-generic").set("drive", node).set("id", id)
	if bi := bootOrder(e); bi > 0 {
		o = o.set("bootindex", bi)
	}
	a := conf.DeviceAddress(h)
	switch a.Type {
	case "drive":
	case "":
		return nil, unsupported("SCSI host device %s needs a drive address (automatic ones are not assigned by govirt's QEMU driver)", id)
	default:
		return nil, unsupported("SCSI host device must use 'drive' address type")
	}
	c := b.controller("scsi", int(a.Controller))
	if c == nil {
		return nil, unsupported("SCSI host device %s: no SCSI controller %d", id, a.Controller)
	}
	switch c.Model {
	case "lsilogic", "ncr53c90", "dc390", "am53c974":
		o = o.set("bus", fmt.Sprintf("%s.%d", c.Alias, a.Bus)).set("scsi-id", a.Unit)
	default:
		o = o.set("bus", c.Alias+".0").set("channel", a.Bus).set("scsi-id", a.Target).set("lun", a.Unit)
	}
	return o, nil
}

// HostSCSIGeneric is the /dev/sgN of the host SCSI device H:B:T:U, as
// the command line names it (the daemon's device lists use it too).
func HostSCSIGeneric(addr string) (string, error) { return hostSCSIGeneric(addr) }

// hostSCSIGeneric reads the SCSI generic node of a host SCSI device from
// sysfs.
func hostSCSIGeneric(addr string) (string, error) {
	ents, err := os.ReadDir("/sys/bus/scsi/devices/" + addr + "/scsi_generic")
	if err != nil || len(ents) == 0 {
		return "", unsupported("SCSI device %s has no SCSI generic node on this host", addr)
	}
	return "/dev/" + ents[0].Name(), nil
}
