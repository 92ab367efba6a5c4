package qemu

import (
	"fmt"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/internal/cgroup"
	"govirt/virerr"
)

// virsh memtune and blkiotune on the QEMU driver (qemuDomain{Get,Set}
// {Memory,Blkio}Parameters).

var memParamNames = []struct{ field, which, elem string }{
	{"hard_limit", "hard", "hard_limit"},
	{"soft_limit", "soft", "soft_limit"},
	{"swap_hard_limit", "swap", "swap_hard_limit"},
}

func (c *conn) DomainGetMemoryParameters(h driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlagsFn(flags, affectLive|affectConfig|typedParamStringOkay, "qemuDomainGetMemoryParameters"); err != nil {
		return nil, err
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, err
	}
	if !privileged() {
		return nil, errQEMU(virerr.ErrOperationUnsupported, "Memory tuning is not available in session mode")
	}
	_, persistent, err := tuneDefs(v, flags)
	if err != nil {
		return nil, err
	}
	var vals [3]uint64
	if persistent != nil {
		t, err := command.ParseTunables(persistent)
		if err != nil {
			return nil, err
		}
		vals = [3]uint64{t.HardLimit, t.SoftLimit, t.SwapHardLimit}
	} else {
		g, err := cgroupFor(v, cgroup.Memory, "cgroup memory controller is not mounted")
		if err != nil {
			return nil, err
		}
		for i, m := range memParamNames {
			n, err := g.MemoryLimit(m.which)
			if err != nil {
				if m.which == "swap" && cgroup.IsNotExist(err) {
					n = cgroup.Unlimited
				} else {
					return nil, cgErr(err)
				}
			}
			vals[i] = n
		}
	}
	out := make([]driver.TypedParam, 3)
	for i, m := range memParamNames {
		out[i] = driver.TypedParam{Field: m.field, Value: vals[i]}
	}
	return out, nil
}

// setMemtune writes one limit into <memtune> (removed when unlimited).
func setMemtune(d *conf.Domain, elem string, kib uint64) {
	if kib >= command.MemUnlimited {
		d.SetValue("memtune/"+elem, "")
		if d.Tree().Child("memtune") != nil && len(memtuneChildren(d)) == 0 {
			d.SetValue("memtune", "")
		}
		return
	}
	d.SetValue("memtune/"+elem, strconv.FormatUint(kib, 10))
	d.SetValue("memtune/"+elem+"/@unit", "KiB")
}

func memtuneChildren(d *conf.Domain) []string {
	var out []string
	mt := d.Tree().Child("memtune")
	for _, n := range []string{"hard_limit", "soft_limit", "swap_hard_limit", "min_guarantee"} {
		if mt != nil && mt.Child(n) != nil {
			out = append(out, n)
		}
	}
	return out
}

func (c *conn) DomainSetMemoryParameters(h driver.Domain, params []driver.TypedParam, flags uint32) error {
	if err := checkFlagsFn(flags, affectLive|affectConfig, "qemuDomainSetMemoryParameters"); err != nil {
		return err
	}
	if err := driver.ValidateParams(params, map[string]string{"hard_limit": "ullong", "soft_limit": "ullong", "swap_hard_limit": "ullong"}); err != nil {
		return err
	}
	if _, err := c.d.doms.get(h); err != nil {
		return err
	}
	if !privileged() {
		return errQEMU(virerr.ErrOperationUnsupported, "Memory tuning is not available in session mode")
	}
	v, err := c.jobVM(h, "memtune")
	if err != nil {
		return err
	}
	defer v.job.release()
	live, persistent, err := tuneDefs(v, flags)
	if err != nil {
		return err
	}
	var g *cgroup.Group
	if live != nil {
		if g, err = cgroupFor(v, cgroup.Memory, "cgroup memory controller is not mounted"); err != nil {
			return err
		}
	}
	// virTypedParamsGetULLong takes the first of a repeated name.
	set := map[string]uint64{}
	for _, p := range params {
		if _, dup := set[p.Field]; !dup {
			set[p.Field] = p.Value.(uint64)
		}
	}
	// The check uses vm->def: the live definition of a running guest.
	v.mu.Lock()
	cur := v.current()
	v.mu.Unlock()
	ct, err := command.ParseTunables(cur)
	if err != nil {
		return err
	}
	_, setHard := set["hard_limit"]
	_, setSwap := set["swap_hard_limit"]
	if setHard || setSwap {
		mem, swap := ct.HardLimit, ct.SwapHardLimit
		if setHard {
			mem = set["hard_limit"]
		}
		if setSwap {
			swap = set["swap_hard_limit"]
		}
		if mem > swap {
			return errQEMU(virerr.ErrInvalidArg, "memory hard_limit tunable value must be lower than or equal to swap_hard_limit")
		}
	}
	// Soft first; a hard limit going down before the swap limit, one
	// going up after it (the kernel wants memsw >= limit at all times).
	var order []string
	if _, ok := set["soft_limit"]; ok {
		order = append(order, "soft_limit")
	}
	hardFirst := live != nil && setHard && ct.HardLimit > set["hard_limit"]
	if hardFirst {
		order = append(order, "hard_limit")
	}
	if setSwap {
		order = append(order, "swap_hard_limit")
	}
	if setHard && !hardFirst {
		order = append(order, "hard_limit")
	}
	which := map[string]string{"hard_limit": "hard", "soft_limit": "soft", "swap_hard_limit": "swap"}
	var applied []string
	var failed error
	for _, f := range order {
		if g != nil {
			if err := g.SetMemoryLimit(which[f], set[f]); err != nil {
				failed = cgErr(err)
				break
			}
		}
		applied = append(applied, f)
	}
	edit := func(d *conf.Domain) error {
		for _, f := range applied {
			setMemtune(d, f, set[f])
		}
		return nil
	}
	if g != nil && len(applied) > 0 {
		c.updateDefs(v, true, false, edit)
	}
	if failed != nil {
		return failed
	}
	if persistent != nil {
		return c.updateDefs(v, false, true, edit)
	}
	return nil
}

