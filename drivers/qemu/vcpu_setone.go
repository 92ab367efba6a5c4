package qemu

import (
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/qmp"
	"govirt/virerr"
)

// virsh setvcpu as libvirt 9.0's qemuDomainSetVcpu: one vCPU (one
// hotpluggable entity) is plugged or unplugged on a running guest, with
// the vCPU states read from QEMU's hotpluggable CPU slots (a vCPU is
// online when its slot has a QOM path, unpluggable when govirt plugged it
// as a device). The persistent definition takes the change while the
// enabled vCPUs stay 0..N-1, which <vcpu current='N'> says.

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

// setVcpuConfig is qemuDomainVcpuValidateConfig and qemuDomainSetVcpuConfig
// on a definition whose enabled vCPUs are 0..current-1. It returns the
// changed copy; a result that is not such a prefix needs per-vCPU states
// (<vcpus>), which the driver does not keep.
func setVcpuConfig(def *conf.Domain, set []int, enable bool) (*conf.Domain, error) {
	if set[0] == 0 {
		return nil, errQEMU(virerr.ErrInvalidArg, "%s", "vCPU '0' can't be modified")
	}
	cur := int(def.CurrentVCPUs)
	if cur == 0 || cur > int(def.VCPUs) {
		cur = int(def.VCPUs)
	}
	online := make([]bool, def.VCPUs)
	for i := 0; i < cur; i++ {
		online[i] = true
	}
	for _, id := range set {
		online[id] = enable
	}
	n := 0
	for n < len(online) && online[n] {
		n++
	}
	for _, on := range online[n:] {
		if on {
			return nil, errQEMU(virerr.ErrConfigUnsupported, "%s",
				"enabling vCPUs out of order in the persistent definition (<vcpus>) is not supported")
		}
	}
	nd := def.Clone()
	nd.CurrentVCPUs = uint(n)
	return nd, nil
}
