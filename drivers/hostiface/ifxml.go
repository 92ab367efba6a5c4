package hostiface

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// bridge is udevGetIfaceDefBridge: forward delay and STP state from
// sysfs, the ports from brif/ in alphabetical order without the guests'
// vnetN taps.
func (h *Host) bridge(d *ifDef, depth int) error {
	delay, ok := h.attr(d.name, "bridge/forward_delay")
	if !ok {
		return errInternal("Could not retrieve 'bridge/forward_delay' for '%s'", d.name)
	}
	d.delay = delay
	s, ok := h.attr(d.name, "bridge/stp_state")
	if !ok {
		return errInternal("Could not retrieve 'bridge/stp_state' for '%s'", d.name)
	}
	stp, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errInternal("Could not parse 'bridge/stp_state' '%s' for '%s'", s, d.name)
	}
	if stp < -1 || stp > 1 {
		return errInternal("Invalid STP state value %d received for '%s'. Must be -1, 0, or 1.", stp, d.name)
	}
	d.stp = stp
	ents, err := os.ReadDir(h.path("/sys/class/net/" + d.name + "/brif"))
	if err != nil {
		return errInternal("Could not get members of bridge '%s'", d.name)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if len(n) >= 5 && strings.HasPrefix(n, "vnet") && n[4] >= '0' && n[4] <= '9' {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m, err := h.def(n, depth+1)
		if err != nil {
			return errInternal("Could not get interface information for '%s', which is a member of bridge '%s'", n, d.name)
		}
		d.members = append(d.members, m)
	}
	return nil
}

// bondDef is the bond part of virInterfaceDef.
type bondDef struct {
	mode, validate, carrier int
	downdelay, updelay      int
	freq, interval          int
	monit                   string // "", "mii", "arp"
	target                  string
}

var bondModes = []string{"", "balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"}

