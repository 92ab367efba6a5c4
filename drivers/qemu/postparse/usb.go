package postparse

import (
	"slices"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/virerr"
)

// USB addresses as qemuDomainAssignUSBAddresses gives them when libvirt
// parses a definition (define, create, attach --config) and again at
// start: hubs are added when the devices outnumber the ports, the
// addresses given are reserved, then hubs get ports, then the other
// devices in libvirt's order (virDomainUSBDeviceDefForeach).

// usbRootPorts is the number of root ports of a USB controller model
// (virDomainUSBAddressControllerModelToPorts); companion controllers
// (ich9-uhciN, with <master>) add no bus of their own.
var usbRootPorts = map[string]int{
	"piix3-uhci": 2, "piix4-uhci": 2, "vt82c686b-uhci": 2,
	"ehci": 6, "ich9-ehci1": 6, "pci-ohci": 3,
	"nec-xhci": 4, "qemu-xhci": 4,
}

// usbHubPorts is VIR_DOMAIN_USB_HUB_PORTS.
const usbHubPorts = 8

// usbHub is a USB hub's ports: the root hub of a controller or a
// usb-hub device; hubs[i] is the hub plugged into port i+1.
type usbHub struct {
	used []bool
	hubs []*usbHub
}

func newUSBHub(n int) *usbHub { return &usbHub{used: make([]bool, n), hubs: make([]*usbHub, n)} }

// free finds the first free port, depth first through the hubs
// (virDomainUSBAddressFindFreePort), as a port path.
func (h *usbHub) free(depth int) (string, bool) {
	for i, u := range h.used {
		if !u {
			return strconv.Itoa(i + 1), true
		}
	}
	if depth >= 4 {
		return "", false
	}
	for i, k := range h.hubs {
		if k == nil {
			continue
		}
		if p, ok := k.free(depth + 1); ok {
			return strconv.Itoa(i+1) + "." + p, true
		}
	}
	return "", false
}

// usbUser is one device that plugs into a USB port.
type usbUser struct {
	hub bool
	get func() conf.Address
	set func(conf.Address)
}

// hasPort is virDomainUSBAddressPresent: a USB address with a port.
func (u usbUser) hasPort() bool {
	a := u.get()
	if a.Type != "usb" || a.Port == "" {
		return false
	}
	path, err := parseUSBPort(a.Port)
	return err == nil && path[0] != 0
}

func usbXMLErr(format string, args ...any) error {
	return virerr.New(virerr.FromDomain, virerr.ErrXMLError, format, args...)
}

// parseUSBPort checks a port path ("1", "1.2.3") as libvirt's parser:
// at most four levels of numbers.
func parseUSBPort(p string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(p, ".") {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || len(out) == 4 {
			return nil, virerr.New(virerr.FromDomain, virerr.ErrInternalError, "Cannot parse <address> 'port' attribute")
		}
		out = append(out, int(n))
	}
	return out, nil
}

// usbHubAt walks the hubs of a port path to the hub holding its last
// port, with libvirt's errors (virDomainUSBAddressFindPort).
func usbHubAt(root *usbHub, bus uint, port string) (*usbHub, int, error) {
	path, err := parseUSBPort(port)
	if err != nil {
		return nil, 0, err
	}
	h := root
	for _, n := range path[:len(path)-1] {
		if n < 1 || n > len(h.used) {
			return nil, 0, usbXMLErr("port %d out of range in USB address bus: %d port: %s", n, bus, port)
		}
		if h.hubs[n-1] == nil {
			return nil, 0, usbXMLErr("there is no hub at port %d in USB address bus: %d port: %s", n, bus, port)
		}
		h = h.hubs[n-1]
	}
	last := path[len(path)-1]
	if last < 1 || last > len(h.used) {
		return nil, 0, usbXMLErr("requested USB port %s not present on USB bus %d", port, bus)
	}
	return h, last - 1, nil
}

