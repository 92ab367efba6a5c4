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
