package qemu

import (
	"slices"

	"govirt/conf"
	"govirt/uuid"
	"govirt/virerr"
)

// The <filterref> part of `virsh update-device` for a running
// <interface> (qemuDomainChangeNet's needFilterChange and
// qemuDomainChangeNetFilter): the tap's binding is torn down and the new
// filter, if any, bound to the same tap; when that fails the old binding
// is put back and the update fails with libvirt's message.

// filterRefEqual compares two NICs' filters and parameters as libvirt
// (STRNEQ_NULLABLE on the name, virNWFilterHashTableEqual on the
// parameters: a parameter's values in order, the parameters in any
// order).
func filterRefEqual(a, b *conf.Interface) bool {
	fa, pa := a.FilterRef()
	fb, pb := b.FilterRef()
	return fa == fb && equalParamMaps(paramMap(pa), paramMap(pb))
}

func paramMap(ps [][2]string) map[string][]string {
	m := map[string][]string{}
	for _, p := range ps {
		m[p[0]] = append(m[p[0]], p[1])
	}
	return m
}

func equalParamMaps(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// updateNICFilter rebinds old's tap when nic names another filter or
// other parameters, and records the new <filterref> in the live
// definition.
func (d *Driver) updateNICFilter(v *vm, old, nic *conf.Interface) error {
	if filterRefEqual(old, nic) {
		return nil
	}
	// libvirt asks the NIC's actual type; govirt's live NICs have the
	// type they were defined with (it was checked unchanged).
	switch old.Type {
	case "ethernet", "bridge", "network":
	default:
		return errQEMU(virerr.ErrConfigUnsupported, "filters not supported on interfaces of type %s", old.Type)
	}
	name, u := v.name, v.uuid
	d.unbindGuestFilters(&conf.Domain{Devices: conf.Devices{Interfaces: []*conf.Interface{old}}})
	probe := *nic
	probe.TargetDev, probe.MAC = old.TargetDev, old.MAC
	if err := d.bindNICFilter(name, u, &probe); err != nil {
		d.log.Warn("filter update failed, restoring the old filter", "domain", name, "interface", old.TargetDev, "err", err)
		_ = d.bindNICFilter(name, u, old)
		return errQEMU(virerr.ErrOperationFailed, "failed to add new filter rules to '%s' - attempting to restore old rules", old.TargetDev)
	}
	d.modifyLive(v, func(l *conf.Domain) {
		if j, err := findNIC(l, old); err == nil {
			conf.SetInterfaceFilterRef(l.Devices.Interfaces[j], nic)
		}
	})
	return nil
}

// bindNICFilter binds n's filter, if it has one, to its tap
// (virDomainConfNWFilterInstantiate without ignoreExists).
func (d *Driver) bindNICFilter(name string, u uuid.UUID, n *conf.Interface) error {
	p, ok := filterPort(name, u, n)
	if !ok {
		return nil
	}
	return d.filterPorts().BindPort(p, false)
}
