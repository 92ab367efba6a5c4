package postparse

import (
	"fmt"
	"strconv"

	"govirt/conf"
)

// implicitDevices is the part of virDomainDefPostParseCommon that adds
// devices: the serial a serial console stands for, the controllers
// disks and virtio channels address, the video of graphics; then video
// defaults and the model of implicit SCSI controllers.
func (p *pp) implicitDevices() error {
	ds := &p.def.Devices
	// virDomainDefAddConsoleCompat for HVM guests.
	if len(ds.Consoles) > 0 && (ds.Consoles[0].TargetType == "" || ds.Consoles[0].TargetType == "serial") {
		c := ds.Consoles[0]
		{
			if len(ds.Serials) == 0 {
				s, err := serialFromConsole(c)
				if err != nil {
					return err
				}
				ds.Serials = append(ds.Serials, s)
				serialPostParse(s)
			}
			if c.TargetType == "" {
				c.TargetType = "serial"
			}
			conf.SetDeviceValue(c, "target/@type", "serial")
			if _, ok := conf.DeviceElement(c).Child("target").Attr("port"); !ok {
				conf.SetDeviceValue(c, "target/@port", strconv.Itoa(ds.Serials[0].TargetPort))
			}
			conf.OrderDeviceAttrs(c, "target", "type", "port")
		}
	} else if len(ds.Serials) > 0 && stubConsoleFor(ds.Serials[0]) {
		// A serial port that can be the guest's console gets the console
		// standing for it, first of the consoles (ttyconsole and "virsh
		// console" find it there).
		c, err := consoleFromSerial(ds.Serials[0])
		if err != nil {
			return err
		}
		ds.Consoles = append([]*conf.Chardev{c}, ds.Consoles...)
	}
	// virDomainDefAddImplicitControllers.
	for _, bus := range []string{"scsi", "fdc", "ide", "sata"} {
		highest := -1
		for _, d := range ds.Disks {
			if d.TargetBus == bus && d.Address.Type == "drive" {
				highest = max(highest, int(d.Address.Controller))
			}
		}
		for i := 0; i <= highest; i++ {
			p.maybeAddController(bus, i, "")
		}
	}
	for _, list := range [][]*conf.Chardev{ds.Channels, ds.Consoles} {
		for _, c := range list {
			if c.TargetType != "virtio" {
				continue
			}
			idx := 0
			if a := conf.DeviceAddress(c); a.Type == "virtio-serial" {
				idx = int(a.Controller)
			}
			p.maybeAddController("virtio-serial", idx, "")
		}
	}
	p.smartcardControllers()
	if len(ds.Graphics) > 0 && len(ds.Videos) == 0 {
		ds.Videos = append(ds.Videos, &conf.Video{})
	}
	for i, v := range ds.Videos {
		p.videoPostParse(v, i == 0)
	}
	for _, c := range ds.Controllers {
		if c.Type == "scsi" {
			p.controllerPostParse(c)
		}
	}
	return nil
}

func serialFromConsole(c *conf.Chardev) (*conf.Chardev, error) {
	e := conf.DeviceElement(c)
	xml := "<serial type='" + c.Type + "'>"
	for _, k := range e.Children("") {
		if k.Name() == "target" || k.Name() == "alias" || k.Name() == "address" {
			continue
		}
		xml += string(k.XML())
	}
	xml += "</serial>"
	dev, err := conf.ParseDevice([]byte(xml))
	if err != nil {
		return nil, err
	}
	s, ok := dev.(*conf.Chardev)
	if !ok {
		return nil, fmt.Errorf("console copy is no chardev")
	}
	s.TargetPort = c.TargetPort
	return s, nil
}

// stubConsoleFor reports whether libvirt gives serial s a console alias:
// the target types a console can stand for (not PCI, USB or ISA debug).
func stubConsoleFor(s *conf.Chardev) bool {
	switch s.TargetType {
	case "", "isa-serial", "spapr-vio-serial", "system-serial", "sclp-serial":
		return true
	}
	return false
}

