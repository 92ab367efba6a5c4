package command

import (
	"strconv"

	"govirt/conf"
)

// <vsock>: vhost-vsock-pci with the descriptor of the host's
// /dev/vhost-vsock, which the driver opens and gives the guest's CID
// (Paths.OpenVsock), as libvirt's qemuProcessOpenVhostVsock.

func (b *builder) vsock() (*conf.RawDevice, error) {
	l := b.def.RawDevicesOf("vsock")
	if len(l) > 1 {
		return nil, xmlError("only a single vsock device is supported")
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l[0], nil
}

// vsockPCIDevs is the vsock for PCI address assignment, which libvirt
// does after every other device.
func (b *builder) vsockPCIDevs() []pciDev {
	v, _ := b.vsock()
	if v == nil {
		return nil
	}
	g, s := rawAddr(v)
	ok, suffix := virtioModel(cmpModel(attr(conf.DeviceElement(v), "model")))
	return []pciDev{{"vsock", g, s, ok && suffix != "-transitional"}}
}

func cmpModel(m string) string {
	if m == "" {
		return "virtio"
	}
	return m
}

// emitVsock writes the vsock device, last before -msg as libvirt.
func (b *builder) emitVsock() error {
	v, err := b.vsock()
	if v == nil || err != nil {
		return err
	}
	e := conf.DeviceElement(v)
	model := cmpModel(attr(e, "model"))
	if ok, _ := virtioModel(model); !ok {
		return xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "model", "vsock", model)
	}
	if attr(e, "model") == "" {
		conf.SetDeviceValue(v, "@model", model)
	}
	if !b.caps.Has("vhost-vsock") {
		return unsupported("vsock device is not supported with this QEMU binary")
	}
	cidEl := child(e, "cid")
	var cid uint64
	if s := attr(cidEl, "address"); s != "" {
		cid, err = strconv.ParseUint(s, 10, 32)
		if err != nil || cid == 0 {
			return xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "address", "cid", s)
		}
	}
	if cid > 0 && cid <= 2 {
		return unsupported("guest CIDs must be >= 3")
	}
	auto := attr(cidEl, "auto")
	switch auto {
	case "", "no", "yes":
	default:
		return xmlError("Invalid value for attribute '%s' in element '%s': '%s'.", "auto", "cid", auto)
	}
	// A pretend start opens no /dev/vhost-vsock: libvirt shows the
	// unset descriptor (-1) and the CID as written (0 when automatic).
	fd, got := -1, uint32(cid)
	if !b.p.Pretend {
		if b.p.OpenVsock == nil {
			return unsupported("<vsock> is not supported by govirt's QEMU driver here")
		}
		if fd, got, err = b.p.OpenVsock(uint32(cid), auto == "yes"); err != nil {
			return err
		}
		conf.SetDeviceValue(v, "cid/@address", strconv.FormatUint(uint64(got), 10))
	}
	alias := attr(child(e, "alias"), "name")
	if alias == "" {
		alias = "vsock0"
		conf.SetDeviceValue(v, "alias/@name", alias)
	}
	o, err := b.virtioDevice("vhost-vsock", model, child(e, "driver"))
	if err != nil {
		return err
	}
	o = o.set("id", alias).set("guest-cid", got).set("vhostfd", strconv.Itoa(fd))
	b.device(b.pciProps(o, conf.DeviceAddress(v)))
	return nil
}
