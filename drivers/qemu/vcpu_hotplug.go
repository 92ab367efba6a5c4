package qemu

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"govirt/qmp"
	"govirt/virerr"
)

// hotpluggableCPU is one entry of query-hotpluggable-cpus.
type hotpluggableCPU struct {
	Type       string         `json:"type"`
	VCPUsCount int            `json:"vcpus-count"`
	QOMPath    string         `json:"qom-path"`
	Props      map[string]int `json:"props"`
}

// vcpuAliasPrefix names the vCPU devices govirt plugs ("vcpu3"), as
// libvirt: QEMU puts devices with an id under /machine/peripheral/, so
// the ones that can be unplugged are known from QEMU alone, even after a
// daemon restart; the vCPUs of -smp live under /machine/unattached/.
const peripheralPath = "/machine/peripheral/"

// queryVcpuSlots lists the guest's vCPU slots in libvirt's order (QEMU
// reports them last first): index i is vCPU i.
func queryVcpuSlots(mon monitor) ([]hotpluggableCPU, error) {
	var slots []hotpluggableCPU
	if err := mon.Execute(hotplugCtx(), "query-hotpluggable-cpus", nil, &slots); err != nil {
		return nil, qmpError(err)
	}
	key := func(c hotpluggableCPU) []int {
		return []int{c.Props["node-id"], c.Props["socket-id"], c.Props["die-id"], c.Props["core-id"], c.Props["thread-id"]}
	}
	sort.SliceStable(slots, func(i, j int) bool {
		a, b := key(slots[i]), key(slots[j])
		for k := range a {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return false
	})
	return slots, nil
}

// setVcpusLive plugs or unplugs vCPU devices until the guest has n
// vCPUs (qemuDomainSetVcpusLive): new ones are device_add'ed in order
// with the alias vcpuN, removal takes the highest plugged ones that
// govirt added and waits for QEMU's DEVICE_DELETED. The caller holds the
// modify job.
func (d *Driver) setVcpusLive(v *vm, n uint) error {
	live, _, _ := liveSnapshot(v)
	if live == nil {
		return errNotRunning()
	}
	if n > live.VCPUs {
		return errQEMU(virerr.ErrInvalidArg, "requested vcpus is greater than max allowable vcpus for the live domain: %d > %d", n, live.VCPUs)
	}
	v.mu.Lock()
	mon := v.mon
	v.mu.Unlock()
	if mon == nil {
		return errNotRunning()
	}
	slots, err := queryVcpuSlots(mon)
	if err != nil {
		return err
	}
	cur := 0
	for _, s := range slots {
		if s.QOMPath != "" {
			cur += max(s.VCPUsCount, 1)
		}
	}
	var pick []int
	target := int(n)
	count := cur
	if target > cur {
		for i := 0; i < len(slots) && count < target; i++ {
			if slots[i].QOMPath != "" || slots[i].VCPUsCount == 0 {
				continue
			}
			count += slots[i].VCPUsCount
			if count > target {
				return errQEMU(virerr.ErrConfigUnsupported, "target vm vcpu granularity does not allow the desired vcpu count")
			}
			pick = append(pick, i)
		}
	} else {
		for i := len(slots) - 1; i >= 0 && count > target; i-- {
			if slots[i].QOMPath == "" || slots[i].VCPUsCount == 0 || !strings.HasPrefix(slots[i].QOMPath, peripheralPath) {
				continue
			}
			count -= slots[i].VCPUsCount
			if count < target {
				return errQEMU(virerr.ErrConfigUnsupported, "target vm vcpu granularity does not allow the desired vcpu count")
			}
			pick = append(pick, i)
		}
	}
	if count != target {
		return errQEMU(virerr.ErrConfigUnsupported, "failed to find appropriate hotpluggable vcpus to reach the desired target vcpu count")
	}
	// whatever happens, the live XML ends up telling what QEMU has, and
	// the vCPU threads have their cgroups (cgroup_setup.go)
	defer d.syncVcpuCgroups(v, mon)
	defer d.refreshVcpuCount(v, mon)
	for _, i := range pick {
		alias := "vcpu" + strconv.Itoa(i)
		if target > cur {
			props := map[string]any{"driver": slots[i].Type, "id": alias}
			for k, val := range slots[i].Props {
				props[k] = val
			}
			if err := qmp.DeviceAdd(hotplugCtx(), mon, props); err != nil {
				return qmpError(err)
			}
			continue
		}
		alias = strings.TrimPrefix(slots[i].QOMPath, peripheralPath)
		if err := d.unplugVcpu(v, mon, alias, i); err != nil {
			return err
		}
	}
	return nil
}

// unplugVcpu asks the guest to give a vCPU up and waits for QEMU's
// DEVICE_DELETED, as long as libvirt waits for a device.
func (d *Driver) unplugVcpu(v *vm, mon monitor, alias string, index int) error {
	w := &unplugWait{alias: alias, done: make(chan struct{})}
	v.ext.unplugMu.Lock()
	v.ext.unplug = w
	v.ext.unplugMu.Unlock()
	defer func() {
		v.ext.unplugMu.Lock()
		if v.ext.unplug == w {
			v.ext.unplug = nil
		}
		v.ext.unplugMu.Unlock()
	}()
	if err := qmp.DeviceDel(hotplugCtx(), mon, alias); err != nil {
		return qmpError(err)
	}
	select {
	case <-w.done:
		return nil
	case <-time.After(unplugTimeout):
		return errQEMU(virerr.ErrOperationTimeout, "vcpu unplug request timed out. Unplug result must be manually inspected in the domain")
	}
}

// isVcpuAlias reports whether a device id is one of the vCPUs govirt
// plugged ("vcpu3").
func isVcpuAlias(alias string) bool {
	n, ok := strings.CutPrefix(alias, "vcpu")
	if !ok || n == "" {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

// refreshVcpuCount sets the live vCPU count to what QEMU has plugged: after
// a hotplug, and when a vCPU unplug finishes after its API timed out
// (libvirt's late DEVICE_DELETED removal).
func (d *Driver) refreshVcpuCount(v *vm, mon monitor) {
	_ = d.refreshVcpuStates(v, mon, false)
}
