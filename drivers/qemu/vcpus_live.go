package qemu

import (
	"context"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/qmp"
	"govirt/virerr"
)

// vCPUs of a definition with <vcpus> that are online and hotpluggable
// are plugged as devices (alias vcpuN) once QEMU is up and still paused,
// by their order (qemuProcessSetupHotpluggableVcpus); the live <vcpus>
// list then says what QEMU has, each online vCPU's order being its place
// in QEMU's creation order (query-cpus-fast), as libvirt's
// qemuDomainRefreshVcpuInfo and qemuDomainVcpuPersistOrder.

func (d *Driver) plugBootVcpus(ctx context.Context, v *vm, mon monitor, live *conf.Domain) error {
	ids := command.BootHotplugVcpus(live)
	if len(ids) == 0 {
		return nil
	}
	slots, err := queryVcpuSlots(mon)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id >= len(slots) {
			return errQEMU(virerr.ErrInternalError, "vcpu '%d' has no hotpluggable slot in QEMU", id)
		}
		props := map[string]any{"driver": slots[id].Type, "id": "vcpu" + strconv.Itoa(id)}
		for k, val := range slots[id].Props {
			props[k] = val
		}
		if err := qmp.DeviceAdd(ctx, mon, props); err != nil {
			return qmpError(err)
		}
	}
	return d.refreshVcpuStates(v, mon, true)
}

// liveVcpuStates reads the vCPU states from QEMU: online when its slot
// has a QOM path, hotpluggable when plugged as a device or offline, and
// the order of the online ones.
func liveVcpuStates(mon monitor) ([]command.VcpuState, error) {
	slots, err := queryVcpuSlots(mon)
	if err != nil {
		return nil, err
	}
	var cpus []struct {
		QOMPath string `json:"qom-path"`
	}
	if err := mon.Execute(hotplugCtx(), "query-cpus-fast", nil, &cpus); err != nil {
		return nil, qmpError(err)
	}
	order := map[string]int{}
	next := 1
	for _, c := range cpus {
		p := c.QOMPath
		if i := strings.Index(p, "/thread"); i >= 0 {
			p = p[:i]
		}
		if _, seen := order[p]; !seen {
			order[p] = next
			next++
		}
	}
	st := make([]command.VcpuState, len(slots))
	for i, s := range slots {
		online := s.QOMPath != ""
		st[i] = command.VcpuState{Online: online, Hotpluggable: !online || strings.HasPrefix(s.QOMPath, peripheralPath)}
		if online {
			st[i].Order = order[s.QOMPath]
		}
	}
	return st, nil
}

// refreshVcpuStates writes QEMU's vCPU states into the live definition:
// <vcpu current>, and the <vcpus> list when the definition has one or
// force (a vCPU was plugged: libvirt lists them from then on).
func (d *Driver) refreshVcpuStates(v *vm, mon monitor, force bool) error {
	st, err := liveVcpuStates(mon)
	if err != nil {
		return err
	}
	for _, s := range st {
		force = force || (s.Online && s.Hotpluggable)
	}
	d.modifyLive(v, func(next *conf.Domain) {
		_, individual, _ := command.VcpuStates(next)
		if (individual || force) && len(st) == int(next.VCPUs) {
			_ = command.SetVcpuStates(next, st, true)
			return
		}
		n := uint(0)
		for _, s := range st {
			if s.Online {
				n++
			}
		}
		next.CurrentVCPUs = n
	})
	return nil
}
