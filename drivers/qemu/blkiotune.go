package qemu

import (
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

// virsh blkdeviotune as libvirt's qemuDomainGetBlockIoTune and
// qemuDomainSetBlockIoTune: a set merges the given parameters into the
// disk's current throttling family by family, checks the result as
// libvirt does, hands it to QEMU (block_set_io_throttle) and records it
// in the live and persistent <iotune>; a disk's group shares it. Reads
// come from the definitions.

// iotuneFamilies group the limits set together: setting one member of a
// family replaces the whole family, as libvirt's set_fields do.
var iotuneFamilies = [][]string{
	{"total_bytes_sec", "read_bytes_sec", "write_bytes_sec"},
	{"total_iops_sec", "read_iops_sec", "write_iops_sec"},
	{"total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max"},
	{"total_iops_sec_max", "read_iops_sec_max", "write_iops_sec_max"},
	{"size_iops_sec"},
	{"total_bytes_sec_max_length", "read_bytes_sec_max_length", "write_bytes_sec_max_length"},
	{"total_iops_sec_max_length", "read_iops_sec_max_length", "write_iops_sec_max_length"},
}

// iotuneLimitMax is QEMU's largest throttle value (LLONG_MAX / 1000).
const iotuneLimitMax = 9223372036854775807 / 1000

func (c *conn) DomainGetBlockIOTune(h driver.Domain, disk string, flags uint32) ([]driver.TypedParam, error) {
	def, live, err := c.readDef(h, flags&^vtpStringOkay, "qemuDomainGetBlockIoTune")
	if err != nil || disk == "" {
		return nil, err
	}
	d := diskByName(def, disk)
	if d == nil {
		if live {
			return nil, errQEMU(virerr.ErrInvalidArg, "disk '%s' not found in domain", disk)
		}
		return nil, errQEMU(virerr.ErrInvalidArg, "disk '%s' was not found in the domain config", disk)
	}
	t := d.IOTune()
	val := func(name string) uint64 { return t.Vals[name] }
	if live {
		// QEMU reports a burst length of 1 for every family with a
		// maximum set and no length of its own, and libvirt shows what
		// QEMU reports.
		for _, f := range []string{"total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec"} {
			if t.Vals[f+"_max"] != 0 && t.Vals[f+"_max_length"] == 0 {
				t.Vals[f+"_max_length"] = 1
			}
		}
	}
	var out []driver.TypedParam
	for _, f := range conf.IOTuneLimits {
		out = append(out, driver.TypedParam{Field: f, Value: val(f)})
	}
	out = append(out, driver.TypedParam{Field: "group_name", Value: t.Group})
	for _, f := range conf.IOTuneLengths {
		out = append(out, driver.TypedParam{Field: f, Value: val(f)})
	}
	return out, nil
}

// iotuneChange is the parameters of one set call.
type iotuneChange struct {
	vals     map[string]uint64
	group    string
	hasGroup bool
}

func parseIOTuneParams(params []driver.TypedParam) (iotuneChange, error) {
	want := map[string]string{"group_name": "string"}
	for _, f := range append(append([]string{}, conf.IOTuneLimits...), conf.IOTuneLengths...) {
		want[f] = "ullong"
	}
	if err := driver.ValidateParams(params, want); err != nil {
		return iotuneChange{}, err
	}
	ch := iotuneChange{vals: map[string]uint64{}}
	for _, p := range params {
		if p.Field == "group_name" {
			ch.group, ch.hasGroup = p.Value.(string), true
			continue
		}
		v := p.Value.(uint64)
		if v > iotuneLimitMax {
			return ch, errQEMU(virerr.ErrArgumentUnsupported, "block I/O throttle limit value must be no more than %d", uint64(iotuneLimitMax))
		}
		ch.vals[p.Field] = v
	}
	for _, k := range []string{"bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"} {
		if ch.vals["total_"+k] != 0 && (ch.vals["read_"+k] != 0 || ch.vals["write_"+k] != 0) {
			return ch, errQEMU(virerr.ErrInvalidArg, "total and read/write of %s cannot be set at the same time", k)
		}
	}
	return ch, nil
}

// merge is qemuDomainSetBlockIoTuneDefaults: families not named keep
// cur's values; a cleared burst length whose family still limits
// becomes 1.
func (ch iotuneChange) merge(cur conf.IOTune) conf.IOTune {
	out := conf.IOTune{Vals: map[string]uint64{}, Group: cur.Group}
	if ch.hasGroup {
		out.Group = ch.group
	}
	for _, fam := range iotuneFamilies {
		set := false
		for _, f := range fam {
			if _, ok := ch.vals[f]; ok {
				set = true
			}
		}
		for _, f := range fam {
			v := cur.Vals[f]
			if set {
				v = ch.vals[f]
			}
			if v != 0 {
				out.Vals[f] = v
			}
		}
	}
	for _, f := range []string{"total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec"} {
		l := f + "_max_length"
		if _, set := ch.vals[l]; set && cur.Vals[l] != 0 && ch.vals[l] == 0 && (out.Vals[f] != 0 || out.Vals[f+"_max"] != 0) {
			out.Vals[l] = 1
		}
	}
	return out
}

// checkIOTune is the CHECK_MAX part of qemuDomainSetBlockIoTune.
func checkIOTune(t conf.IOTune, ch iotuneChange) error {
	for _, f := range []string{"total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec"} {
		mx := t.Vals[f+"_max"]
		if mx == 0 {
			continue
		}
		if t.Vals[f] == 0 {
			fam := "bytes_sec"
			if strings.Contains(f, "iops") {
				fam = "iops_sec"
			}
			if _, reset := ch.vals["total_"+fam]; reset {
				return errQEMU(virerr.ErrConfigUnsupported, "cannot reset '%s' when '%s_max' is set", f, f)
			}
			return errQEMU(virerr.ErrConfigUnsupported, "value '%s_max' cannot be set if '%s' is not set", f, f)
		}
		if mx < t.Vals[f] {
			return errQEMU(virerr.ErrConfigUnsupported, "value '%s_max' cannot be smaller than '%s'", f, f)
		}
	}
	return nil
}

// groupTune is qemuDomainFindGroupBlockIoTune: the throttling a change
// starts from, that of another disk of the group it names.
func groupTune(def *conf.Domain, d *conf.Disk, ch iotuneChange) conf.IOTune {
	cur := d.IOTune()
	if !ch.hasGroup || ch.group == "" || cur.Group == ch.group {
		return cur
	}
	for _, o := range def.Devices.Disks {
		if t := o.IOTune(); t.Group == ch.group {
			return t
		}
	}
	return cur
}

// applyIOTune sets t on the disk and on every disk of its group.
func applyIOTune(def *conf.Domain, d *conf.Disk, t conf.IOTune) {
	d.SetIOTune(t)
	if t.Group == "" {
		return
	}
	for _, o := range def.Devices.Disks {
		if o != d && o.IOTune().Group == t.Group {
			o.SetIOTune(t)
		}
	}
}

// resolveIOTune computes a disk's new throttling in def.
func resolveIOTune(def *conf.Domain, d *conf.Disk, ch iotuneChange) (conf.IOTune, error) {
	t := ch.merge(groupTune(def, d, ch))
	if !t.Any() {
		// qemuDomainCheckBlockIoTuneReset: all zero removes the
		// throttling and the group.
		if t.Group != "" && t.Group != d.IOTune().Group {
			return t, errQEMU(virerr.ErrConfigUnsupported, "%s", "creating a new group/updating existing with all tune parameters zero is not supported")
		}
		t.Group = ""
	}
	return t, checkIOTune(t, ch)
}

func (c *conn) DomainSetBlockIOTune(h driver.Domain, disk string, params []driver.TypedParam, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return errFlagsFn(flags&^(affectLive|affectConfig), "qemuDomainSetBlockIoTune")
	}
	ch, err := parseIOTuneParams(params)
	if err != nil {
		return err
	}
	v, err := c.jobVM(h, "blkdeviotune")
	if err != nil {
		return err
	}
	defer v.job.release()
	v.mu.Lock()
	active, def, liveDef := v.active(), v.def, v.live
	v.mu.Unlock()
	live, config, err := impact(flags, active)
	if err != nil {
		return err
	}
	if config && def == nil {
		return errTransientConfig()
	}
	var nl, nd *conf.Domain
	var liveTune conf.IOTune
	if live && liveDef != nil {
		nl = liveDef.Clone()
		d := diskByName(nl, disk)
		if d == nil {
			return errQEMU(virerr.ErrInvalidArg, "disk '%s' not found in domain", disk)
		}
		t, err := resolveIOTune(nl, d, ch)
		if err != nil {
			return err
		}
		applyIOTune(nl, d, t)
		liveTune = t
		// An empty drive gets its throttling when media goes in.
		args, err := command.DiskThrottle(d)
		if err != nil {
			return err
		}
		if args == nil && !t.Any() && d.Source.Path != "" {
			args, err = command.DiskThrottleOff(d)
			if err != nil {
				return err
			}
		}
		if args != nil {
			mon := c.monitorOf(v)
			if mon == nil {
				return errNotRunning()
			}
			if err := mon.Execute(hotplugCtx(), "block_set_io_throttle", args, nil); err != nil {
				return qmpError(err)
			}
		}
	}
	if config {
		nd = def.Clone()
		d := diskByName(nd, disk)
		if d == nil {
			return errQEMU(virerr.ErrInvalidArg, "missing persistent configuration for disk '%s'", disk)
		}
		t, err := resolveIOTune(nd, d, ch)
		if err != nil {
			return err
		}
		applyIOTune(nd, d, t)
	}
	if nl != nil {
		c.d.modifyLive(v, func(l *conf.Domain) {
			if d := diskByName(l, disk); d != nil {
				applyIOTune(l, d, liveTune)
			}
		})
	}
	if nd != nil {
		if err := c.d.publishConfig(v, nd); err != nil {
			return err
		}
	}
	return nil
}
