package qemu

import (
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
	"govirt/virerr"
)

// virsh setvcpu as libvirt 9.0's qemuDomainSetVcpu: one vCPU (one
// hotpluggable entity) is plugged or unplugged on a running guest, with
// the vCPU states read from QEMU's hotpluggable CPU slots (a vCPU is
// online when its slot has a QOM path, unpluggable when govirt plugged it
// as a device). The persistent definition keeps per-vCPU states
// (<vcpus>, command/vcpus.go), as libvirt's.

// qemuGuestVcpuMaxID is QEMU_GUEST_VCPU_MAX_ID, the bitmap's size.
const qemuGuestVcpuMaxID = 4096

func (c *conn) DomainSetVcpu(h driver.Domain, cpumap string, state int32, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return errFlagsFn(flags&^(affectLive|affectConfig), "qemuDomainSetVcpu")
	}
	if state != 0 && state != 1 {
		return virerr.New(virerr.FromQemu, virerr.ErrInvalidArg, "%s", "unsupported state value")
	}
	set, err := conf.ParseBitmap(cpumap)
	if err == nil && len(set) > 0 && set[len(set)-1] >= qemuGuestVcpuMaxID {
		err = virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "Failed to parse bitmap '%s'", cpumap)
	}
	if err != nil {
		return err
	}
	if len(set) == 0 {
		return errQEMU(virerr.ErrInvalidArg, "%s", "no vcpus selected for modification")
	}
	last := set[len(set)-1]
	enable := state == 1
	v, err := c.jobVM(h, "setvcpu")
	if err != nil {
		return err
	}
	defer v.job.release()
	v.mu.Lock()
	active, def, mon := v.active(), v.def, v.mon
	v.mu.Unlock()
	live, config, err := impact(flags, active)
	if err != nil {
		return err
	}
	if config && def == nil {
		return errTransientConfig()
	}
	liveDef, _, _ := liveSnapshot(v)
	if config && last >= int(def.VCPUs) {
		return errQEMU(virerr.ErrInvalidArg, "vcpu %d is not present in persistent config", last)
	}
	if live {
		if liveDef == nil || mon == nil {
			return errNotRunning()
		}
		if last >= int(liveDef.VCPUs) {
			return errQEMU(virerr.ErrInvalidArg, "vcpu %d is not present in live config", last)
		}
	}
	var slot int
	var slots []hotpluggableCPU
	if live {
		if slots, err = queryVcpuSlots(mon); err != nil {
			return err
		}
		if slot, err = selectVcpuEntity(slots, set, enable); err != nil {
			return err
		}
	}
	var nd *conf.Domain
	if config {
		if nd, err = setVcpuConfig(def, set, enable); err != nil {
			return err
		}
	}
	if live {
		if err := c.d.setOneVcpuLive(v, mon, slots, slot, enable); err != nil {
			return err
		}
	}
	if nd != nil {
		return c.d.publishConfig(v, nd)
	}
	return nil
}

// selectVcpuEntity is qemuDomainFilterHotplugVcpuEntities plus the
// single-entity check of qemuDomainSetVcpuInternal: the slot of the one
// hotpluggable entity set names.
func selectVcpuEntity(slots []hotpluggableCPU, set []int, enable bool) (int, error) {
	// vcpu i belongs to the slot whose vCPUs start at first[slot].
	owner := map[int]int{}
	lead := map[int]bool{}
	n := 0
	for i, s := range slots {
		c := max(s.VCPUsCount, 1)
		lead[n] = true
		for k := 0; k < c; k++ {
			owner[n+k] = i
		}
		n += c
	}
	for _, id := range set {
		i, ok := owner[id]
		if !ok {
			continue
		}
		if (slots[i].QOMPath != "") == enable {
			return 0, errQEMU(virerr.ErrInvalidArg, "vcpu '%d' is already in requested state", id)
		}
	}
	in := map[int]bool{}
	for _, id := range set {
		in[id] = true
	}
	var picked []int
	for _, id := range set {
		i, ok := owner[id]
		if !ok {
			continue
		}
		if !lead[id] {
			if !in[id-1] || owner[id-1] != i {
				return 0, errQEMU(virerr.ErrInvalidArg, "vcpu '%d' belongs to a larger hotpluggable entity, but siblings were not selected", id)
			}
			continue
		}
		c := max(slots[i].VCPUsCount, 1)
		for k := id + 1; k < id+c; k++ {
			if !in[k] {
				return 0, errQEMU(virerr.ErrInvalidArg, "vcpu '%d' was not selected but it belongs to hotpluggable entity '%d-%d' which was partially selected", k, id, id+c-1)
			}
		}
		picked = append(picked, i)
	}
	if len(picked) != 1 {
		return 0, errQEMU(virerr.ErrOperationUnsupported, "%s", "only one hotpluggable entity can be selected")
	}
	return picked[0], nil
}

