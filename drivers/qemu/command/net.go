package command

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"govirt/conf"
)

// netModels maps the non-virtio <model type> values libvirt 9.0 knows
// for x86 to their QEMU NIC device; virtio models go through
// virtioDevice ("virtio-net").
var netModels = map[string]string{"e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139",
	"vmxnet3": "vmxnet3", "usb-net": "usb-net", "ne2k_pci": "ne2k_pci", "pcnet": "pcnet",
	"i82551": "i82551", "i82557b": "i82557b", "i82559er": "i82559er"}

// netDriver returns the QEMU device type of a NIC model (virtio models
// without their transitional suffix).
func netDriver(model string) (string, bool) {
	if ok, _ := virtioModel(model); ok {
		return "virtio-net-pci", true
	}
	d, ok := netModels[model]
	return d, ok
}

// netIsPCIe reports whether a NIC model is a PCI Express endpoint (on q35
// it gets a root port of its own).
func netIsPCIe(model string) bool {
	ok, suffix := virtioModel(model)
	return (ok && suffix != "-transitional") || model == "e1000e"
}

func (b *builder) emitNets() error {
	boot := b.bootIndexes()
	for i, n := range b.def.Devices.Interfaces {
		if err := b.emitNet(i, n, boot[n]); err != nil {
			return err
		}
	}
	return nil
}

// emitNet writes one interface as libvirt's qemuBuildInterfaceCommandLine
// does: what the backend needs first (a vhost-user chardev), the
// -netdev, then the NIC -device.
func (b *builder) emitNet(i int, n *conf.Interface, bootindex int) error {
	e := conf.DeviceElement(n)
	if err := b.checkNet(n, e); err != nil {
		return err
	}
	var taps, vhost []int
	switch n.Type {
	case "direct":
		if b.p.OpenTap == nil {
			return unsupported("<interface type='direct'> needs the driver to create the macvtap device")
		}
		var err error
		if taps, vhost, err = b.tapFDs(n, e); err != nil {
			return err
		}
	case "ethernet", "bridge", "network":
		if n.Type != "ethernet" && n.Bridge == "" {
			return unsupported("interface %s of type %s has no <source bridge>", n.Alias, n.Type)
		}
		var err error
		if taps, vhost, err = b.tapFDs(n, e); err != nil {
			return err
		}
		if n.TargetDev == "" {
			// QEMU creates the tap (no OpenTap): libvirt numbers vnetN
			// host-wide; the builder has no host-wide state, so it
			// derives a name unique to the domain (IFNAMSIZ is 16).
			n.TargetDev = fmt.Sprintf("vn%s-%d", strings.ReplaceAll(b.def.UUID.String(), "-", "")[:8], i)
		}
		b.taps = append(b.taps, Tap{IfName: n.TargetDev, Bridge: n.Bridge})
	case "vhostuser":
		cd, err := vhostUserChardev(child(e, "source"), "char"+n.Alias)
		if err != nil {
			return err
		}
		b.add("-chardev", cd)
	}
	nd, err := hostNetPropsFDs(n, e, taps, vhost)
	if err != nil {
		return err
	}
	if isPasst(n, e) {
		nd = append(b.passtNetdev(n), nd...)
		args, err := b.passtArgs(n, e)
		if err != nil {
			return err
		}
		b.passts = append(b.passts, Passt{Alias: n.Alias, Socket: b.passtSocket(n.Alias), Args: args})
	}
	if n.Type == "vdpa" {
		// QEMU gets the vhost-vdpa device as an fd set
		// (qemuInterfaceVDPAConnect + qemuFDPassTransferCommand).
		set, err := b.passFDSet(attr(child(e, "source"), "dev"), n.Alias+"-vdpa")
		if err != nil {
			return err
		}
		nd = vdpaNetdev(nd, set)
	}
	b.add("-netdev", nd.String())
	dev, err := b.nicDevice(n, e, bootindex)
	if err != nil {
		return err
	}
	b.device(dev)
	return nil
}

