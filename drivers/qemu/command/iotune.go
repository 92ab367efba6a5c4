package command

import (
	"encoding/json"
	"strconv"

	"govirt/conf"
	"govirt/virerr"
)

// Disk I/O throttling (<iotune>). With -blockdev libvirt does not put it
// on the command line: once QEMU runs (CPUs still paused) it sends
// block_set_io_throttle per throttled disk (qemuProcessSetupDiskThrottling);
// DiskThrottles gives the driver those commands.

// iotuneFields are <iotune>'s limits with their block_set_io_throttle
// names, in libvirt's order.
var iotuneFields = [][2]string{
	{"total_bytes_sec", "bps"}, {"read_bytes_sec", "bps_rd"}, {"write_bytes_sec", "bps_wr"},
	{"total_iops_sec", "iops"}, {"read_iops_sec", "iops_rd"}, {"write_iops_sec", "iops_wr"},
	{"total_bytes_sec_max", "bps_max"}, {"read_bytes_sec_max", "bps_rd_max"}, {"write_bytes_sec_max", "bps_wr_max"},
	{"total_iops_sec_max", "iops_max"}, {"read_iops_sec_max", "iops_rd_max"}, {"write_iops_sec_max", "iops_wr_max"},
	{"size_iops_sec", "iops_size"},
}

// iotuneLengths are the burst lengths, only sent when set.
var iotuneLengths = [][2]string{
	{"total_bytes_sec_max_length", "bps_max_length"}, {"read_bytes_sec_max_length", "bps_rd_max_length"},
	{"write_bytes_sec_max_length", "bps_wr_max_length"}, {"total_iops_sec_max_length", "iops_max_length"},
	{"read_iops_sec_max_length", "iops_rd_max_length"}, {"write_iops_sec_max_length", "iops_wr_max_length"},
}

// iotuneMax is QEMU's limit for any throttle value.
const iotuneMax = 1000000000000000

// iotune is a disk's parsed <iotune>.
type iotune struct {
	vals  map[string]uint64 // by XML name
	group string
}

func (t iotune) any() bool {
	for _, v := range t.vals {
		if v != 0 {
			return true
		}
	}
	return false
}

func (t iotune) equal(o iotune) bool {
	if len(t.vals) != len(o.vals) {
		return false
	}
	for k, v := range t.vals {
		if o.vals[k] != v {
			return false
		}
	}
	return true
}

func diskIotune(d *conf.Disk) (*iotune, error) {
	e := child(conf.DeviceElement(d), "iotune")
	if e == nil {
		return nil, nil
	}
	t := &iotune{vals: map[string]uint64{}}
	for _, f := range append(append([][2]string{}, iotuneFields...), iotuneLengths...) {
		c := child(e, f[0])
		if c == nil {
			continue
		}
		v, err := strconv.ParseUint(c.Text(), 10, 64)
		if err != nil {
			return nil, xmlError("disk iotune field '%s' must be an integer", f[0])
		}
		if v != 0 {
			t.vals[f[0]] = v
		}
	}
	if g := child(e, "group_name"); g != nil {
		t.group = g.Text()
	}
	return t, nil
}

// checkIotunes refuses the <iotune> libvirt refuses, with its messages.
func checkIotunes(ds []*conf.Disk) error {
	tunes := map[*conf.Disk]*iotune{}
	for _, d := range ds {
		t, err := diskIotune(d)
		if err != nil {
			return err
		}
		if t == nil {
			continue
		}
		tunes[d] = t
		v := t.vals
		for _, k := range []string{"bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"} {
			if v["total_"+k] != 0 && (v["read_"+k] != 0 || v["write_"+k] != 0) {
				return xmlError("total and read/write %s cannot be set at the same time", k)
			}
		}
	}
	for _, d := range ds {
		t := tunes[d]
		if t == nil {
			continue
		}
		if t.group != "" && !t.any() {
			return unsupported("group_name can be configured only together with settings")
		}
		if t.group != "" {
			for _, o := range ds {
				ot := tunes[o]
				if o == d || ot == nil || ot.group != t.group {
					continue
				}
				if !t.equal(*ot) {
					return unsupported("different iotunes for disks %s and %s", d.TargetDev, o.TargetDev)
				}
			}
		}
		for _, f := range iotuneFields {
			if t.vals[f[0]] > iotuneMax {
				return virerr.New(virerr.FromQemu, virerr.ErrArgumentUnsupported,
					"block I/O throttle limit must be no more than %d using QEMU", int64(iotuneMax))
			}
		}
	}
	return nil
}

// qomName is the QOM path QEMU knows a disk's block backend by.
func qomName(d *conf.Disk) string {
	switch d.TargetBus {
	case "virtio":
		return "/machine/peripheral/" + d.Alias + "/virtio-backend"
	case "usb":
		return "/machine/peripheral/" + d.Alias + "/" + d.Alias + ".0/legacy[0]"
	}
	return d.Alias
}

// DiskThrottles returns the block_set_io_throttle arguments of every
// throttled, non-empty disk of the running guest def.
func DiskThrottles(def *conf.Domain) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for _, d := range def.Devices.Disks {
		args, err := DiskThrottle(d)
		if err != nil {
			return nil, err
		}
		if args != nil {
			out = append(out, args)
		}
	}
	return out, nil
}

// DiskThrottle returns the block_set_io_throttle arguments of one disk of
// a running guest, nil when it is not throttled (or empty).
func DiskThrottle(d *conf.Disk) (json.RawMessage, error) {
	if sourceEmpty(&d.Source) {
		return nil, nil
	}
	t, err := diskIotune(d)
	if err != nil || t == nil || !t.any() {
		return nil, err
	}
	o := obj{}.set("id", qomName(d))
	for _, f := range iotuneFields {
		o = o.set(f[1], t.vals[f[0]])
	}
	if t.group != "" {
		o = o.set("group", t.group)
	}
	for _, f := range iotuneLengths {
		if v := t.vals[f[0]]; v != 0 {
			o = o.set(f[1], v)
		}
	}
	return json.RawMessage(o.String()), nil
}

// DiskThrottleOff returns the block_set_io_throttle arguments that lift a
// running disk's throttling (every limit zero).
func DiskThrottleOff(d *conf.Disk) (json.RawMessage, error) {
	o := obj{}.set("id", qomName(d))
	for _, f := range iotuneFields {
		o = o.set(f[1], 0)
	}
	return json.RawMessage(o.String()), nil
}
