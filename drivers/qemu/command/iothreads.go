package command

import (
	"strconv"

	"govirt/conf"
)

// <iothreads>, <iothreadids> and <defaultiothread> become iothread
// objects (qemuBuildIOThreadCommandLine). An <iothreads> count larger
// than the listed ids is filled up with the lowest unused ids, as
// libvirt's virDomainIOThreadIDDefArrayInit does at parse time.

type iothread struct {
	id       uint64
	min, max string // thread pool bounds, "" when unset
}

func (b *builder) iothreads() ([]iothread, error) {
	t := b.tree()
	var list []iothread
	used := map[uint64]bool{}
	for _, e := range children(child(t, "iothreadids"), "iothread") {
		id, err := strconv.ParseUint(attr(e, "id"), 10, 32)
		if err != nil || id == 0 {
			return nil, xmlError("invalid iothread 'id' value '%s'", attr(e, "id"))
		}
		if used[id] {
			return nil, xmlError("duplicate iothread id '%d' found", id)
		}
		used[id] = true
		it := iothread{id: id, min: attr(e, "thread_pool_min"), max: attr(e, "thread_pool_max")}
		if err := checkPool(it.min, it.max); err != nil {
			return nil, err
		}
		list = append(list, it)
	}
	n := uint64(len(list))
	if e := child(t, "iothreads"); e != nil {
		v, err := strconv.ParseUint(e.Text(), 10, 32)
		if err != nil {
			return nil, xmlError("invalid iothreads count '%s'", e.Text())
		}
		n = max(n, v)
	}
	for id := uint64(1); uint64(len(list)) < n; id++ {
		if !used[id] {
			list = append(list, iothread{id: id})
		}
	}
	return list, nil
}

func checkPool(min, max string) error {
	var lo, hi int64 = -1, -1
	var err error
	if min != "" {
		if lo, err = strconv.ParseInt(min, 10, 32); err != nil || lo < 0 {
			return xmlError("invalid value '%s' for 'thread_pool_min'", min)
		}
	}
	if max != "" {
		if hi, err = strconv.ParseInt(max, 10, 32); err != nil || hi < 0 {
			return xmlError("invalid value '%s' for 'thread_pool_max'", max)
		}
		if hi == 0 {
			return xmlError("value of 'thread_pool_max' must be greater than zero")
		}
	}
	if lo >= 0 && hi >= 0 && lo > hi {
		return xmlError("thread_pool_min '%d' must be less or equal to thread_pool_max '%d'", lo, hi)
	}
	return nil
}

func poolProps(o obj, min, max string) obj {
	if min != "" {
		n, _ := strconv.ParseInt(min, 10, 32)
		o = o.set("thread-pool-min", n)
	}
	if max != "" {
		n, _ := strconv.ParseInt(max, 10, 32)
		o = o.set("thread-pool-max", n)
	}
	return o
}

func (b *builder) emitIOThreads() error {
	list, err := b.iothreads()
	if err != nil {
		return err
	}
	pooled := false
	for _, it := range list {
		if it.min != "" || it.max != "" {
			pooled = true
		}
	}
	def := child(b.tree(), "defaultiothread")
	if def != nil {
		if err := checkPool(attr(def, "thread_pool_min"), attr(def, "thread_pool_max")); err != nil {
			return err
		}
		if attr(def, "thread_pool_min") != "" || attr(def, "thread_pool_max") != "" {
			pooled = true
		}
	}
	if pooled && !b.caps.Has("iothread.thread-pool-max") {
		return unsupported("thread_pool_min and thread_pool_max is not supported by this QEMU binary")
	}
	for _, it := range list {
		b.object(poolProps(obj{}.set("qom-type", "iothread").set("id", "iothread"+strconv.FormatUint(it.id, 10)), it.min, it.max))
	}
	if def != nil {
		b.object(poolProps(obj{}.set("qom-type", "main-loop").set("id", "main-loop"), attr(def, "thread_pool_min"), attr(def, "thread_pool_max")))
	}
	return nil
}

// checkIOThreadRefs refuses disks and controllers naming iothreads the
// domain lacks, or that cannot use one, with libvirt's messages.
func (b *builder) checkIOThreadRefs() error {
	list, err := b.iothreads()
	if err != nil {
		return err
	}
	has := func(v string) bool {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return false
		}
		for _, it := range list {
			if it.id == n {
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
