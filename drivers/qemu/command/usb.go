package command

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// usbModels maps a USB controller model to its QEMU device and its number
// of root ports (virDomainUSBAddressControllerModelToPorts); companion
// controllers (ich9-uhciN) add no ports of their own.
var usbModels = map[string]struct {
	driver string
	ports  int
}{
	"piix3-uhci":     {"piix3-usb-uhci", 2},
	"piix4-uhci":     {"piix4-usb-uhci", 2},
	"vt82c686b-uhci": {"vt82c686b-usb-uhci", 2},
	"ehci":           {"usb-ehci", 6},
	"ich9-ehci1":     {"ich9-usb-ehci1", 6},
	"ich9-uhci1":     {"ich9-usb-uhci1", 0},
	"ich9-uhci2":     {"ich9-usb-uhci2", 0},
	"ich9-uhci3":     {"ich9-usb-uhci3", 0},
	"pci-ohci":       {"pci-ohci", 3},
	"nec-xhci":       {"nec-usb-xhci", 4},
	"qemu-xhci":      {"qemu-xhci", 4},
}

// usbCompanion reports whether c is a companion controller (<master>).
func usbCompanion(c *conf.Controller) bool {
	return child(conf.DeviceElement(c), "master") != nil
}

// usbCompanionPorts are the first ports of the ICH9 companions, which
// libvirt's parser gives them when <master> is left out.
var usbCompanionPorts = map[string]string{"ich9-uhci1": "0", "ich9-uhci2": "2", "ich9-uhci3": "4"}

// sortUSBControllers fills in the companions' <master> and orders the
// controllers as libvirt's parser does, inserting each one in document
// order (virDomainControllerInsertPreAlloced): among those of its type
// by index, a master before its companions of the same index.
func (b *builder) sortUSBControllers() error {
	for _, c := range b.def.Devices.Controllers {
		if p, ok := usbCompanionPorts[c.Model]; ok && c.Type == "usb" && !usbCompanion(c) {
			conf.SetDeviceValue(c, "master/@startport", p)
		}
	}
	// The parser's checks of the USB controllers as a whole.
	none, other, master := 0, false, false
	for _, c := range b.def.Devices.Controllers {
		switch {
		case c.Type != "usb":
		case c.Model == "none":
			none++
		default:
			other = true
			master = master || !usbCompanion(c)
		}
	}
	if none > 1 || none == 1 && other {
		return virerr.New(virerr.FromDomain, virerr.ErrXMLDetail, "Can't add another USB controller: USB is disabled for this domain")
	}
	if other && !master {
		return virerr.New(virerr.FromDomain, virerr.ErrXMLDetail, "No master USB controller specified")
	}
	var out []*conf.Controller
	for _, c := range b.def.Devices.Controllers {
		at := -1
		for i := len(out) - 1; i >= 0; i-- {
			cur := out[i]
			if cur.Type != c.Type {
				continue
			}
			switch {
			case cur.Index > c.Index:
				at = i
			case !usbCompanion(c) && usbCompanion(cur) && cur.Index == c.Index:
				at = i
			case at == -1:
				at = i + 1
			}
		}
		if at == -1 {
			at = len(out)
		}
		out = slices.Insert(out, at, c)
	}
	b.def.Devices.Controllers = out
	return nil
}

