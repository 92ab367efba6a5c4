package postparse

import (
	"fmt"
	"strconv"
	"strings"

	"govirt/conf"
)

// canonical writes values the way libvirt's parser stores and its
// formatter writes them back: scaled sizes in their fixed unit, file
// modes in four octal digits, a disk's type and vhost-user's snapshot
// default.
func (p *pp) canonical() error {
	d := p.def
	// <smm><tseg> is kept in bytes and written in MiB.
	if v, ok := d.Value("features/smm/tseg"); ok {
		unit, _ := d.Value("features/smm/tseg/@unit")
		if b, ok := scaled(v, unit, 1<<20); ok && b%(1<<20) == 0 {
			d.SetValue("features/smm/tseg", strconv.FormatUint(b>>20, 10))
			d.SetValue("features/smm/tseg/@unit", "MiB")
		}
	}
	// The on/off features read without a state are on
	// (virDomainFeaturesDefParse), and written so.
	for _, f := range []string{"vmcoreinfo", "hap", "pmu", "pvspinlock", "vmport"} {
		if e := child(d.Tree(), "features", f); e != nil {
			if _, ok := e.Attr("state"); !ok {
				d.SetValue("features/"+f+"/@state", "on")
			}
		}
	}
	// A guest NUMA cell's memory is kept in KiB (virDomainParseMemory,
	// rounded up) and written with unit='KiB'.
	d.EachElement("cpu/numa/cell", func(e *conf.Element, set func(string, string)) {
		v, ok := e.Attr("memory")
		if !ok {
			return
		}
		unit, _ := e.Attr("unit")
		if b, ok := scaled(v, unit, 1024); ok {
			set("memory", strconv.FormatUint((b+1023)/1024, 10))
			set("unit", "KiB")
		}
	})
	d.OrderAttrs("cpu/numa/cell", "id", "cpus", "memory", "unit", "memAccess", "discard")
	// virDomainFeaturesHyperVDefParse: enlightenments are chosen one by
	// one unless said otherwise, and libvirt writes the mode.
	if e := child(d.Tree(), "features", "hyperv"); e != nil {
		if _, ok := e.Attr("mode"); !ok {
			d.SetValue("features/hyperv/@mode", "custom")
		}
		// virDomainFeaturesDefFormat writes <hyperv> open and closed
		// even without enlightenments (mode='passthrough').
		for _, h := range d.EditAll("features/hyperv") {
			h.WriteOpen()
		}
	}
	p.memoryUnits()
	p.memoryTotal()
	p.memorySlots()
	for _, disk := range d.Devices.Disks {
		e := conf.DeviceElement(disk)
		if _, ok := e.Attr("type"); !ok {
			// virDomainDiskDefParseXML: a disk is a file unless it says.
			if disk.Source.Type == "" {
				disk.Source.Type = "file"
			}
			conf.SetDeviceValue(disk, "@type", disk.Source.Type)
		}
		if disk.Source.Type == "vhostuser" {
			if _, ok := e.Attr("snapshot"); !ok {
				conf.SetDeviceValue(disk, "@snapshot", "no")
			}
		}
		conf.OrderDeviceAttrs(disk, "", "type", "device", "model", "rawio", "sgio", "snapshot")
		// An inactive parse reads no source or backing store index
		// (they are the running guest's).
		if p.parsed {
			disk.Source.Index = 0
			for b := disk.Source.Backing; b != nil; b = b.Backing {
				b.Index = 0
			}
		}
		// <metadata_cache><max_size> is kept in bytes.
		for _, path := range []string{"driver/metadata_cache/max_size", "backingStore/format/metadata_cache/max_size"} {
			if mc := child(e, strings.Split(path, "/")...); mc != nil {
				unit, _ := mc.Attr("unit")
				if b, ok := scaled(mc.Text(), unit, 1); ok {
					conf.SetDeviceValue(disk, path, strconv.FormatUint(b, 10))
					conf.SetDeviceValue(disk, path+"/@unit", "bytes")
				}
			}
		}
	}
	for _, fs := range d.RawDevices() {
		if fs.Kind != "filesystem" {
			continue
		}
		for _, a := range []string{"fmode", "dmode"} {
			if v := rawAttr(fs, a); v != "" {
				if m, err := strconv.ParseUint(v, 8, 32); err == nil {
					conf.SetDeviceValue(fs, "@"+a, fmt.Sprintf("%04o", m))
				}
			}
		}
	}
	return nil
}

func child(e *conf.Element, path ...string) *conf.Element {
	for _, p := range path {
		if e == nil {
			return nil
		}
		e = e.Child(p)
	}
	return e
}

// scaled is virScaleInteger: a number with an optional unit (b, KB,
// KiB, k, MB, M, ...), def being the scale of a number without unit.
func scaled(num, unit string, def uint64) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
	if err != nil {
		return 0, false
	}
	scale := def
	if unit != "" {
		u := strings.ToLower(unit)
		switch u {
		case "b", "byte", "bytes":
			scale = 1
		default:
			pow := strings.Index("kmgtpe", u[:1])
			if pow < 0 {
				return 0, false
			}
			base := uint64(1024)
			switch u[1:] {
			case "", "ib":
			case "b":
				base = 1000
			default:
				return 0, false
			}
			scale = 1
			for i := 0; i <= pow; i++ {
				scale *= base
			}
		}
	}
	if scale != 0 && n > ^uint64(0)/scale {
		return 0, false
	}
	return n * scale, true
}

