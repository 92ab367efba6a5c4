package command

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"

	"govirt/conf"
)

// Taps as libvirt makes them: the driver creates (or, managed='no',
// opens) the tap before QEMU starts, enslaves it to its bridge and
// brings it up, and QEMU gets descriptors: one per queue (fd= or fds=),
// plus vhost-net descriptors for virtio NICs (vhostfd=/vhostfds=).

// TapRequest asks the caller for a tap device (Paths.OpenTap).
type TapRequest struct {
	// IfName is the tap's name; "" lets the caller choose one (libvirt:
	// vnetN).
	IfName string
	// Bridge is the bridge to enslave the tap to; "" for type='ethernet'.
	Bridge string
	// Managed false (<target managed='no'>) opens an existing tap and
	// changes nothing about it.
	Managed bool
	// Queues is the number of descriptors (multiqueue when above 1).
	Queues int
	// VnetHdr asks for IFF_VNET_HDR, which virtio NICs use.
	VnetHdr bool
	// MAC is the guest's MAC; the host side takes it with the first
	// byte 0xfe, so a bridge never takes over the guest's address.
	MAC string
	// MTU, when not 0, is set on the tap.
	MTU int
	// Script (<script path>, type='ethernet' only) is run with the
	// tap's name once it is up, as libvirt's virNetDevRunEthernetScript.
	Script string
	// Macvtap, for type='direct', asks for a macvtap device on the host
	// interface Link in mode Mode (vepa, bridge, private, passthrough)
	// instead of a tap; its MAC is the guest's.
	Macvtap bool
	Link    string
	Mode    string
	// CoalesceRxFrames (<coalesce><rx><frames max>) is set on the tap
	// with ethtool's ETHTOOL_SCOALESCE, as libvirt's virNetDevSetCoalesce;
	// nil leaves the tap's default.
	CoalesceRxFrames *uint32
}

// TapResult is the tap the caller made: its name and the descriptor
// numbers QEMU inherits, one per queue.
type TapResult struct {
	IfName string
	FDs    []int
}

// tapFDs opens the tap and vhost-net descriptors of a tap interface;
// both are nil when the caller passes no OpenTap (QEMU then creates the
// tap by name, the form hot-plug uses).
func (b *builder) tapFDs(n *conf.Interface, e *conf.Element) (taps, vhost []int, err error) {
	if b.p.Pretend {
		return b.pretendTapFDs(n, e)
	}
	if b.p.OpenTap == nil {
		return nil, nil, nil
	}
	queues := max(netQueues(e), 1)
	virtio, _ := virtioModel(n.Model)
	mtu, _ := strconv.Atoi(attr(child(e, "mtu"), "size"))
	// Names with libvirt's generated prefixes are never reused: another
	// guest may hold that name by now (libvirt drops them at parse).
	ifname := n.TargetDev
	if strings.HasPrefix(ifname, "vnet") || strings.HasPrefix(ifname, "macvtap") {
		ifname = ""
	}
	req := TapRequest{
		IfName:  ifname,
		Bridge:  n.Bridge,
		Managed: attr(child(e, "target"), "managed") != "no",
		Queues:  queues,
		VnetHdr: virtio,
		MAC:     n.MAC,
		MTU:     mtu,
		Script:  attr(child(e, "script"), "path"),
	}
	if f := attr(child(e, "coalesce", "rx", "frames"), "max"); f != "" {
		v, _ := strconv.ParseUint(f, 10, 32)
		u := uint32(v)
		req.CoalesceRxFrames = &u
	}
	if n.Type == "direct" {
		src := child(e, "source")
		req.Macvtap, req.Link, req.Mode = true, attr(src, "dev"), attr(src, "mode")
		if req.Mode == "" {
			req.Mode = "vepa"
		}
		switch req.Mode {
		case "vepa", "bridge", "private", "passthrough":
		default:
			return nil, nil, xmlError("Unknown mode '%s' in interface <source> element", req.Mode)
		}
		if req.Link == "" {
			return nil, nil, xmlError("No <source> 'dev' attribute specified with <interface type='direct'/>")
		}
	}
	res, err := b.p.OpenTap(req)
	if err != nil {
		return nil, nil, err
	}
	n.TargetDev = res.IfName
	// vhost-net serves virtio NICs unless <driver name='qemu'>; when the
	// host lacks it the NIC works without, unless vhost was asked for.
	name := attr(child(e, "driver"), "name")
	if virtio && name != "qemu" {
		if b.p.OpenVhostNet == nil {
			if name == "vhost" {
				return nil, nil, unsupported("vhost-net is not supported with this QEMU binary")
			}
		} else if vhost, err = b.p.OpenVhostNet(queues); err != nil {
			if name == "vhost" {
				return nil, nil, err
			}
			vhost = nil
		}
	}
	return res.FDs, vhost, nil
}

