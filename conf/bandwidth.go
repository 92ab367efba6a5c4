package conf

import "strconv"

// BandwidthRate is one direction of an interface's <bandwidth>
// (virNetDevBandwidthRate): kbytes/s for average, peak and floor, kbytes
// for burst.
type BandwidthRate struct {
	Average, Peak, Burst, Floor uint64
}

// InterfaceBandwidth reads <bandwidth><inbound/><outbound/>; a direction
// libvirt's parser would drop (neither average nor floor) is nil.
func InterfaceBandwidth(n *Interface) (in, out *BandwidthRate) {
	if n == nil || n.x == nil {
		return nil, nil
	}
	b := n.x.child("bandwidth")
	if b == nil {
		return nil, nil
	}
	read := func(name string) *BandwidthRate {
		e := b.child(name)
		if e == nil {
			return nil
		}
		r := &BandwidthRate{Average: e.uintAt("@average"), Peak: e.uintAt("@peak"),
			Burst: e.uintAt("@burst"), Floor: e.uintAt("@floor")}
		if r.Average == 0 && r.Floor == 0 {
			return nil
		}
		return r
	}
	return read("inbound"), read("outbound")
}

// SetInterfaceBandwidth rewrites <bandwidth> as libvirt formats it
// (virNetDevBandwidthFormat: attributes average, peak, floor, burst, zero
// ones left out); with both directions nil the element goes.
func SetInterfaceBandwidth(n *Interface, in, out *BandwidthRate) {
	if n.x == nil {
		n.x = newElem("interface")
	}
	if old := n.x.child("bandwidth"); old != nil {
		n.x.removeChild(old)
	}
	if in == nil && out == nil {
		return
	}
	b := n.x.ensureChild("bandwidth")
	add := func(name string, r *BandwidthRate) {
		if r == nil || (r.Average == 0 && r.Floor == 0) {
			return
		}
		e := newElem(name)
		for _, a := range []struct {
			name string
			v    uint64
		}{{"average", r.Average}, {"peak", r.Peak}, {"floor", r.Floor}, {"burst", r.Burst}} {
			if a.v != 0 {
				e.setAttr(a.name, strconv.FormatUint(a.v, 10))
			}
		}
		b.kids = append(b.kids, e)
	}
	add("inbound", in)
	add("outbound", out)
}