// vhostUserChardev is the -chardev of a vhost-user backend socket
// (<source type='unix' path mode>): QEMU listens when the mode is
// server, and then waits for the backend to connect before starting.
func vhostUserChardev(src *conf.Element, id string) (string, error) {
	if t := attr(src, "type"); t != "unix" {
		return "", unsupportedValue("devices/interface/source", "type", t)
	}
	path := attr(src, "path")
	if path == "" {
		return "", xmlError("Missing source path attribute for char device")
	}
	s := "socket,id=" + id + ",path=" + escapeComma(path)
	switch m := attr(src, "mode"); m {
	case "server":
		s += ",server=on"
	case "client":
	default:
		return "", unsupportedValue("devices/interface/source", "mode", m)
	}
	if r := child(src, "reconnect"); r != nil && attr(r, "enabled") == "yes" {
		s += ",reconnect=" + attr(r, "timeout")
	}
	return s, nil
}

// hostNetProps is the -netdev (netdev_add) of an interface, properties in
// libvirt's order (qemuBuildHostNetProps), "id" last.
func hostNetProps(n *conf.Interface, e *conf.Element) (obj, error) {
	return hostNetPropsFDs(n, e, nil, nil)
}

// hostNetPropsFDs is hostNetProps with the tap and vhost-net descriptors
// the caller opened for a tap interface.
func hostNetPropsFDs(n *conf.Interface, e *conf.Element, taps, vhost []int) (obj, error) {
	nd := obj{}
	src := child(e, "source")
	switch n.Type {
	case "user":
		if isPasst(n, e) {
			// The stream netdev is built by emitNet, which knows the
			// socket (passtNetdev).
			return obj{}.set("id", "host"+n.Alias), nil
		}
		nd = nd.set("type", "user")
		for _, ip := range e.Children("ip") {
			a, err := netip.ParseAddr(attr(ip, "address"))
			if err != nil {
				return nil, xmlError("Invalid IP address '%s'", attr(ip, "address"))
			}
			prefix := attr(ip, "prefix")
			if a.Is4() {
				s := a.String()
				if prefix != "" && prefix != "0" {
					s += "/" + prefix
				}
				nd = nd.set("net", s)
			} else {
				nd = nd.set("ipv6-prefix", a.String())
				if prefix != "" && prefix != "0" {
					p, _ := strconv.Atoi(prefix)
					nd = nd.set("ipv6-prefixlen", p)
				}
			}
		}
	case "ethernet", "bridge", "network", "direct":
		var err error
		if nd, err = tapNetdev(n, e, taps, vhost); err != nil {
			return nil, err
		}
	case "server", "client", "mcast", "udp":
		port := attr(src, "port")
		addr := attr(src, "address")
		switch n.Type {
		case "server":
			nd = nd.set("type", "socket").set("listen", addr+":"+port)
		case "client":
			nd = nd.set("type", "socket").set("connect", addr+":"+port)
		case "mcast":
			nd = nd.set("type", "socket").set("mcast", addr+":"+port)
		case "udp":
			l := child(src, "local")
			nd = nd.set("type", "socket").set("udp", addr+":"+port).
				set("localaddr", attr(l, "address")+":"+attr(l, "port"))
		}
	case "vhostuser":
		nd = nd.set("type", "vhost-user").set("chardev", "char"+n.Alias)
		if q := netQueues(e); q > 1 {
			nd = nd.set("queues", q)
		}
	case "vdpa":
		// vhostdev is filled in by vdpaNetdev once the fd set exists.
		nd = nd.set("type", "vhost-vdpa").set("vhostdev", "")
		if q := netQueues(e); q > 1 {
			nd = nd.set("queues", q)
		}
	default:
		return nil, unsupportedValue("devices/interface", "type", n.Type)
	}
	return nd.set("id", "host"+n.Alias), nil
}

// netQueues is <driver queues>, 0 when unset.
func netQueues(e *conf.Element) int {
	q, _ := strconv.Atoi(attr(child(e, "driver"), "queues"))
	return q
}

// txModes maps <driver txmode> to virtio-net's tx property.
var txModes = map[string]string{"iothread": "bh", "timer": "timer"}