// setOneVcpuLive plugs (device_add, alias vcpuN) or unplugs one slot, as
// qemuDomainHotplugAddVcpu / qemuDomainHotplugDelVcpu. The vCPUs of the
// command line have no device to remove.
func (d *Driver) setOneVcpuLive(v *vm, mon monitor, slots []hotpluggableCPU, i int, enable bool) error {
	defer d.syncVcpuCgroups(v, mon)
	defer d.refreshVcpuCount(v, mon)
	if enable {
		props := map[string]any{"driver": slots[i].Type, "id": "vcpu" + strconv.Itoa(i)}
		for k, val := range slots[i].Props {
			props[k] = val
		}
		if err := qmp.DeviceAdd(hotplugCtx(), mon, props); err != nil {
			return qmpError(err)
		}
		return nil
	}
	if !strings.HasPrefix(slots[i].QOMPath, peripheralPath) {
		return errQEMU(virerr.ErrOperationUnsupported, "vcpu '%d' can't be unplugged", i)
	}
	return d.unplugVcpu(v, mon, strings.TrimPrefix(slots[i].QOMPath, peripheralPath), i)
}

// setVcpuConfig is qemuDomainVcpuValidateConfig and qemuDomainSetVcpuConfig:
// the persistent definition gets per-vCPU states (<vcpus>), the chosen
// vCPUs turned on or off and made hotpluggable, every order dropped, and
// <vcpu current> follows. It returns the changed copy.
func setVcpuConfig(def *conf.Domain, set []int, enable bool) (*conf.Domain, error) {
	if set[0] == 0 {
		return nil, errQEMU(virerr.ErrInvalidArg, "%s", "vCPU '0' can't be modified")
	}
	st, _, err := command.VcpuStates(def)
	if err != nil {
		return nil, err
	}
	in := map[int]bool{}
	for _, id := range set {
		in[id] = true
	}
	// Non-hotpluggable vCPUs stay together from vCPU 0 on.
	for i := set[0] + 1; i < len(st); i++ {
		if !in[i] && st[i].Online && !st[i].Hotpluggable {
			return nil, errQEMU(virerr.ErrInvalidArg, "vcpu '%d' can't be modified as it is followed by non-hotpluggable online vcpus", set[0])
		}
	}
	for i := range st {
		st[i].Order = 0
		if in[i] {
			st[i].Online = enable
			st[i].Hotpluggable = true
		}
	}
	nd := def.Clone()
	if err := command.SetVcpuStates(nd, st, false); err != nil {
		return nil, err
	}
	return nd, nil
}

// resizeVcpuStates keeps a persistent definition's <vcpus> list, when it
// has one, in step with setvcpus --config: a new count turns vCPUs on
// from the lowest (hotpluggable once an online hotpluggable one precedes
// them) or off from the highest (qemuDomainSetVcpusConfig); a new maximum
// adds offline vCPUs or drops the last ones. Orders are dropped.
func resizeVcpuStates(old, nd *conf.Domain, n uint, maxCount bool) error {
	st, individual, err := command.VcpuStates(old)
	if err != nil || !individual {
		return err
	}
	for i := range st {
		st[i].Order = 0
	}
	if maxCount {
		for len(st) < int(n) {
			st = append(st, command.VcpuState{Hotpluggable: true})
		}
		return command.SetVcpuStates(nd, st[:n], false)
	}
	cur := uint(0)
	for _, s := range st {
		if s.Online {
			cur++
		}
	}
	hot := false
	for i := 0; i < len(st) && cur < n; i++ {
		if st[i].Online {
			hot = hot || st[i].Hotpluggable
			continue
		}
		st[i].Online, st[i].Hotpluggable = true, hot
		cur++
	}
	for i := len(st) - 1; i >= 0 && cur > n; i-- {
		if st[i].Online {
			st[i].Online, st[i].Hotpluggable = false, true
			cur--
		}
	}
	return command.SetVcpuStates(nd, st, false)
}