// memoryUnits writes the memory sizes libvirt stores in KiB
// (virDomainParseMemory) in KiB, whatever unit they were written in:
// <memtune>'s limits, NUMA cells, huge page sizes and the sizes of
// memory devices.
func (p *pp) memoryUnits() {
	d := p.def
	kib := func(v, unit string) (string, bool) {
		b, ok := scaled(v, unit, 1024)
		if !ok || b%1024 != 0 {
			return "", false
		}
		return strconv.FormatUint(b/1024, 10), true
	}
	text := func(path string) {
		for _, e := range d.EditAll(path) {
			if v, ok := kib(e.Text(), e.Attr("unit")); ok {
				e.SetText(v)
				e.SetAttr("unit", "KiB")
			}
		}
	}
	attr := func(path, name string) {
		for _, e := range d.EditAll(path) {
			if v, ok := kib(e.Attr(name), e.Attr("unit")); ok && e.Attr(name) != "" {
				e.SetAttr(name, v)
				e.SetAttr("unit", "KiB")
			}
		}
	}
	for _, l := range []string{"hard_limit", "soft_limit", "swap_hard_limit", "min_guarantee"} {
		text("memtune/" + l)
	}
	attr("cpu/numa/cell", "memory")
	// virDomainNumaDefParseXML: a cell without id is numbered by its
	// place, and libvirt writes the id first.
	for i, c := range d.EditAll("cpu/numa/cell") {
		if c.Attr("id") == "" {
			c.SetAttr("id", strconv.Itoa(i))
			c.OrderAttrs("id", "cpus", "memory", "unit", "memAccess", "discard")
		}
	}
	attr("memoryBacking/hugepages/page", "size")
	for _, m := range d.RawDevicesOf("memory") {
		MemoryDeviceUnits(m)
	}
}

// MemoryDeviceUnits writes a memory device's sizes in KiB, as libvirt's
// parser stores them (also for a device being hot-plugged, which the
// post-parse step of the whole definition does not see).
func MemoryDeviceUnits(m *conf.RawDevice) {
	for _, path := range [][]string{{"target", "size"}, {"target", "block"}, {"target", "requested"}, {"target", "label", "size"}, {"source", "pagesize"}, {"source", "alignsize"}} {
		e := child(conf.DeviceElement(m), path...)
		if e == nil {
			continue
		}
		unit, _ := e.Attr("unit")
		b, ok := scaled(e.Text(), unit, 1024)
		if !ok || b%1024 != 0 {
			continue
		}
		sp := strings.Join(path, "/")
		conf.SetDeviceValue(m, sp, strconv.FormatUint(b/1024, 10))
		conf.SetDeviceValue(m, sp+"/@unit", "KiB")
	}
}

// memoryTotal is virDomainDefPostParseMemory's sum: a guest with NUMA
// cells has as much initial memory as its cells, and <memory> is that
// plus its memory devices (a definition being defined anew, or one
// without <memory>); <currentMemory> never exceeds it.
func (p *pp) memoryTotal() {
	d := p.def
	if !p.opts.NewDomain && d.Memory != 0 {
		return
	}
	var numa, hot uint64
	for _, c := range d.EditAll("cpu/numa/cell") {
		if v, ok := scaled(c.Attr("memory"), c.Attr("unit"), 1024); ok {
			numa += v / 1024
		}
	}
	if numa == 0 {
		return
	}
	for _, m := range d.RawDevicesOf("memory") {
		if e := child(conf.DeviceElement(m), "target", "size"); e != nil {
			unit, _ := e.Attr("unit")
			if v, ok := scaled(e.Text(), unit, 1024); ok {
				hot += v / 1024
			}
		}
	}
	d.Memory = numa + hot
	if d.CurrentMemory == 0 || d.CurrentMemory > d.Memory {
		d.CurrentMemory = d.Memory
	}
}

// memorySlots is qemuDomainAssignMemorySlots: with memory hotplug on,
// each DIMM and NVDIMM without an address gets the lowest free slot at
// define.
func (p *pp) memorySlots() {
	d := p.def
	if d.MaxMemory == 0 || d.MaxMemSlots == 0 {
		return
	}
	mems := d.RawDevicesOf("memory")
	used := map[int]bool{}
	for _, m := range mems {
		if rawAttr(m, "address", "type") == "dimm" {
			if n, err := strconv.Atoi(rawAttr(m, "address", "slot")); err == nil {
				used[n] = true
			}
		}
	}
	next := 0
	for _, m := range mems {
		switch rawAttr(m, "model") {
		case "dimm", "nvdimm":
		default:
			continue
		}
		if rawAttr(m, "address", "type") != "" {
			continue
		}
		for used[next] {
			next++
		}
		if uint(next) >= d.MaxMemSlots {
			return // the builder refuses too many devices
		}
		used[next] = true
		conf.SetDeviceValue(m, "address/@type", "dimm")
		conf.SetDeviceValue(m, "address/@slot", strconv.Itoa(next))
	}
}
