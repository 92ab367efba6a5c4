package command

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// Host devices (<hostdev mode='subsystem'>): PCI functions through
// vfio-pci, USB devices through usb-host and mediated devices (mdev)
// through vfio-pci's sysfsdev, as qemuBuildHostdevCommandLine. Binding a
// managed PCI function to vfio-pci is the driver's business (Hostdevs
// tells it which). SCSI and vhost-scsi host devices are refused.

// HostPCI is a host PCI function a guest uses, as the driver must
// prepare it: bound to vfio-pci (detached from its host driver when
// Managed) before QEMU starts, given back afterwards.
type HostPCI struct {
	Address string // DDDD:BB:SS.F
	Managed bool
}

func (b *builder) hostdevs() []*conf.RawDevice { return b.def.RawDevicesOf("hostdev") }

// hostdevType is a hostdev's type attribute.
func hostdevType(h *conf.RawDevice) string { return attr(conf.DeviceElement(h), "type") }

// hostdevIsPCIDev reports hostdevs that take a guest PCI address.
func hostdevIsPCIDev(h *conf.RawDevice) bool {
	switch hostdevType(h) {
	case "pci":
		return true
	case "mdev":
		return attr(conf.DeviceElement(h), "model") == "vfio-pci"
	}
	return false
}

// hostdevPCIDevs are the PCI hostdevs for address assignment, which
// libvirt does after virtio disks.
func (b *builder) hostdevPCIDevs() []pciDev {
	var out []pciDev
	for i, h := range b.hostdevs() {
		if hostdevIsPCIDev(h) {
			g, s := rawAddr(h)
			out = append(out, pciDev{fmt.Sprintf("hostdev %d", i), g, s, true})
		}
	}
	return out
}

// assignHostdevAliases names hostdevs hostdev0, hostdev1, ... in order,
// as libvirt's qemuAssignDeviceHostdevAlias does for a new definition: a
// user alias (ua-...) keeps its name and takes no number.
func (b *builder) assignHostdevAliases() {
	next := 0
	for _, h := range b.hostdevs() {
		name := attr(child(conf.DeviceElement(h), "alias"), "name")
		if a := alias(name, ""); a != "" {
			continue
		}
		conf.SetDeviceValue(h, "alias/@name", fmt.Sprintf("hostdev%d", next))
		next++
	}
}

// hostPCIAddr formats a <source><address> as DDDD:BB:SS.F.
func hostPCIAddr(a *conf.Element) (string, error) {
	var v [4]uint64
	for i, n := range []string{"domain", "bus", "slot", "function"} {
		s := attr(a, n)
		if s == "" && n == "domain" {
			continue
		}
		x, err := strconv.ParseUint(s, 0, 32)
		if err != nil {
			return "", xmlError("Invalid PCI address %s '%s'", n, s)
		}
		v[i] = x
	}
	if v[0] > 0xffff || v[1] > 0xff || v[2] > 0x1f || v[3] > 7 {
		return "", xmlError("Invalid PCI address %04x:%02x:%02x.%x", v[0], v[1], v[2], v[3])
	}
	return fmt.Sprintf("%04x:%02x:%02x.%x", v[0], v[1], v[2], v[3]), nil
}

// checkHostdevs applies libvirt's checks of host devices
// (virDomainDefHostdevValidate, qemuValidateDomainDeviceDefHostdev,
// qemuValidateDomainMdevDefVFIOPCI).
func (b *builder) checkHostdevs() error {
	ramfb := false
	for _, h := range b.hostdevs() {
		e := conf.DeviceElement(h)
		switch attr(e, "type") {
		case "scsi_host":
			switch t := conf.DeviceAddress(h).Type; t {
			case "", "pci", "ccw":
			default:
				return unsupported("SCSI_host host device must use 'pci' or 'ccw' address type")
			}
			if bootOrder(e) > 0 {
				return unsupported("booting from assigned devices is not supported by vhost SCSI devices")
			}
			if !b.caps.Has("vhost-scsi") {
				return unsupported("This QEMU doesn't support vhost-scsi devices")
			}
			continue
		case "usb":
			if attr(child(e, "source"), "guestReset") != "" && !b.caps.Has("usb-host.guest-resets-all") {
				return unsupported("guestReset is not supported with this version of QEMU")
			}
			continue
		case "mdev":
		default:
			continue
		}
		if attr(e, "ramfb") == "on" {
			if ramfb {
				return unsupported("Only one vgpu device can have 'ramfb' enabled")
			}
			ramfb = true
		}
		if attr(e, "model") != "vfio-pci" {
			continue
		}
		if bootOrder(e) > 0 {
			return unsupported("booting from assigned devices is not supported by mediated devices of model vfio-pci")
		}
		if attr(e, "display") == "on" && len(b.def.Devices.Graphics) == 0 {
			return unsupported("graphics device is needed for attribute value 'display=on' in <hostdev>")
		}
	}
	return nil
}