var blkioDevFields = []struct{ field, elem, kind string }{
	{"device_weight", "weight", cgroup.DevWeight},
	{"device_read_iops_sec", "read_iops_sec", cgroup.DevReadIops},
	{"device_write_iops_sec", "write_iops_sec", cgroup.DevWriteIops},
	{"device_read_bytes_sec", "read_bytes_sec", cgroup.DevReadBps},
	{"device_write_bytes_sec", "write_bytes_sec", cgroup.DevWriteBps},
}

func devValue(d command.BlkioDevice, kind string) uint64 {
	switch kind {
	case cgroup.DevWeight:
		return uint64(d.Weight)
	case cgroup.DevReadIops:
		return d.ReadIops
	case cgroup.DevWriteIops:
		return d.WriteIops
	case cgroup.DevReadBps:
		return d.ReadBps
	}
	return d.WriteBps
}

func setDevValue(d *command.BlkioDevice, kind string, v uint64) {
	switch kind {
	case cgroup.DevWeight:
		d.Weight = uint32(v)
	case cgroup.DevReadIops:
		d.ReadIops = v
	case cgroup.DevWriteIops:
		d.WriteIops = v
	case cgroup.DevReadBps:
		d.ReadBps = v
	default:
		d.WriteBps = v
	}
}

// blkioDevStrings is virDomainGetBlkioParametersAssignFromDef.
func blkioDevStrings(t *command.Tunables) []driver.TypedParam {
	var out []driver.TypedParam
	for _, f := range blkioDevFields {
		var parts []string
		for _, d := range t.BlkioDevices {
			if n := devValue(d, f.kind); n != 0 {
				parts = append(parts, d.Path, strconv.FormatUint(n, 10))
			}
		}
		out = append(out, driver.TypedParam{Field: f.field, Value: strings.Join(parts, ",")})
	}
	return out
}

func (c *conn) DomainGetBlkioParameters(h driver.Domain, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlagsFn(flags, affectLive|affectConfig|typedParamStringOkay, "qemuDomainGetBlkioParameters"); err != nil {
		return nil, err
	}
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, err
	}
	if !privileged() {
		return nil, errQEMU(virerr.ErrConfigUnsupported, "Block I/O tuning is not available in session mode")
	}
	live, persistent, err := tuneDefs(v, flags)
	if err != nil {
		return nil, err
	}
	if live != nil {
		g, err := cgroupFor(v, cgroup.Blkio, "blkio cgroup isn't mounted")
		if err != nil {
			return nil, err
		}
		w, err := g.BlkioWeight()
		if err != nil {
			return nil, cgErr(err)
		}
		t, err := command.ParseTunables(live)
		if err != nil {
			return nil, err
		}
		return append([]driver.TypedParam{{Field: "weight", Value: w}}, blkioDevStrings(t)...), nil
	}
	t, err := command.ParseTunables(persistent)
	if err != nil {
		return nil, err
	}
	return append([]driver.TypedParam{{Field: "weight", Value: t.BlkioWeight}}, blkioDevStrings(t)...), nil
}

// parseBlkioDevices is virDomainDriverParseBlkioDeviceStr: "PATH,VALUE"
// pairs separated by commas.
func parseBlkioDevices(s, field string) ([]command.BlkioDevice, error) {
	if s == "" {
		return nil, nil
	}
	toks := strings.Split(s, ",")
	if len(toks)%2 != 0 {
		return nil, errQEMU(virerr.ErrInvalidArg, "unable to parse blkio device '%s' '%s'", field, s)
	}
	kind := ""
	for _, f := range blkioDevFields {
		if f.field == field {
			kind = f.kind
		}
	}
	var out []command.BlkioDevice
	for i := 0; i < len(toks); i += 2 {
		bits := 64
		if kind == cgroup.DevWeight {
			bits = 32
		}
		n, err := strconv.ParseUint(toks[i+1], 10, bits)
		if err != nil {
			return nil, errQEMU(virerr.ErrInvalidArg, "invalid value '%s' for parameter '%s' of device '%s'", toks[i+1], field, toks[i])
		}
		d := command.BlkioDevice{Path: toks[i]}
		setDevValue(&d, kind, n)
		out = append(out, d)
	}
	return out, nil
}

