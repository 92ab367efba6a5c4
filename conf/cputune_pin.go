package conf

import (
	"slices"
	"strconv"
)

// The pin elements of <cputune> (vcpupin, emulatorpin, iothreadpin), which
// the pinning APIs (virDomainPinVcpuFlags, virDomainPinEmulator,
// virDomainPinIOThread) read and change at run time.

// pinKeyAttr is the attribute naming what a pin element pins.
var pinKeyAttr = map[string]string{"vcpupin": "vcpu", "iothreadpin": "iothread", "emulatorpin": ""}

// Pins returns the cpuset of every pin element of kind ("vcpupin",
// "iothreadpin" keyed by their vcpu/iothread attribute; "emulatorpin"
// under key 0).
func (d *Domain) Pins(kind string) map[int]string {
	out := map[int]string{}
	key, ok := pinKeyAttr[kind]
	if !ok || d.x == nil {
		return out
	}
	for _, p := range d.x.child("cputune").childrenNamed(kind) {
		id := 0
		if key != "" {
			n, err := strconv.Atoi(p.attr(key))
			if err != nil {
				continue
			}
			id = n
		}
		out[id] = p.attr("cpuset")
	}
	return out
}

// SetPin sets the cpuset of kind's pin element for id (ignored for
// emulatorpin), or removes the element when cpuset is "". Elements of one
// kind stay in id order, as libvirt's formatter writes them.
func (d *Domain) SetPin(kind string, id int, cpuset string) {
	key, ok := pinKeyAttr[kind]
	if !ok {
		return
	}
	if d.x == nil {
		d.x = newElem("domain")
	}
	ct := d.x.child("cputune")
	var after *node
	for _, p := range ct.childrenNamed(kind) {
		n := 0
		if key != "" {
			n, _ = strconv.Atoi(p.attr(key))
		}
		if n == id {
			if cpuset == "" {
				ct.removeChild(p)
				if len(ct.elems()) == 0 {
					d.x.removeChild(ct)
				}
			} else {
				p.setAttr("cpuset", cpuset)
			}
			return
		}
		if n < id {
			after = p
		}
	}
	if cpuset == "" {
		return
	}
	ct = d.x.ensureChild("cputune")
	p := newElem(kind)
	if key != "" {
		p.setAttr(key, strconv.Itoa(id))
	}
	p.setAttr("cpuset", cpuset)
	if after == nil {
		ct.insertChild(p)
		// insertChild puts it after the other elements of its kind;
		// before the first of them is where the lowest id belongs.
		if first := ct.childrenNamed(kind); len(first) > 1 && first[0] != p {
			i, j := slices.Index(ct.kids, first[0]), slices.Index(ct.kids, p)
			ct.kids = slices.Delete(ct.kids, j, j+1)
			ct.kids = slices.Insert(ct.kids, i, p)
		}
		return
	}
	i := slices.Index(ct.kids, after)
	ct.kids = slices.Insert(ct.kids, i+1, p)
}

// IOThreadIDs returns the ids of the guest's iothreads: those of
// <iothreadids>, else 1..<iothreads>.
func (d *Domain) IOThreadIDs() []int {
	if d.x == nil {
		return nil
	}
	var ids []int
	for _, it := range d.x.child("iothreadids").childrenNamed("iothread") {
		if n, err := strconv.Atoi(it.attr("id")); err == nil {
			ids = append(ids, n)
		}
	}
	if ids != nil {
		return ids
	}
	n, _ := strconv.Atoi(d.x.str("iothreads"))
	for i := 1; i <= n; i++ {
		ids = append(ids, i)
	}
	return ids
}

// AddIOThreadID adds iothread id as virDomainIOThreadIDAdd: once one id is
// given explicitly, libvirt writes every thread's id under <iothreadids>,
// and <iothreads> counts them.
func (d *Domain) AddIOThreadID(id int) {
	d.setIOThreadIDs(append(d.IOThreadIDs(), id), true)
}

// DelIOThreadID removes iothread id and its pin, as virDomainIOThreadIDDel.
// Threads numbered 1..n by <iothreads> alone stay so when the last one
// goes; removing one before the end makes the others' ids explicit (libvirt
// clears their autofill flag).
func (d *Domain) DelIOThreadID(id int) {
	ids := d.IOThreadIDs()
	var keep []int
	for _, x := range ids {
		if x != id {
			keep = append(keep, x)
		}
	}
	explicit := d.x != nil && d.x.child("iothreadids") != nil
	if !explicit && len(ids) > 0 && ids[len(ids)-1] != id {
		explicit = true
	}
	d.setIOThreadIDs(keep, explicit)
	d.SetPin("iothreadpin", id, "")
}

// IOThreadPool returns the thread_pool_min and thread_pool_max of
// iothread id, -1 where unset (libvirt's default).
func (d *Domain) IOThreadPool(id int) (min, max int) {
	min, max = -1, -1
	if d.x == nil {
		return
	}
	for _, it := range d.x.child("iothreadids").childrenNamed("iothread") {
		if it.attr("id") != strconv.Itoa(id) {
			continue
		}
		if n, err := strconv.Atoi(it.attr("thread_pool_min")); err == nil {
			min = n
		}
		if n, err := strconv.Atoi(it.attr("thread_pool_max")); err == nil {
			max = n
		}
	}
	return
}

// SetIOThreadPool sets iothread id's thread pool bounds (nil leaves one
// as it is, -1 removes it); the ids become explicit, as libvirt formats
// <iothreadids> once a pool bound is set.
func (d *Domain) SetIOThreadPool(id int, min, max *int) {
	d.setIOThreadIDs(d.IOThreadIDs(), true)
	for _, it := range d.x.child("iothreadids").childrenNamed("iothread") {
		if it.attr("id") != strconv.Itoa(id) {
			continue
		}
		for _, x := range []struct {
			name string
			v    *int
		}{{"thread_pool_min", min}, {"thread_pool_max", max}} {
			switch {
			case x.v == nil:
			case *x.v < 0:
				it.delAttr(x.name)
			default:
				it.setAttr(x.name, strconv.Itoa(*x.v))
			}
		}
	}
}

// setIOThreadIDs writes ids as <iothreads> and, when explicit, as
// <iothreadids>, keeping the attributes of the threads already listed.
func (d *Domain) setIOThreadIDs(ids []int, explicit bool) {
	if d.x == nil {
		d.x = newElem("domain")
	}
	old := map[string]*node{}
	if list := d.x.child("iothreadids"); list != nil {
		for _, it := range list.childrenNamed("iothread") {
			old[it.attr("id")] = it
		}
		d.x.removeChild(list)
	}
	if len(ids) == 0 {
		if old := d.x.child("iothreads"); old != nil {
			d.x.removeChild(old)
		}
		return
	}
	// <iothreads> goes (back) to where libvirt writes it, ahead of the
	// <iothreadids> that follows it.
	if cur := d.x.child("iothreads"); cur != nil {
		d.x.removeChild(cur)
	}
	count := newElem("iothreads")
	count.setText(strconv.Itoa(len(ids)))
	d.x.insertChild(count)
	if !explicit {
		return
	}
	list := newElem("iothreadids")
	for _, id := range ids {
		it := old[strconv.Itoa(id)]
		if it == nil {
			it = newElem("iothread")
			it.setAttr("id", strconv.Itoa(id))
		}
		list.kids = append(list.kids, it)
	}
	d.x.insertChild(list)
}