// nicOffloads are the <driver><host>/<guest> attributes in libvirt's
// property order, with the QEMU property each becomes.
var nicOffloads = []struct{ elem, attr, prop string }{
	{"host", "csum", "csum"}, {"host", "gso", "gso"}, {"host", "tso4", "host_tso4"},
	{"host", "tso6", "host_tso6"}, {"host", "ecn", "host_ecn"}, {"host", "ufo", "host_ufo"},
	{"host", "mrg_rxbuf", "mrg_rxbuf"}, {"guest", "csum", "guest_csum"},
	{"guest", "tso4", "guest_tso4"}, {"guest", "tso6", "guest_tso6"},
	{"guest", "ecn", "guest_ecn"}, {"guest", "ufo", "guest_ufo"},
}

// nicDevice is the -device (device_add) of an interface, properties in
// libvirt's order (qemuBuildNicDevProps).
func (b *builder) nicDevice(n *conf.Interface, e *conf.Element, bootindex int) (obj, error) {
	drv := child(e, "driver")
	var o obj
	if ok, _ := virtioModel(n.Model); ok {
		var err error
		if o, err = b.virtioDevice("virtio-net", n.Model, drv); err != nil {
			return nil, err
		}
		if tx := attr(drv, "txmode"); tx != "" {
			if txModes[tx] == "" {
				return nil, xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "txmode", "driver", tx)
			}
			o = o.set("tx", txModes[tx])
		}
		for _, a := range []struct{ attr, prop string }{{"ioeventfd", "ioeventfd"}, {"event_idx", "event_idx"}} {
			v, err := tristate(drv, a.attr)
			if err != nil {
				return nil, err
			}
			if v != nil {
				o = o.set(a.prop, *v)
			}
		}
		for _, f := range nicOffloads {
			v, err := tristate(child(drv, f.elem), f.attr)
			if err != nil {
				return nil, err
			}
			if v != nil {
				o = o.set(f.prop, *v)
			}
		}
		if q := netQueues(e); q > 1 {
			// 2N+2 vectors, as advised for multiqueue virtio-net.
			o = o.set("mq", true).set("vectors", 2*q+2)
		}
		for _, a := range []string{"rx_queue_size", "tx_queue_size"} {
			if s := attr(drv, a); s != "" {
				v, _ := strconv.ParseUint(s, 10, 32)
				o = o.set(a, v)
			}
		}
		for _, a := range []struct{ attr, prop string }{{"rss", "rss"}, {"rss_hash_report", "hash"}} {
			v, err := tristate(drv, a.attr)
			if err != nil {
				return nil, err
			}
			if v != nil {
				o = o.set(a.prop, *v)
			}
		}
		if m := attr(child(e, "mtu"), "size"); m != "" && m != "0" {
			v, _ := strconv.ParseUint(m, 10, 32)
			o = o.set("host_mtu", v)
		}
		if attr(child(e, "teaming"), "type") == "persistent" {
			o = o.set("failover", true)
		}
	} else {
		d, ok := netDriver(n.Model)
		if !ok {
			return nil, unsupportedValue("devices/interface/model", "type", n.Model)
		}
		if err := noVirtioOpts(drv); err != nil {
			return nil, err
		}
		o = obj{}.set("driver", d)
	}
	o = o.set("netdev", "host"+n.Alias).set("id", n.Alias).set("mac", n.MAC)
	if bootindex > 0 {
		o = o.set("bootindex", bootindex)
	}
	o = b.pciProps(o, n.Address)
	return romProps(o, e, n.Address)
}

// romProps appends a PCI device's <rom bar file enabled> (qemuBuildRomProps).
func romProps(o obj, e *conf.Element, a conf.Address) (obj, error) {
	rom := child(e, "rom")
	if rom == nil {
		return o, nil
	}
	bar, hasBar := rom.Attr("bar")
	file, hasFile := rom.Attr("file")
	enabled, hasEnabled := rom.Attr("enabled")
	if !hasBar && !hasFile && !hasEnabled {
		return o, nil
	}
	if a.Type != "pci" {
		return nil, unsupported("ROM tuning is only supported for PCI devices")
	}
	switch enabled {
	case "no":
		return o.set("romfile", ""), nil
	case "yes", "":
	default:
		return nil, xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "enabled", "rom", enabled)
	}
	switch bar {
	case "on":
		o = o.set("rombar", 1)
	case "off":
		o = o.set("rombar", 0)
	case "":
	default:
		return nil, xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "bar", "rom", bar)
	}
	if hasFile {
		o = o.set("romfile", file)
	}
	return o, nil
}

