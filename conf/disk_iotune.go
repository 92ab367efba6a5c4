package conf

import "strconv"

// A disk's <iotune>, which virsh blkdeviotune reads and changes at run
// time. Values are kept by their XML names; zero means unset.

// IOTuneLimits are <iotune>'s limits in libvirt's order (the order of
// virDomainGetBlockIoTune's parameters before group_name); IOTuneLengths
// the burst lengths that follow group_name.
var (
	IOTuneLimits = []string{"total_bytes_sec", "read_bytes_sec", "write_bytes_sec",
		"total_iops_sec", "read_iops_sec", "write_iops_sec",
		"total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max",
		"total_iops_sec_max", "read_iops_sec_max", "write_iops_sec_max", "size_iops_sec"}
	IOTuneLengths = []string{"total_bytes_sec_max_length", "read_bytes_sec_max_length",
		"write_bytes_sec_max_length", "total_iops_sec_max_length", "read_iops_sec_max_length",
		"write_iops_sec_max_length"}
)

// IOTune is a disk's throttling.
type IOTune struct {
	Vals  map[string]uint64
	Group string
}

// Any reports whether any limit or length is set.
func (t IOTune) Any() bool {
	for _, v := range t.Vals {
		if v != 0 {
			return true
		}
	}
	return false
}

// IOTune returns the disk's <iotune>.
func (d *Disk) IOTune() IOTune {
	t := IOTune{Vals: map[string]uint64{}}
	e := d.x.child("iotune")
	if e == nil {
		return t
	}
	for _, f := range append(append([]string{}, IOTuneLimits...), IOTuneLengths...) {
		if c := e.child(f); c != nil {
			if v, err := strconv.ParseUint(c.textContent(), 10, 64); err == nil && v != 0 {
				t.Vals[f] = v
			}
		}
	}
	if g := e.child("group_name"); g != nil {
		t.Group = g.textContent()
	}
	return t
}

// SetIOTune replaces the disk's <iotune>, written in libvirt's order; an
// empty one is removed.
func (d *Disk) SetIOTune(t IOTune) {
	if d.x == nil {
		d.x = newElem("disk")
	}
	if old := d.x.child("iotune"); old != nil {
		d.x.removeChild(old)
	}
	if !t.Any() && t.Group == "" {
		return
	}
	e := newElem("iotune")
	add := func(name string) {
		if v := t.Vals[name]; v != 0 {
			c := newElem(name)
			c.setText(strconv.FormatUint(v, 10))
			e.kids = append(e.kids, c)
		}
	}
	for _, f := range IOTuneLimits {
		add(f)
	}
	if t.Group != "" {
		g := newElem("group_name")
		g.setText(t.Group)
		e.kids = append(e.kids, g)
	}
	for _, f := range IOTuneLengths {
		add(f)
	}
	d.x.insertChild(e)
}