// usbControllerObj is the -device of a USB controller, nil for one QEMU
// does not get (model none).
func (b *builder) usbControllerObj(c *conf.Controller) (obj, error) {
	if c.Model == "none" {
		return nil, nil
	}
	m, ok := usbModels[c.Model]
	if !ok {
		return nil, unsupportedValue("devices/controller", "model", c.Model)
	}
	e := conf.DeviceElement(c)
	o := obj{}.set("driver", m.driver)
	if p := attr(e, "ports"); p != "" {
		if c.Model != "nec-xhci" && c.Model != "qemu-xhci" {
			return nil, unsupported("usb controller type %s doesn't support 'ports' with this QEMU binary", c.Model)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 15 {
			return nil, unsupported("'%s' controller only supports up to '%d' ports", c.Model, 15)
		}
		o = o.set("p2", n).set("p3", n)
	}
	if ms := child(e, "master"); ms != nil {
		var master *conf.Controller
		for _, x := range b.def.Devices.Controllers {
			if x.Type == "usb" && x.Index == c.Index && !usbCompanion(x) {
				master = x
				break
			}
		}
		if master == nil {
			return nil, unsupported("masterbus not found")
		}
		port, err := strconv.Atoi(attr(ms, "startport"))
		if err != nil {
			return nil, unsupportedValue("devices/controller/master", "startport", attr(ms, "startport"))
		}
		o = o.set("masterbus", master.Alias+".0").set("firstport", port)
	} else {
		o = o.set("id", c.Alias)
	}
	return b.pciProps(o, c.Address), nil
}

// assignUSB: USB devices get their addresses in the post-parse step
// (postparse.ApplyAtStart in Build, as qemuDomainAssignUSBAddresses, with
// the hubs it adds and its errors); what is left is the live
// definition's aliases of the untyped USB devices.
func (b *builder) assignUSB() error {
	b.prepareUSBDevices()
	return nil
}

// usbProps appends the bus and port of a USB address.
func (b *builder) usbProps(o obj, a conf.Address) (obj, error) {
	if a.Type != "usb" {
		return nil, unsupported("a USB device needs a USB address")
	}
	var ctl *conf.Controller
	for _, c := range b.def.Devices.Controllers {
		if c.Type == "usb" && c.Index == int(a.Bus) && !usbCompanion(c) {
			ctl = c
			break
		}
	}
	if ctl == nil || ctl.Model == "none" {
		return nil, unsupported("USB bus %d requested but no controller with that index is present", a.Bus)
	}
	o = o.set("bus", ctl.Alias+".0")
	if a.Port != "" {
		o = o.set("port", a.Port)
	}
	return o, nil
}

// emitHubs writes the usb-hub devices and the CCID controller of a
// smartcard, which go on USB before the disks.
func (b *builder) emitHubs() error {
	for _, r := range b.def.RawDevicesOf("hub") {
		h := conf.DeviceElement(r)
		if t := attr(h, "type"); t != "usb" {
			return unsupportedValue("devices/hub", "type", t)
		}
		o, err := b.usbProps(obj{}.set("driver", "usb-hub").set("id", attr(child(h, "alias"), "name")), conf.DeviceAddress(r))
		if err != nil {
			return err
		}
		b.device(o)
	}
	for _, c := range b.def.Devices.Controllers {
		if c.Type == "ccid" {
			o, err := b.usbProps(obj{}.set("driver", "usb-ccid").set("id", c.Alias), c.Address)
			if err != nil {
				return err
			}
			b.device(o)
		}
	}
	return nil
}

// prepareUSBDevices gives hubs, smartcards and redirdevs, which conf
// keeps untyped, their aliases in the live definition (the CCID
// controller a smartcard needs comes from the post-parse step).
func (b *builder) prepareUSBDevices() {
	for _, k := range []struct{ kind, prefix string }{{"hub", "hub"}, {"smartcard", "smartcard"}, {"redirdev", "redir"}} {
		for i, r := range b.def.RawDevicesOf(k.kind) {
			cur := attr(child(conf.DeviceElement(r), "alias"), "name")
			conf.SetDeviceValue(r, "alias/@name", alias(cur, fmt.Sprintf("%s%d", k.prefix, i)))
		}
	}
}

// emitSmartcards writes the smartcard on its CCID controller.
func (b *builder) emitSmartcards() error {
	cards := b.devicesNamed("smartcard")
	if len(cards) > 1 {
		return unsupported("this QEMU binary lacks multiple smartcard support")
	}
	for _, sc := range cards {
		alias := attr(child(sc, "alias"), "name")
		if a := child(sc, "address"); a != nil && (attr(a, "type") != "ccid" || attr(a, "controller") != "" && attr(a, "controller") != "0") {
			return unsupported("smartcard %s must be on CCID controller 0", alias)
		}
		var o obj
		switch mode := attr(sc, "mode"); mode {
		case "host":
			o = obj{}.set("driver", "ccid-card-emulated").set("backend", "nss-emulated")
		case "host-certificates":
			certs := sc.Children("certificate")
			if len(certs) != 3 {
				return unsupported("host-certificates mode needs exactly three certificates")
			}
			db := "/etc/pki/nssdb"
			if d := child(sc, "database"); d != nil && d.Text() != "" {
				db = d.Text()
			}
			o = obj{}.set("driver", "ccid-card-emulated").set("backend", "certificates").
				set("cert1", certs[0].Text()).set("cert2", certs[1].Text()).set("cert3", certs[2].Text()).set("db", db)
		case "passthrough":
			src, err := b.chrSourceOf(sc, attr(sc, "type"), false)
			if err != nil {
				return err
			}
			if err := b.addChardev(src, alias, chardevOpts{spicevmc: "smartcard"}); err != nil {
				return err
			}
			o = obj{}.set("driver", "ccid-card-passthru").set("chardev", "char"+alias)
		default:
			return unsupportedValue("devices/smartcard", "mode", mode)
		}
		b.device(o.set("id", alias).set("bus", "ccid0.0"))
	}
	return nil
}

// emitRedirdevs writes the USB redirection devices: a chardev (usually
// spicevmc) and a usb-redir on it, with the domain's <redirfilter>.
func (b *builder) emitRedirdevs() error {
	reds := b.def.RawDevicesOf("redirdev")
	filter := ""
	if rfs := b.devicesNamed("redirfilter"); len(rfs) > 0 {
		rf := rfs[0]
		var rules []string
		for _, u := range rf.Children("usbdev") {
			rule := ""
			for _, f := range []struct{ name, format string }{{"class", "0x%02X"}, {"vendor", "0x%04X"},
				{"product", "0x%04X"}, {"version", ""}} {
				v := attr(u, f.name)
				if v == "" || v == "-1" {
					rule += "-1:"
					continue
				}
				if f.name == "version" {
					// JJ.MN as BCD 0xJJMN; JJ.M is JJ.M0
					// (virDomainRedirFilterUSBVersionHelper).
					major, minor, ok := strings.Cut(v, ".")
					hi, err1 := strconv.ParseUint(major, 10, 32)
					lo, err2 := strconv.ParseUint(minor, 10, 32)
					if !ok || err1 != nil || err2 != nil || hi >= 100 || lo >= 100 {
						return xmlError("Cannot parse USB device version %s", v)
					}
					if len(minor) == 1 {
						lo *= 10
					}
					rule += fmt.Sprintf("0x%04X:", (hi/10)<<12|(hi%10)<<8|(lo/10)<<4|lo%10)
					continue
				}
				n, err := strconv.ParseUint(v, 0, 16)
				if err != nil {
					return unsupportedValue("devices/redirfilter/usbdev", f.name, v)
				}
				rule += fmt.Sprintf(f.format+":", n)
			}
			allow := "0"
			switch a := attr(u, "allow"); a {
			case "yes":
				allow = "1"
			case "no":
			default:
				return unsupportedValue("devices/redirfilter/usbdev", "allow", a)
			}
			rules = append(rules, rule+allow)
		}
		filter = strings.Join(rules, "|")
	}
	for _, rd := range reds {
		r := conf.DeviceElement(rd)
		if bus := attr(r, "bus"); bus != "usb" {
			return unsupportedValue("devices/redirdev", "bus", bus)
		}
		alias := attr(child(r, "alias"), "name")
		src, err := b.chrSourceOf(r, attr(r, "type"), false)
		if err != nil {
			return err
		}
		if err := b.addChardev(src, alias, chardevOpts{spicevmc: "usbredir"}); err != nil {
			return err
		}
		o := obj{}.set("driver", "usb-redir").set("chardev", "char"+alias).set("id", alias)
		if filter != "" {
			o = o.set("filter", filter)
		}
		if bo := attr(child(r, "boot"), "order"); bo != "" {
			n, err := strconv.Atoi(bo)
			if err != nil {
				return unsupportedValue("devices/redirdev/boot", "order", bo)
			}
			o = o.set("bootindex", n)
		}
		o, err = b.usbProps(o, conf.DeviceAddress(rd))
		if err != nil {
			return err
		}
		b.device(o)
	}
	return nil
}