// emitHostdevs writes the host devices after the watchdog, as libvirt.
func (b *builder) emitHostdevs() error {
	if err := b.checkHostdevs(); err != nil {
		return err
	}
	if err := b.checkSCSIHostdevs(); err != nil {
		return err
	}
	scsiIndex := b.scsiHostdevIndex()
	usbUsed := map[string]bool{}
	for _, in := range b.def.Devices.Inputs {
		if a := conf.DeviceAddress(in); a.Type == "usb" {
			usbUsed[a.Port] = true
		}
	}
	for _, h := range b.hostdevs() {
		if a := conf.DeviceAddress(h); a.Type == "usb" {
			usbUsed[a.Port] = true
		}
	}
	for _, h := range b.hostdevs() {
		e := conf.DeviceElement(h)
		if m := attr(e, "mode"); m != "" && m != "subsystem" {
			return unsupportedValue("devices/hostdev", "mode", m)
		}
		id := attr(child(e, "alias"), "name")
		src := child(e, "source")
		var o obj
		switch t := attr(e, "type"); t {
		case "pci":
			host, err := hostPCIAddr(child(src, "address"))
			if err != nil {
				return err
			}
			if d := attr(child(e, "driver"), "name"); d != "" && d != "vfio" {
				return unsupported("host doesn't support passthrough of host PCI devices")
			} else if d == "" && b.p.Pretend {
				// A real start picks the backend while preparing the
				// host (qemuHostdevPreparePCIDevicesCheckSupport),
				// which libvirt's pretend start skips, so its command
				// line builder meets the unset one.
				return virerr.New(virerr.FromQemu, virerr.ErrInternalError, "invalid PCI passthrough type 'default'")
			}
			b.hostPCI = append(b.hostPCI, HostPCI{Address: host, Managed: attr(e, "managed") == "yes"})
			o = obj{}.set("driver", "vfio-pci").set("host", host).set("id", id)
			if bi := bootOrder(e); bi > 0 {
				o = o.set("bootindex", bi)
			}
			a := conf.DeviceAddress(h)
			o = b.pciProps(o, a)
			var err2 error
			if o, err2 = romProps(o, e, a); err2 != nil {
				return err2
			}
		case "usb":
			a := child(src, "address")
			bus, _ := strconv.ParseUint(attr(a, "bus"), 0, 32)
			dev, _ := strconv.ParseUint(attr(a, "device"), 0, 32)
			if bus == 0 && dev == 0 {
				if child(src, "vendor") != nil {
					return unsupported("USB host devices by vendor/product are not supported by govirt's QEMU driver")
				}
				return xmlError("USB host device is missing bus/device information")
			}
			o = obj{}.set("driver", "usb-host").set("hostdevice", fmt.Sprintf("/dev/bus/usb/%03d/%03d", bus, dev)).set("id", id)
			if bi := bootOrder(e); bi > 0 {
				o = o.set("bootindex", bi)
			}
			switch r := attr(src, "guestReset"); r {
			case "off":
				o = o.set("guest-reset", false)
			case "uninitialized":
				o = o.set("guest-reset", true).set("guest-resets-all", false)
			case "on":
				o = o.set("guest-reset", true).set("guest-resets-all", true)
			case "", "default":
			default:
				return xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "guestReset", "source", r)
			}
			usbAddr, err := b.usbHostdevAddr(h, usbUsed)
			if err != nil {
				return err
			}
			o = o.set("bus", usbAddr[0]).set("port", usbAddr[1])
		case "scsi":
			var err error
			if o, err = b.emitSCSIHostdev(h, e, id, scsiIndex); err != nil {
				return err
			}
			scsiIndex++
		case "scsi_host":
			var err error
			if o, err = b.vhostSCSI(h, e, id); err != nil {
				return err
			}
		case "mdev":
			if m := attr(e, "model"); m != "vfio-pci" {
				return unsupportedValue("devices/hostdev", "model", m)
			}
			uuid := attr(child(src, "address"), "uuid")
			if uuid == "" {
				return xmlError("Missing 'uuid' attribute for element <address>")
			}
			// A ramfb display cannot be unplugged: QEMU's variant
			// without hotplug (qemuBuildHostdevMdevModelTypeString).
			drv := "vfio-pci"
			if attr(e, "ramfb") == "on" {
				drv = "vfio-pci-nohotplug"
			}
			o = obj{}.set("driver", drv).set("id", id).set("sysfsdev", "/sys/bus/mdev/devices/"+uuid)
			switch d := attr(e, "display"); d {
			case "on", "off":
				o = o.set("display", d)
			case "":
			default:
				return xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "display", "hostdev", d)
			}
			if attr(e, "ramfb") == "on" {
				o = o.set("ramfb", true)
			}
			if bi := bootOrder(e); bi > 0 {
				o = o.set("bootindex", bi)
			}
			o = b.pciProps(o, conf.DeviceAddress(h))
		default:
			return unsupportedValue("devices/hostdev", "type", t)
		}
		b.device(o)
	}
	return nil
}