// usbUsers lists the devices that go on USB in libvirt's order
// (virDomainUSBDeviceDefForeach): hubs, host devices, disks, CCID
// controllers, inputs, serials, sound cards, redirdevs.
func (p *pp) usbUsers() []usbUser {
	ds := &p.def.Devices
	var out []usbUser
	typed := func(hub bool, dev any) usbUser {
		return usbUser{hub: hub,
			get: func() conf.Address { return conf.DeviceAddress(dev) },
			set: func(a conf.Address) { conf.SetDeviceAddress(dev, a) }}
	}
	for _, h := range p.def.RawDevicesOf("hub") {
		if t, _ := conf.DeviceElement(h).Attr("type"); t == "usb" {
			out = append(out, typed(true, h))
		}
	}
	for _, h := range p.def.RawDevicesOf("hostdev") {
		e := conf.DeviceElement(h)
		mode, _ := e.Attr("mode")
		typ, _ := e.Attr("type")
		if (mode == "" || mode == "subsystem") && typ == "usb" {
			out = append(out, typed(false, h))
		}
	}
	for _, d := range ds.Disks {
		if d.TargetBus == "usb" {
			out = append(out, usbUser{
				get: func() conf.Address { return d.Address },
				set: func(a conf.Address) { d.Address = a }})
		}
	}
	for _, c := range ds.Controllers {
		if c.Type == "ccid" {
			out = append(out, usbUser{
				get: func() conf.Address { return c.Address },
				set: func(a conf.Address) { c.Address = a }})
		}
	}
	for _, in := range ds.Inputs {
		if in.Bus == "usb" {
			out = append(out, typed(false, in))
		}
	}
	for _, s := range ds.Serials {
		if s.TargetType == "usb-serial" {
			out = append(out, typed(false, s))
		}
	}
	for _, snd := range ds.Sounds {
		if snd.Model == "usb" {
			out = append(out, typed(false, snd))
		}
	}
	for _, r := range p.def.RawDevicesOf("redirdev") {
		if b, _ := conf.DeviceElement(r).Attr("bus"); b == "usb" {
			out = append(out, typed(false, r))
		}
	}
	return out
}

// usbOffError is libvirt's error for a USB device in a domain whose USB
// controller is model none (the parser's, for hubs, inputs and
// redirdevs), nil for the other devices.
func (p *pp) usbOffError() error {
	if len(p.def.RawDevicesOf("hub")) > 0 {
		return refused("Can't add USB hub: USB is disabled for this domain")
	}
	for _, in := range p.def.Devices.Inputs {
		if in.Bus == "usb" {
			return refused("Can't add USB input device. USB bus is disabled")
		}
	}
	if len(p.def.RawDevicesOf("redirdev")) > 0 {
		return refused("cannot add redirected USB device: USB is disabled for this domain")
	}
	return nil
}

// smartcardControllers is virDomainDefMaybeAddSmartcardController: a
// smartcard without an address takes the next slot of CCID controller
// 0, and every CCID controller a smartcard names is added when missing.
func (p *pp) smartcardControllers() {
	cards := p.def.RawDevicesOf("smartcard")
	for _, sc := range cards {
		a := conf.DeviceElement(sc).Child("address")
		idx := 0
		typ := ""
		if a != nil {
			typ, _ = a.Attr("type")
		}
		switch typ {
		case "ccid":
			v, _ := a.Attr("controller")
			idx, _ = strconv.Atoi(v)
		case "":
			top := -1
			for _, o := range cards {
				oa := conf.DeviceElement(o).Child("address")
				if oa == nil {
					continue
				}
				t, _ := oa.Attr("type")
				ctl, _ := oa.Attr("controller")
				slot, _ := oa.Attr("slot")
				n, _ := strconv.Atoi(slot)
				if t == "ccid" && (ctl == "" || ctl == "0") && n > top {
					top = n
				}
			}
			conf.SetDeviceValue(sc, "address/@type", "ccid")
			conf.SetDeviceValue(sc, "address/@controller", "0")
			conf.SetDeviceValue(sc, "address/@slot", strconv.Itoa(top+1))
		}
		p.maybeAddController("ccid", idx, "")
	}
}

