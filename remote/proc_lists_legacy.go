package remote

import (
	"fmt"
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/uuid"
	"govirt/virerr"
)

// The older list calls (virConnectNumOf*, virConnectList*,
// virConnectListDefined*, virStoragePoolListVolumes, virNodeListDevices)
// predate the LIST_ALL family. Bindings and tools still use them (Ansible's
// virt_pool starts with virConnectNumOfStoragePools), so each is served
// from the driver's LIST_ALL answer with the matching active/inactive
// filter. maxnames is bounded by the generated checkCounts before any of
// these runs, and a list longer than maxnames is cut as libvirt's drivers
// cut it (the first maxnames names).

// Active/inactive bits; the same values for networks, pools and
// interfaces (VIR_CONNECT_LIST_*_INACTIVE = 1, _ACTIVE = 2).
const (
	legacyInactive uint32 = 1 << 0
	legacyActive   uint32 = 1 << 1
)

func init() {
	register(true, map[int32]procFunc{
		procs.ConnectNumOfStoragePools:        legacyCount(poolNames, legacyActive),
		procs.ConnectNumOfDefinedStoragePools: legacyCount(poolNames, legacyInactive),
		procs.ConnectListStoragePools: legacyNames(poolNames, legacyActive, func(a ConnectListStoragePoolsArgs) int32 { return a.Maxnames },
			func(n []string) any { return ConnectListStoragePoolsRet{Names: n} }),
		procs.ConnectListDefinedStoragePools: legacyNames(poolNames, legacyInactive, func(a ConnectListDefinedStoragePoolsArgs) int32 { return a.Maxnames },
			func(n []string) any { return ConnectListDefinedStoragePoolsRet{Names: n} }),

		procs.ConnectNumOfInterfaces:        legacyCount(ifaceNames, legacyActive),
		procs.ConnectNumOfDefinedInterfaces: legacyCount(ifaceNames, legacyInactive),
		procs.ConnectListInterfaces: legacyNames(ifaceNames, legacyActive, func(a ConnectListInterfacesArgs) int32 { return a.Maxnames },
			func(n []string) any { return ConnectListInterfacesRet{Names: n} }),
		procs.ConnectListDefinedInterfaces: legacyNames(ifaceNames, legacyInactive, func(a ConnectListDefinedInterfacesArgs) int32 { return a.Maxnames },
			func(n []string) any { return ConnectListDefinedInterfacesRet{Names: n} }),

		// Connections without a secret or node device driver answer
		// the older calls with empty lists, as their LIST_ALL calls
		// (issue 3), and lookups find nothing. Network filters are in
		// proc_nwfilter.go.
		procs.ConnectListSecrets: func(h *handler, body []byte) (any, error) {
			if _, err := args[ConnectListSecretsArgs](body); err != nil {
				return nil, err
			}
			return ConnectListSecretsRet{Uuids: []string{}}, nil
		},
		procs.NodeNumOfDevices: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeNumOfDevicesArgs](body)
			if err != nil {
				return nil, err
			}
			if a.Flags != 0 {
				return nil, nodedevFlagsErr(a.Flags, "nodeNumOfDevices")
			}
			return intRet{0}, nil
		},
		procs.NodeListDevices: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeListDevicesArgs](body)
			if err != nil {
				return nil, err
			}
			if a.Flags != 0 {
				return nil, nodedevFlagsErr(a.Flags, "nodeListDevices")
			}
			return NodeListDevicesRet{Names: []string{}}, nil
		},
		procs.StoragePoolListVolumes:          poolListVolumes,
		procs.DomainSnapshotListChildrenNames: snapshotListChildrenNames,
		procs.StoragePoolLookupByTargetPath:   poolLookupByTargetPath,
		procs.SecretLookupByUUID:              secretLookupByUUID,
		procs.SecretLookupByUsage:             secretLookupByUsage,
		procs.NodeDeviceLookupByName:          nodeDeviceLookupByName,
		procs.NodeDeviceLookupScsiHostByWwn:   nodeDeviceLookupSCSIHostByWWN,
	})
}

// legacyCount serves a NUM_OF call from a name lister.
func legacyCount(names func(*handler, uint32) ([]string, error), which uint32) procFunc {
	return func(h *handler, _ []byte) (any, error) {
		n, err := names(h, which)
		if err != nil {
			return nil, err
		}
		return intRet{int32(len(n))}, nil
	}
}

// legacyNames serves a LIST call: A is the generated args type (so its
// maxnames is bounded), max reads maxnames, wrap builds the reply.
func legacyNames[A any](names func(*handler, uint32) ([]string, error), which uint32, max func(A) int32, wrap func([]string) any) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[A](body)
		if err != nil {
			return nil, err
		}
		n, err := names(h, which)
		if err != nil {
			return nil, err
		}
		return wrap(firstN(n, max(a))), nil
	}
}

func firstN(names []string, max int32) []string {
	if max < 0 {
		max = 0
	}
	if int32(len(names)) > max {
		names = names[:max]
	}
	if names == nil {
		names = []string{}
	}
	return names
}