// usbHostdevAddr is the (bus, port) of a USB hostdev: its USB address,
// given or assigned with the other USB devices' (assignUSB, usb.go).
func (b *builder) usbHostdevAddr(h *conf.RawDevice, _ map[string]bool) ([2]string, error) {
	a := conf.DeviceAddress(h)
	if a.Type != "usb" {
		return [2]string{}, unsupported("USB host device cannot have an address of type '%s'", a.Type)
	}
	o, err := b.usbProps(obj{}, a)
	if err != nil {
		return [2]string{}, err
	}
	bus, _ := o.get("bus")
	port, _ := o.get("port")
	ps, _ := port.(string)
	return [2]string{bus.(string), ps}, nil
}

// vhostSCSI is the vhost-scsi-pci device of a <hostdev type='scsi_host'>
// (qemuBuildSCSIVHostHostdevDevProps) with the descriptor of the host's
// /dev/vhost-scsi, passed to QEMU directly (vhostfd=N).
func (b *builder) vhostSCSI(h *conf.RawDevice, e *conf.Element, id string) (obj, error) {
	src := child(e, "source")
	if p := attr(src, "protocol"); p != "vhost" {
		return nil, xmlError("Unknown scsi_host subsys protocol type '%s'", p)
	}
	wwpn := attr(src, "wwpn")
	if wwpn == "" {
		return nil, xmlError("missing vhost-scsi hostdev source wwpn")
	}
	if !validWWPN(wwpn) {
		return nil, xmlError("malformed 'wwpn' value")
	}
	model := attr(e, "model")
	if model == "" {
		model = "virtio"
	}
	if ok, _ := virtioModel(model); !ok {
		return nil, xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "model", "hostdev", model)
	}
	drv, err := b.virtioTypeName("vhost-scsi", model)
	if err != nil {
		return nil, err
	}
	if b.p.OpenFD == nil {
		return nil, unsupported("vhost-scsi needs descriptor passing, which this caller of govirt's QEMU driver does not provide")
	}
	if b.p.Pretend && !hostHasFile("/dev/vhost-scsi") {
		// libvirt opens the device while building the command line,
		// pretend start or not (virSCSIVHostOpenVhostSCSI).
		return nil, unsupported("vhost-scsi device file '%s' cannot be found", "/dev/vhost-scsi")
	}
	fd, err := b.p.OpenFD("/dev/vhost-scsi", os.O_RDWR)
	if err != nil {
		return nil, err
	}
	o := obj{}.set("driver", drv).set("wwpn", wwpn).set("vhostfd", strconv.Itoa(fd)).set("id", id)
	return b.pciProps(o, conf.DeviceAddress(h)), nil
}

// validWWPN is libvirt's check of a vhost-scsi wwpn: "naa." and 16 hex
// digits (an optional 0x before them).
func validWWPN(w string) bool {
	if !strings.HasPrefix(w, "naa.") {
		return false
	}
	w = strings.TrimPrefix(strings.TrimPrefix(w[4:], "0x"), "0X")
	if len(w) != 16 {
		return false
	}
	for _, c := range w {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
