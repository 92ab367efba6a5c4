package conf

import (
	"slices"
	"strconv"
)

// addrAttr is one numeric attribute of an <address> as libvirt's
// virDomainDeviceInfoFormat writes it.
type addrAttr struct {
	name   string
	format func(uint64) string
	always bool // written even when absent (as 0)
}

func decimal(v uint64) string { return strconv.FormatUint(v, 10) }
func hexAny(v uint64) string  { return "0x" + strconv.FormatUint(v, 16) }
func hex8(v uint64) string    { return "0x" + leftPad(strconv.FormatUint(v, 16), 8) }

// addrSpecs lists, per address type, the numeric attributes in the order
// libvirt writes them and with its spelling.
var addrSpecs = map[string][]addrAttr{
	"pci": {{"domain", hex4, true}, {"bus", hex2, true}, {"slot", hex2, true}, {"function", hex1, true}},
	"drive": {{"controller", decimal, true}, {"bus", decimal, true}, {"target", decimal, true},
		{"unit", decimal, true}},
	"virtio-serial": {{"controller", decimal, true}, {"bus", decimal, true}, {"port", decimal, true}},
	"ccid":          {{"controller", decimal, true}, {"slot", decimal, true}},
	"usb":           {{"bus", decimal, true}},
	"spapr-vio":     {{"reg", hex8, false}},
	"ccw":           {{"cssid", hexAny, true}, {"ssid", hexAny, true}, {"devno", hex4, true}},
	"isa":           {{"iobase", hexAny, false}, {"irq", hexAny, false}},
	"dimm":          {{"slot", decimal, true}, {"base", hexAny, false}},
}

// canonAddress rewrites a device <address> in libvirt's canonical form:
// numbers in libvirt's spelling (a PCI slot written '0x1' or '1' comes
// back as '0x01': the same value), coordinates libvirt always writes
// filled in with their implicit 0, and type plus coordinates first in
// libvirt's order. Values that do not parse as numbers are left alone,
// as are attributes this table does not know.
func canonAddress(el *node) {
	if el == nil {
		return
	}
	canonAddressAs(el, el.attr("type"))
}

func canonAddressAs(el *node, typ string) {
	specs := addrSpecs[typ]
	if len(specs) == 0 {
		return
	}
	fill := true
	if typ == "pci" {
		// An all-zero PCI address means "not assigned yet": libvirt
		// writes just the type.
		fill = false
		for _, s := range specs {
			if v, ok := parseUintAny(el.attr(s.name)); ok && v != 0 {
				fill = true
			}
		}
	}
	var front []attr
	if i := el.attrIndex("type"); i >= 0 {
		front = append(front, el.attrs[i])
	}
	for _, s := range specs {
		i := el.attrIndex(s.name)
		switch {
		case i >= 0:
			a := el.attrs[i]
			if v, ok := parseUintAny(a.value); ok {
				a.value = s.format(v)
			}
			front = append(front, a)
		case s.always && fill:
			front = append(front, attr{s.name, s.format(0)})
		}
	}
	rest := slices.DeleteFunc(slices.Clone(el.attrs), func(a attr) bool {
		return slices.ContainsFunc(front, func(f attr) bool { return f.name == a.name })
	})
	el.attrs = append(front, rest...)
}

// canonHostAddresses gives the host-side PCI address of a PCI hostdev
// (written without type) the same canonical spelling.
func canonHostAddresses(dev *node) {
	if dev.name == "hostdev" && dev.attr("type") == "pci" {
		if a := dev.child("source").child("address"); a != nil && a.attr("type") == "" {
			canonAddressAs(a, "pci")
		}
	}
}