func poolNames(h *handler, which uint32) ([]string, error) {
	d, err := need[driver.StoragePools](h)
	if err != nil {
		return nil, err
	}
	pools, err := d.ListAllStoragePools(which)
	if err != nil {
		return nil, err
	}
	return mapSlice(pools, func(p driver.Pool) string { return p.Name }), nil
}

func ifaceNames(h *handler, which uint32) ([]string, error) {
	if c, ok := h.conn().(driver.InterfaceCounting); ok {
		return c.InterfaceNames(which == legacyActive)
	}
	d, err := need[driver.Interfaces](h)
	if err != nil {
		return nil, err
	}
	ifaces, err := d.ListAllInterfaces(which)
	if err != nil {
		return nil, err
	}
	return mapSlice(ifaces, func(i driver.Interface) string { return i.Name }), nil
}

// poolListVolumes is virStoragePoolListVolumes. Both of libvirt's drivers
// refuse an inactive pool here (the test driver even where its LIST_ALL
// does not), with the message of their NUM_OF_VOLUMES, which is asked
// first for that check.
func poolListVolumes(h *handler, body []byte) (any, error) {
	a, err := args[StoragePoolListVolumesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.StoragePools](h)
	if err != nil {
		return nil, err
	}
	v, err := need[driver.StorageVols](h)
	if err != nil {
		return nil, err
	}
	p := drvPool(a.Pool)
	if _, err := d.StoragePoolNumOfVolumes(p); err != nil {
		return nil, err
	}
	vols, err := v.StoragePoolListAllVolumes(p, 0)
	if err != nil {
		return nil, err
	}
	names := mapSlice(vols, func(v driver.Vol) string { return v.Name })
	return StoragePoolListVolumesRet{Names: firstN(names, a.Maxnames)}, nil
}

func snapshotListChildrenNames(h *handler, body []byte) (any, error) {
	a, err := args[DomainSnapshotListChildrenNamesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainSnapshots](h)
	if err != nil {
		return nil, err
	}
	snaps, err := d.DomainSnapshotListAllChildren(drvSnap(a.Snap), a.Flags)
	if err != nil {
		return nil, err
	}
	names := mapSlice(snaps, func(s driver.Snapshot) string { return s.Name })
	return DomainSnapshotListChildrenNamesRet{Names: firstN(names, a.Maxnames)}, nil
}

func poolLookupByTargetPath(h *handler, body []byte) (any, error) {
	a, err := args[StoragePoolLookupByTargetPathArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.StoragePoolByTarget](h)
	if err != nil {
		return nil, err
	}
	p, err := d.LookupStoragePoolByTargetPath(a.Path)
	if err != nil {
		return nil, err
	}
	return objArgs[NonnullStoragePool]{wirePool(p)}, nil
}

func nodedevFlagsErr(flags uint32, fn string) error {
	return virerr.Raw(virerr.FromNodedev, virerr.ErrInvalidArg, fmt.Sprintf("unsupported flags (0x%x) in function %s", flags, fn))
}

// The lookups of kinds no driver here manages find nothing, with the
// errors of libvirt's drivers for an object that does not exist. libvirt's
// test driver has no secret driver at all, so on its connection those
// lookups are "not supported", as there.
func noDriverOnTest(h *handler) error {
	if c := h.conn(); c != nil && c.Type() == "TEST" {
		return errNoSupport
	}
	return nil
}

func secretLookupByUUID(h *handler, body []byte) (any, error) {
	a, err := args[SecretLookupByUUIDArgs](body)
	if err != nil {
		return nil, err
	}
	if err := noDriverOnTest(h); err != nil {
		return nil, err
	}
	return nil, virerr.New(virerr.FromSecret, virerr.ErrNoSecret, "no secret with matching uuid '%s'", uuid.UUID(a.UUID))
}

func secretLookupByUsage(h *handler, body []byte) (any, error) {
	a, err := args[SecretLookupByUsageArgs](body)
	if err != nil {
		return nil, err
	}
	if err := noDriverOnTest(h); err != nil {
		return nil, err
	}
	return nil, virerr.New(virerr.FromSecret, virerr.ErrNoSecret, "no secret with matching usage '%s'", a.UsageID)
}

func nodeDeviceLookupByName(h *handler, body []byte) (any, error) {
	a, err := args[NodeDeviceLookupByNameArgs](body)
	if err != nil {
		return nil, err
	}
	return nil, virerr.New(virerr.FromNodedev, virerr.ErrNoNodeDevice, "no node device with matching name '%s'", a.Name)
}

// nodeDeviceLookupSCSIHostByWWN: libvirt's node device driver, finding no
// SCSI host with the pair, returns NULL without an error, and its daemon
// sends the error it sends for any such failure.
func nodeDeviceLookupSCSIHostByWWN(h *handler, body []byte) (any, error) {
	a, err := args[NodeDeviceLookupScsiHostByWwnArgs](body)
	if err != nil {
		return nil, err
	}
	if a.Flags != 0 {
		return nil, nodedevFlagsErr(a.Flags, "nodeDeviceLookupSCSIHostByWWN")
	}
	return nil, virerr.Raw(virerr.FromRPC, virerr.ErrInternalError, "Library function returned error but did not set virError")
}