// bondDef is udevGetIfaceDefBond.
func (h *Host) bondDef(d *ifDef, depth int) error {
	b := &bondDef{}
	intAttr := func(a string, dst *int) error {
		s, ok := h.attr(d.name, "bonding/"+a)
		if !ok {
			return errInternal("Could not retrieve 'bonding/%s' for '%s'", a, d.name)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return errInternal("Could not parse 'bonding/%s' '%s' for '%s'", a, s, d.name)
		}
		*dst = int(v)
		return nil
	}
	// "balance-rr 0": the number after the space.
	numAfterSpace := func(a string, dst *int) error {
		s, ok := h.attr(d.name, "bonding/"+a)
		if !ok {
			return errInternal("Could not retrieve 'bonding/%s' for '%s'", a, d.name)
		}
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return errInternal("Invalid format for 'bonding/%s' for '%s'", a, d.name)
		}
		if len(s)-i < 2 {
			return errInternal("Unable to find correct value in 'bonding/%s' for '%s'", a, d.name)
		}
		v, err := strconv.ParseInt(s[i+1:], 10, 32)
		if err != nil {
			return errInternal("Could not parse 'bonding/%s' '%s' for '%s'", a, s[i:], d.name)
		}
		*dst = int(v)
		return nil
	}
	for _, step := range []func() error{
		func() error { return intAttr("downdelay", &b.downdelay) },
		func() error { return intAttr("updelay", &b.updelay) },
		func() error { return intAttr("miimon", &b.freq) },
		func() error { return intAttr("arp_interval", &b.interval) },
		func() error { return numAfterSpace("mode", &b.mode) },
		func() error { return numAfterSpace("arp_validate", &b.validate) },
		func() error { return intAttr("use_carrier", &b.carrier) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	b.mode++
	b.carrier++
	switch {
	case b.interval > 0:
		b.monit = "arp"
	case b.freq > 0:
		b.monit = "mii"
	}
	t, ok := h.attr(d.name, "bonding/arp_ip_target")
	if !ok {
		return errInternal("Could not retrieve 'bonding/arp_ip_target' for '%s'", d.name)
	}
	b.target = t
	d.bond = b
	ents, err := os.ReadDir(h.path("/sys/class/net/" + d.name))
	if err != nil {
		return errInternal("Could not get slaves of bond '%s'", d.name)
	}
	for _, e := range ents { // ReadDir sorts, as scandir's alphasort
		if !strings.HasPrefix(e.Name(), "slave_") {
			continue
		}
		_, slave, _ := strings.Cut(e.Name(), "_")
		if slave == "" {
			return errInternal("Invalid enslaved interface name '%s' seen for bond '%s'", e.Name(), d.name)
		}
		m, err := h.def(slave, depth+1)
		if err != nil {
			return errInternal("Could not get interface information for '%s', which is a enslaved in bond '%s'", e.Name(), d.name)
		}
		d.members = append(d.members, m)
	}
	return nil
}

func xmlEsc(s string) string {
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;", "'", "&apos;", "\"", "&quot;")
	return r.Replace(s)
}

// format is virInterfaceDefDevFormat; top says the interface is not a
// bridge port or bond slave (only a top-level one shows its MTU).
func (d *ifDef) format(b *strings.Builder, indent int, top bool) {
	pad := strings.Repeat(" ", indent)
	line := func(extra int, format string, args ...any) {
		b.WriteString(pad + strings.Repeat(" ", extra))
		fmt.Fprintf(b, format, args...)
		b.WriteByte('\n')
	}
	line(0, "<interface type='%s' name='%s'>", d.typ, xmlEsc(d.name))
	if top && d.mtu > 0 {
		line(2, "<mtu size='%d'/>", d.mtu)
	}
	if d.typ != "bridge" && (d.speed > 0 || d.state != "") {
		s := "<link"
		if d.speed > 0 {
			s += fmt.Sprintf(" speed='%d'", d.speed)
		}
		if d.state != "" {
			s += fmt.Sprintf(" state='%s'", d.state)
		}
		line(2, "%s/>", s)
	}
	switch d.typ {
	case "ethernet":
		if d.mac != "" {
			line(2, "<mac address='%s'/>", d.mac)
		}
	case "bridge":
		s := "<bridge"
		switch d.stp {
		case 1:
			s += " stp='on'"
		case 0:
			s += " stp='off'"
		}
		s += fmt.Sprintf(" delay='%s'>", d.delay)
		line(2, "%s", s)
		for _, m := range d.members {
			m.format(b, indent+4, false)
		}
		line(2, "</bridge>")
	case "bond":
		bd := d.bond
		s := "<bond"
		if bd.mode > 0 && bd.mode < len(bondModes) {
			s += fmt.Sprintf(" mode='%s'", bondModes[bd.mode])
		}
		line(2, "%s>", s)
		switch bd.monit {
		case "mii":
			s := fmt.Sprintf("<miimon freq='%d'", bd.freq)
			if bd.downdelay > 0 {
				s += fmt.Sprintf(" downdelay='%d'", bd.downdelay)
			}
			if bd.updelay > 0 {
				s += fmt.Sprintf(" updelay='%d'", bd.updelay)
			}
			switch bd.carrier {
			case 1:
				s += " carrier='ioctl'"
			case 2:
				s += " carrier='netif'"
			}
			line(4, "%s/>", s)
		case "arp":
			s := fmt.Sprintf("<arpmon interval='%d' target='%s'", bd.interval, bd.target)
			switch bd.validate {
			case 1:
				s += " validate='active'"
			case 2:
				s += " validate='backup'"
			case 3:
				s += " validate='all'"
			}
			line(4, "%s/>", s)
		}
		for _, m := range d.members {
			m.format(b, indent+4, false)
		}
		line(2, "</bond>")
	case "vlan":
		line(2, "<vlan tag='%s'>", d.tag)
		line(4, "<interface name='%s'/>", d.dev)
		line(2, "</vlan>")
	}
	line(0, "</interface>")
}