// checkNet applies libvirt's validation of an interface
// (qemuValidateDomainDeviceDefNetwork and the parser's checks) where the
// builder's input can violate it.
func (b *builder) checkNet(n *conf.Interface, e *conf.Element) error {
	if err := checkPasst(n, e); err != nil {
		return err
	}
	if n.Type == "vhostuser" {
		if ok, _ := virtioModel(n.Model); !ok {
			return virerrInternal("Wrong or no <model> 'type' attribute specified with <interface type='vhostuser'/>. vhostuser requires the virtio-net* frontend")
		}
		src := child(e, "source")
		if attr(src, "mode") == "server" && attr(child(src, "reconnect"), "enabled") == "yes" {
			return unsupported("'reconnect' attribute unsupported 'server' mode for <interface type='vhostuser'>")
		}
	}
	if n.Type != "bridge" && n.Type != "network" && n.Bridge != "" {
		return unsupported("<source bridge> needs interface type 'bridge'")
	}
	ips := e.Children("ip")
	if len(e.Children("route")) > 0 && n.Type == "user" {
		return unsupported("Invalid attempt to set network interface guest-side IP route, not supported by QEMU")
	}
	if n.Type == "user" {
		has4, has6 := false, false
		for _, ip := range ips {
			if attr(ip, "peer") != "" {
				return unsupported("Invalid attempt to set peer IP for guest")
			}
			a, err := netip.ParseAddr(attr(ip, "address"))
			if err != nil {
				return xmlError("Invalid IP address '%s'", attr(ip, "address"))
			}
			prefix, _ := strconv.Atoi(attr(ip, "prefix"))
			if a.Is4() {
				if has4 {
					return unsupported("Only one IPv4 address per interface is allowed")
				}
				has4 = true
				if prefix > 0 && (prefix < 4 || prefix > 27) {
					return xmlError("invalid prefix, must be in range of 4-27")
				}
			} else {
				if has6 {
					return unsupported("Only one IPv6 address per interface is allowed")
				}
				has6 = true
				if prefix != 0 && prefix != 64 {
					return unsupported("unsupported IPv6 address prefix='%d' - must be 64", prefix)
				}
			}
		}
	} else if len(ips) > 0 || len(e.Children("route")) > 0 {
		return unsupported("Invalid attempt to set network interface guest-side IP route and/or address info, not supported by QEMU")
	}
	drv := child(e, "driver")
	if ok, _ := virtioModel(n.Model); ok {
		for _, a := range []string{"rx_queue_size", "tx_queue_size"} {
			if s := attr(drv, a); s != "" {
				v, err := strconv.ParseUint(s, 10, 32)
				if err != nil {
					return xmlError("'%s' attribute must be positive number: %s", a, s)
				}
				if v&(v-1) != 0 {
					return unsupported("%s has to be a power of two", a)
				}
			}
		}
		if attr(drv, "rss") != "" && !b.caps.Has("virtio-net.rss") {
			return unsupported("virtio rss is not supported with this QEMU binary")
		}
		if attr(drv, "rss_hash_report") != "" && !b.caps.Has("virtio-net.rss") {
			return unsupported("virtio rss hash report is not supported with this QEMU binary")
		}
		if q := attr(drv, "queues"); q != "" {
			if _, err := strconv.ParseUint(q, 10, 32); err != nil {
				return xmlError("'queues' attribute must be positive number: %s", q)
			}
		}
	} else if drv != nil {
		for _, a := range []string{"queues", "rx_queue_size", "tx_queue_size", "txmode", "ioeventfd", "event_idx", "rss", "rss_hash_report"} {
			if attr(drv, a) != "" {
				return unsupported("<driver %s> needs a virtio interface model", a)
			}
		}
	}
	if n.Type == "vdpa" {
		if !b.caps.Has("netdev.vhost-vdpa") {
			return unsupported("vDPA devices are not supported with this QEMU binary")
		}
		if n.Model != "virtio" {
			return unsupported("invalid model for interface of type '%s': '%s'", n.Type, n.Model)
		}
		if attr(child(e, "source"), "dev") == "" {
			return xmlError("Missing required attribute 'dev' in element 'source'")
		}
	}
	if mtu := child(e, "mtu"); mtu != nil {
		switch {
		case n.Type == "ethernet", n.Type == "bridge", n.Type == "network", n.Type == "vhostuser", isPasst(n, e):
		default:
			return unsupported("setting MTU on interface type %s is not supported yet", n.Type)
		}
	}
	if child(e, "script") != nil && n.Type != "ethernet" {
		return unsupported("scripts are not supported on interfaces of type %s", n.Type)
	}
	if child(e, "script") != nil && b.p.OpenTap == nil && !b.p.Pretend {
		return unsupported("<script> needs the tap to be created by govirt's QEMU driver")
	}
	// <bandwidth> is applied with tc once the taps exist (the driver's
	// applyBandwidths); other types: libvirt only warns that it cannot
	// shape them.
	if t := child(e, "teaming"); t != nil {
		ok, _ := virtioModel(n.Model)
		if attr(t, "type") == "persistent" && !ok {
			return unsupported("virtio-net teaming persistent interface must be <model type='virtio'/>, not '%s'", n.Model)
		}
		if attr(t, "type") == "transient" && n.Type != "network" {
			return unsupported("virtio-net teaming transient interface must be type='hostdev', not '%s'", n.Type)
		}
	}
	if child(e, "coalesce") != nil {
		switch n.Type {
		case "bridge", "network":
		default:
			return unsupported("coalesce settings on interface type %s are not supported", n.Type)
		}
		if f := attr(child(e, "coalesce", "rx", "frames"), "max"); f != "" {
			if _, err := strconv.ParseUint(f, 10, 32); err != nil {
				return xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "max", "frames", f)
			}
		}
		if b.p.OpenTap == nil {
			return unsupported("<coalesce> needs the tap to be created by govirt's QEMU driver")
		}
	}
	if l := child(e, "link"); l != nil {
		switch st := attr(l, "state"); st {
		case "up", "down":
		default:
			return xmlError("unknown interface link state '%s'", st)
		}
	}
	return nil
}