// assignUSB gives every USB device without an address a port
// (qemuDomainAssignUSBAddresses). libvirt assigns them when a
// definition is new (define, create, attach --config, start: parsed
// with VIR_DOMAIN_DEF_PARSE_ABI_UPDATE); otherwise, as its xml2xml test
// harness parses, only a definition whose USB devices all have a port
// goes through the checks.
func (p *pp) assignUSB() error {
	users := p.usbUsers()
	if !p.opts.NewDomain && slices.ContainsFunc(users, func(u usbUser) bool { return !u.hasPort() }) {
		return nil
	}
	buses := map[uint]*usbHub{}
	available := 0
	usbOff := false
	for _, c := range p.def.Devices.Controllers {
		if c.Type != "usb" {
			continue
		}
		if c.Model == "none" {
			usbOff = true
			continue
		}
		n := usbRootPorts[c.Model]
		if v, ok := conf.DeviceElement(c).Attr("ports"); ok {
			n, _ = strconv.Atoi(v)
		}
		available += n
		if conf.DeviceElement(c).Child("master") == nil {
			buses[uint(c.Index)] = newUSBHub(n)
		}
	}
	if len(users) > 0 && usbOff {
		if err := p.usbOffError(); err != nil {
			return err
		}
	}
	if len(users) > 0 && len(buses) == 0 {
		return refused("USB is disabled for this domain, but USB devices are present in the domain XML")
	}
	for _, u := range users {
		if u.hub {
			available += usbHubPorts
		}
	}
	if len(users) > available {
		// qemuDomainUSBAddressAddHubs: each added hub takes a port and
		// gives eight.
		for range (len(users) - available + 1 + usbHubPorts - 2) / (usbHubPorts - 1) {
			hub, err := conf.ParseDevice([]byte("<hub type='usb'/>"))
			if err == nil {
				err = p.def.AddDevice(hub)
			}
			if err != nil {
				return err
			}
		}
		users = p.usbUsers()
	}
	// virDomainUSBAddressReserve of the addresses given.
	for _, u := range users {
		a := u.get()
		if a.Type != "usb" || a.Port == "" {
			continue
		}
		if path, err := parseUSBPort(a.Port); err != nil {
			return err
		} else if path[0] == 0 {
			continue // no port given
		}
		root := buses[a.Bus]
		if root == nil {
			return usbXMLErr("Missing USB bus %d", a.Bus)
		}
		h, i, err := usbHubAt(root, a.Bus, a.Port)
		if err != nil {
			return err
		}
		if h.used[i] {
			return usbXMLErr("Duplicate USB address bus %d port %s", a.Bus, a.Port)
		}
		h.used[i] = true
		if u.hub {
			h.hubs[i] = newUSBHub(usbHubPorts)
		}
	}
	ids := make([]uint, 0, len(buses))
	for id := range buses {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	// Hubs first (qemuDomainAssignUSBHubs), then the rest
	// (qemuDomainAssignUSBPorts).
	for _, hubsFirst := range []bool{true, false} {
		for _, u := range users {
			a := u.get()
			if u.hub != hubsFirst || a.Type != "" && a.Type != "usb" || a.Port != "" {
				continue
			}
			if a.Type == "usb" && buses[a.Bus] == nil {
				return usbXMLErr("USB bus %d requested but no controller with that index is present", a.Bus)
			}
			done := false
			for _, id := range ids {
				if a.Type == "usb" && a.Bus != id {
					continue
				}
				if port, ok := buses[id].free(0); ok {
					h, i, _ := usbHubAt(buses[id], id, port)
					h.used[i] = true
					if u.hub {
						h.hubs[i] = newUSBHub(usbHubPorts)
					}
					u.set(conf.Address{Type: "usb", Bus: id, Port: port})
					done = true
					break
				}
			}
			if !done {
				return virerr.New(virerr.FromDomain, virerr.ErrInternalError, "No free USB ports")
			}
		}
	}
	return nil
}