// mergeBlkio is virDomainDriverMergeBlkioDevice for one kind.
func mergeBlkio(devs []command.BlkioDevice, add []command.BlkioDevice, kind string) []command.BlkioDevice {
	for _, a := range add {
		found := false
		for i := range devs {
			if devs[i].Path == a.Path {
				setDevValue(&devs[i], kind, devValue(a, kind))
				found = true
			}
		}
		if !found {
			devs = append(devs, a)
		}
	}
	return devs
}

// blkiotuneXML formats <blkiotune> as libvirt does; empty without content.
func blkiotuneXML(weight uint32, devs []command.BlkioDevice) []byte {
	var b strings.Builder
	if weight != 0 {
		fmt.Fprintf(&b, "<weight>%d</weight>", weight)
	}
	for _, d := range devs {
		var in strings.Builder
		for _, f := range blkioDevFields {
			if n := devValue(d, f.kind); n != 0 {
				fmt.Fprintf(&in, "<%s>%d</%s>", f.elem, n, f.elem)
			}
		}
		if in.Len() == 0 {
			continue
		}
		fmt.Fprintf(&b, "<device><path>%s</path>%s</device>", xmlEscape(d.Path), in.String())
	}
	if b.Len() == 0 {
		return nil
	}
	return []byte("<blkiotune>" + b.String() + "</blkiotune>")
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;").Replace(s)
}

func (c *conn) DomainSetBlkioParameters(h driver.Domain, params []driver.TypedParam, flags uint32) error {
	if err := checkFlagsFn(flags, affectLive|affectConfig, "qemuDomainSetBlkioParameters"); err != nil {
		return err
	}
	want := map[string]string{"weight": "uint"}
	for _, f := range blkioDevFields {
		want[f.field] = "string"
	}
	if err := driver.ValidateParams(params, want); err != nil {
		return err
	}
	if _, err := c.d.doms.get(h); err != nil {
		return err
	}
	if !privileged() {
		return errQEMU(virerr.ErrConfigUnsupported, "Block I/O tuning is not available in session mode")
	}
	v, err := c.jobVM(h, "blkiotune")
	if err != nil {
		return err
	}
	defer v.job.release()
	live, persistent, err := tuneDefs(v, flags)
	if err != nil {
		return err
	}
	if live != nil {
		g, err := cgroupFor(v, cgroup.Blkio, "blkio cgroup isn't mounted")
		if err != nil {
			return err
		}
		t, err := command.ParseTunables(live)
		if err != nil {
			return err
		}
		// As virDomainCgroupSetupDomainBlkioParameters: every
		// parameter is tried, what worked is recorded, the last
		// failure is returned.
		var failed error
		for _, p := range params {
			if p.Field == "weight" {
				if err := g.SetBlkioWeight(p.Value.(uint32)); err != nil {
					failed = cgErr(err)
					continue
				}
				if w, err := g.BlkioWeight(); err == nil {
					t.BlkioWeight = w
				}
				continue
			}
			devs, err := parseBlkioDevices(p.Value.(string), p.Field)
			if err != nil {
				failed = err
				continue
			}
			kind := ""
			for _, f := range blkioDevFields {
				if f.field == p.Field {
					kind = f.kind
				}
			}
			ok := true
			for _, d := range devs {
				if err := g.SetBlkioDevice(kind, d.Path, devValue(d, kind)); err != nil {
					failed, ok = cgErr(err), false
					break
				}
			}
			if ok {
				t.BlkioDevices = mergeBlkio(t.BlkioDevices, devs, kind)
			}
		}
		c.updateDefs(v, true, false, func(d *conf.Domain) error {
			return d.SetElement("blkiotune", blkiotuneXML(t.BlkioWeight, t.BlkioDevices))
		})
		if failed != nil {
			return failed
		}
	}
	if persistent != nil {
		t, err := command.ParseTunables(persistent)
		if err != nil {
			return err
		}
		for _, p := range params {
			if p.Field == "weight" {
				t.BlkioWeight = p.Value.(uint32)
				continue
			}
			devs, err := parseBlkioDevices(p.Value.(string), p.Field)
			if err != nil {
				return err
			}
			for _, f := range blkioDevFields {
				if f.field == p.Field {
					t.BlkioDevices = mergeBlkio(t.BlkioDevices, devs, f.kind)
				}
			}
		}
		return c.updateDefs(v, false, true, func(d *conf.Domain) error {
			return d.SetElement("blkiotune", blkiotuneXML(t.BlkioWeight, t.BlkioDevices))
		})
	}
	return nil
}
