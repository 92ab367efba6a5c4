package command

import (
	"strconv"

	"govirt/conf"
)

// IOThreads: <iothreads>N</iothreads>, <iothreadids> and
// <defaultiothread> become iothread objects (and the main-loop object)
// that virtio disks and virtio-scsi controllers name.

// iothreadIDs are the domain's iothread ids in libvirt's order: the
// <iothreadids> listed, then the lowest free ids up to <iothreads>
// (virDomainIOThreadIDDefArrayInit).
func iothreadIDs(t *conf.Element) ([]*conf.Element, []uint64, error) {
	var els []*conf.Element
	var ids []uint64
	used := map[uint64]bool{}
	for _, e := range kids(child(t, "iothreadids"), "iothread") {
		id, err := strconv.ParseUint(attr(e, "id"), 10, 32)
		if err != nil || id == 0 {
			return nil, nil, xmlError("invalid iothread 'id' value '%s'", attr(e, "id"))
		}
		if used[id] {
			return nil, nil, xmlError("duplicate iothread id '%d' found", id)
		}
		used[id] = true
		els = append(els, e)
		ids = append(ids, id)
	}
	n := uint64(len(ids))
	if c := child(t, "iothreads"); c != nil {
		v, err := strconv.ParseUint(c.Text(), 10, 32)
		if err != nil {
			return nil, nil, xmlError("invalid iothreads count '%s'", c.Text())
		}
		n = max(n, v)
	}
	for next := uint64(1); uint64(len(ids)) < n; next++ {
		if !used[next] {
			els = append(els, nil)
			ids = append(ids, next)
		}
	}
	return els, ids, nil
}

// emitIOThreads writes the iothread objects and the main loop's pool.
func (b *builder) emitIOThreads() error {
	t := b.def.Tree()
	els, ids, err := iothreadIDs(t)
	if err != nil {
		return err
	}
	pool := func(o obj, e *conf.Element) obj {
		for _, p := range [][2]string{{"thread_pool_min", "thread-pool-min"}, {"thread_pool_max", "thread-pool-max"}} {
			if v := attr(e, p[0]); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err == nil && n >= 0 {
					o = o.set(p[1], n)
				}
			}
		}
		return o
	}
	for i, id := range ids {
		b.object(pool(obj{}.set("qom-type", "iothread").set("id", "iothread"+strconv.FormatUint(id, 10)), els[i]))
	}
	if d := child(t, "defaultiothread"); d != nil {
		b.object(pool(obj{}.set("qom-type", "main-loop").set("id", "main-loop"), d))
	}
	return nil
}

// checkIOThreadRefs refuses disks and controllers naming iothreads the
// domain lacks, or that cannot use one, with libvirt's messages.
func (b *builder) checkIOThreadRefs() error {
	_, ids, err := iothreadIDs(b.def.Tree())
	if err != nil {
		return err
	}
	has := func(v string) bool {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return false
		}
		for _, id := range ids {
			if id == n {
				return true
			}
		}
		return false
	}
	for _, d := range b.def.Devices.Disks {
		it := attr(child(conf.DeviceElement(d), "driver"), "iothread")
		if it == "" {
			continue
		}
		if d.TargetBus != "virtio" {
			return unsupported("IOThreads not available for bus %s target %s", d.TargetBus, d.TargetDev)
		}
		if !has(it) {
			return unsupported("Disk iothread '%s' not defined in iothreadid", it)
		}
	}
	for _, c := range b.def.Devices.Controllers {
		it := attr(child(conf.DeviceElement(c), "driver"), "iothread")
		if it == "" {
			continue
		}
		if !has(it) {
			return unsupported("controller iothread '%s' not defined in iothreadid", it)
		}
	}
	return nil
}