// joinFDs is the fd= (one) or fds= (several, colon separated) value.
func joinFDs(fds []int) (key, val string) {
	s := make([]string, len(fds))
	for i, f := range fds {
		s[i] = strconv.Itoa(f)
	}
	if len(fds) > 1 {
		return "fds", strings.Join(s, ":")
	}
	return "fd", strings.Join(s, ":")
}

// tapNetdev is the tap -netdev of qemuBuildHostNetProps: descriptors,
// vhost, sndbuf.
func tapNetdev(n *conf.Interface, e *conf.Element, taps, vhost []int) (obj, error) {
	nd := obj{}.set("type", "tap")
	if taps == nil {
		// QEMU creates the tap itself (ifname); the caller brings it
		// up and enslaves it once QEMU runs.
		nd = nd.set("ifname", n.TargetDev).set("script", "no").set("downscript", "no")
	} else {
		k, v := joinFDs(taps)
		nd = nd.set(k, v)
		if len(vhost) > 0 {
			nd = nd.set("vhost", true)
			k, v := joinFDs(vhost)
			nd = nd.set("vhost"+k, v)
		}
	}
	if s := child(e, "tune", "sndbuf"); s != nil {
		v, err := strconv.ParseUint(s.Text(), 10, 64)
		if err != nil {
			return nil, xmlError("Invalid sndbuf value '%s'", s.Text())
		}
		nd = nd.set("sndbuf", v)
	}
	return nd, nil
}

// hostHasFile is whether a host device file (/dev/vhost-net,
// /dev/vhost-scsi) exists, for a pretend start that opens none; a
// variable so tests can pretend either way.
var hostHasFile = func(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// pretendTapFDs numbers the descriptors a tap interface would pass
// without opening anything: libvirt's pretend start connects the tap as
// a real start does (qemuBuildInterfaceConnect) and so shows fd= (and
// vhostfd= for a virtio NIC when the host has vhost-net), never ifname=.
// govirt leaves the host alone: no tap is created and no <script> runs.
func (b *builder) pretendTapFDs(n *conf.Interface, e *conf.Element) (taps, vhost []int, err error) {
	queues := max(netQueues(e), 1)
	for range queues {
		taps = append(taps, b.hostFD(HostFile{}, false))
	}
	virtio, _ := virtioModel(n.Model)
	name := attr(child(e, "driver"), "name")
	if virtio && name != "qemu" {
		if !hostHasFile("/dev/vhost-net") {
			if name == "vhost" {
				return nil, nil, unsupported("vhost-net is not supported with this QEMU binary")
			}
			return taps, nil, nil
		}
		for range queues {
			vhost = append(vhost, b.hostFD(HostFile{}, false))
		}
	}
	return taps, vhost, nil
}

// HotplugTapFDs opens the tap and vhost-net descriptors of n, about to be
// hot-plugged into the running guest def, through p's OpenTap and
// OpenVhostNet, as a start does: libvirt's qemuDomainAttachNetDevice
// creates the tap in the daemon and passes its descriptors, so QEMU never
// opens /dev/net/tun (which its private /dev lacks). Without OpenTap
// both are nil and QEMU creates the tap by name.
func HotplugTapFDs(def *conf.Domain, n *conf.Interface, caps Caps, p Paths) (taps, vhost []int, err error) {
	b := hotplugBuilder(def, caps)
	b.p = p
	return b.tapFDs(n, conf.DeviceElement(n))
}

// NetdevAddNamed is NetdevAdd for a tap whose descriptors QEMU received
// with getfd under the names taps and vhost.
func NetdevAddNamed(n *conf.Interface, taps, vhost []string) (json.RawMessage, error) {
	nd, err := hostNetProps(n, conf.DeviceElement(n))
	if err != nil {
		return nil, err
	}
	named := obj{}
	for _, p := range nd {
		if p.k != "ifname" && p.k != "script" && p.k != "downscript" {
			named = append(named, p)
		}
	}
	nd = named
	key := func(k string, names []string) (string, string) {
		if len(names) > 1 {
			return k + "s", strings.Join(names, ":")
		}
		return k, strings.Join(names, ":")
	}
	k, v := key("fd", taps)
	nd = nd.set(k, v)
	if len(vhost) > 0 {
		k, v := key("vhostfd", vhost)
		nd = nd.set("vhost", true).set(k, v)
	}
	return json.RawMessage(nd.String()), nil
}