// NetLinkDown reports the interfaces whose <link state='down'/> the
// driver must apply with set_link once QEMU runs (QEMU starts every link
// up; libvirt does the same after start).
func NetLinkDown(def *conf.Domain) []string {
	var out []string
	for _, n := range def.Devices.Interfaces {
		if attr(child(conf.DeviceElement(n), "link"), "state") == "down" {
			out = append(out, n.Alias)
		}
	}
	return out
}

// vdpaNetdev points a vhost-vdpa netdev at its fd set.
func vdpaNetdev(nd obj, set int) obj {
	for i := range nd {
		if nd[i].k == "vhostdev" {
			nd[i].v = "/dev/fdset/" + strconv.Itoa(set)
		}
	}
	return nd
}

// passFDSet has the caller open path for QEMU (O_RDWR) and adds it as a
// new fd set with the given opaque name; it returns the set's number.
func (b *builder) passFDSet(path, opaque string) (int, error) {
	if b.p.OpenFD == nil {
		return 0, unsupported("'%s' needs descriptor passing, which this caller of govirt's QEMU driver does not provide", path)
	}
	fd, err := b.p.OpenFD(path, os.O_RDWR)
	if err != nil {
		return 0, err
	}
	set := b.fdsets
	b.fdsets++
	b.add("-add-fd", "set="+strconv.Itoa(set)+",fd="+strconv.Itoa(fd)+",opaque="+opaque)
	return set, nil
}