// consoleFromSerial is the console libvirt writes for serial s: its type
// and source, with a serial target of the same port.
func consoleFromSerial(s *conf.Chardev) (*conf.Chardev, error) {
	e := conf.DeviceElement(s)
	xml := "<console type='" + s.Type + "'>"
	for _, k := range e.Children("") {
		if k.Name() == "target" || k.Name() == "alias" || k.Name() == "address" {
			continue
		}
		xml += string(k.XML())
	}
	xml += "<target type='serial' port='" + strconv.Itoa(s.TargetPort) + "'/></console>"
	dev, err := conf.ParseDevice([]byte(xml))
	if err != nil {
		return nil, err
	}
	c, ok := dev.(*conf.Chardev)
	if !ok {
		return nil, fmt.Errorf("serial copy is no chardev")
	}
	return c, nil
}

// videoPostParse: the model default (cirrus on x86), video memory
// defaults, one head, the first video primary.
func (p *pp) videoPostParse(v *conf.Video, primary bool) {
	if v.Model == "" {
		switch {
		case p.caps.Has("cirrus-vga") || p.caps.HasType("cirrus-vga"):
			v.Model = "cirrus"
		case p.caps.Has("VGA") || p.caps.HasType("VGA"):
			v.Model = "vga"
		}
	}
	if v.Model == "none" {
		return
	}
	conf.SetDeviceValue(v, "model/@type", v.Model)
	e := conf.DeviceElement(v).Child("model")
	get := func(n string) (uint64, bool) {
		if e == nil {
			return 0, false
		}
		s, ok := e.Attr(n)
		if !ok {
			return 0, false
		}
		x, err := strconv.ParseUint(s, 10, 64)
		return x, err == nil
	}
	var def uint64
	switch v.Model {
	case "vga", "cirrus", "vmvga", "bochs":
		def = 16384
	case "qxl":
		def = 65536
	}
	set := func(n string, x uint64) { conf.SetDeviceValue(v, "model/@"+n, strconv.FormatUint(x, 10)) }
	if ram, ok := get("ram"); (!ok || ram == 0) && v.Model == "qxl" {
		set("ram", def)
	} else if ok {
		set("ram", pow2(ram))
	}
	if vram, ok := get("vram"); (!ok || vram == 0) && def != 0 {
		set("vram", def)
	} else if ok {
		set("vram", pow2(vram))
	}
	if _, ok := get("vgamem"); !ok && v.Model == "qxl" {
		set("vgamem", 16384)
	}
	if _, ok := get("heads"); !ok {
		set("heads", 1)
	}
	if primary {
		conf.SetDeviceValue(v, "model/@primary", "yes")
	}
	conf.OrderDeviceAttrs(v, "model", "type", "ram", "vram", "vram64", "vgamem", "heads", "primary")
}

func pow2(x uint64) uint64 {
	if x == 0 {
		return 0
	}
	r := uint64(1)
	for r < x {
		r <<= 1
	}
	return r
}

// assignSpaprVIO gives ibmvscsi controllers their spapr-vio register, as
// qemuDomainAssignSpaprVIOAddresses does whatever the machine: SCSI
// controllers from 0x2000 up in steps of 0x1000.
func (p *pp) assignSpaprVIO() error {
	used := map[uint64]bool{}
	var todo []*conf.Controller
	for _, c := range p.def.Devices.Controllers {
		if c.Type != "scsi" || c.Model != "ibmvscsi" {
			continue
		}
		e := conf.DeviceElement(c).Child("address")
		if c.Address.Type == "spapr-vio" && e != nil {
			if r, ok := e.Attr("reg"); ok {
				v, _ := strconv.ParseUint(r, 0, 64)
				used[v] = true
				continue
			}
		}
		if c.Address.Type == "" || c.Address.Type == "spapr-vio" {
			todo = append(todo, c)
		}
	}
	for _, c := range todo {
		reg := uint64(0x2000)
		for used[reg] {
			reg += 0x1000
		}
		used[reg] = true
		c.Address = conf.Address{Type: "spapr-vio"}
		conf.SetDeviceValue(c, "address/@type", "spapr-vio")
		conf.SetDeviceValue(c, "address/@reg", fmt.Sprintf("0x%08x", reg))
	}
	return nil
}
