package remote

import (
	"fmt"

	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// Node device procedures go to a driver with node devices
// (driver.NodeDevices); without one they keep the answers of
// proc_lists_legacy.go and proc_network.go (no devices). This file's init
// runs after theirs (files initialise in name order), and override
// insists the procedure is registered already.
func init() {
	override(procs.ConnectListAllNodeDevices, listAll(driver.NodeDevices.ListAllNodeDevices, wireNodeDev))
	override(procs.NodeNumOfDevices, nodeNumOfDevices)
	override(procs.NodeListDevices, nodeListDevices)
	override(procs.NodeDeviceLookupByName, nodeDeviceLookup)
	override(procs.NodeDeviceLookupScsiHostByWwn, func(h *handler, body []byte) (any, error) {
		a, err := args[NodeDeviceLookupScsiHostByWwnArgs](body)
		if err != nil {
			return nil, err
		}
		d, ok := h.conn().(driver.NodeDeviceByWWN)
		if !ok {
			// libvirt's test driver has no such lookup; the public API
			// reports it from the node device code.
			return nil, virerr.New(virerr.FromNodedev, virerr.ErrNoSupport, "%s", "virNodeDeviceLookupSCSIHostByWWN")
		}
		name, err := d.LookupSCSIHostByWWN(a.Wwnn, a.Wwpn, a.Flags)
		if err != nil {
			return nil, err
		}
		return objArgs[NonnullNodeDevice]{wireNodeDev(name)}, nil
	})
	registerAPI(map[int32]procFunc{
		procs.NodeDeviceGetXMLDesc: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceGetXMLDescArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDevices](h)
			if err != nil {
				return nil, err
			}
			s, err := d.NodeDeviceGetXMLDesc(a.Name, a.Flags)
			if err != nil {
				return nil, err
			}
			return stringRet{s}, nil
		},
		procs.NodeDeviceGetParent: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceNumOfCapsArgs](body) // {name}
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDevices](h)
			if err != nil {
				return nil, err
			}
			p, err := d.NodeDeviceGetParent(a.Name)
			if err != nil {
				return nil, err
			}
			return NodeDeviceGetParentRet{ParentName: &p}, nil
		},
		procs.NodeDeviceNumOfCaps: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceNumOfCapsArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDevices](h)
			if err != nil {
				return nil, err
			}
			n, err := d.NodeDeviceNumOfCaps(a.Name)
			if err != nil {
				return nil, err
			}
			return intRet{n}, nil
		},
		procs.NodeDeviceListCaps: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceListCapsArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDevices](h)
			if err != nil {
				return nil, err
			}
			names, err := d.NodeDeviceListCaps(a.Name, a.Maxnames)
			if err != nil {
				return nil, err
			}
			return NodeDeviceListCapsRet{Names: names}, nil
		},
		procs.NodeDeviceCreateXML: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceCreateXMLArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDevices](h)
			if err != nil {
				return nil, err
			}
			name, err := d.NodeDeviceCreateXML(a.XMLDesc, a.Flags)
			if err != nil {
				return nil, err
			}
			return objArgs[NonnullNodeDevice]{wireNodeDev(name)}, nil
		},
		procs.NodeDeviceDestroy: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceNumOfCapsArgs](body) // {name}
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDevices](h)
			if err != nil {
				return nil, err
			}
			return nil, d.NodeDeviceDestroy(a.Name)
		},
	})
}

func wireNodeDev(name string) NonnullNodeDevice { return NonnullNodeDevice{Name: name} }

// override replaces a registered procedure with one that serves drivers
// with node devices and falls back to the old answer for the others.
func override(proc int32, fn procFunc) {
	old, ok := table[proc]
	if !ok {
		panic(fmt.Sprintf("procedure %d not registered before its override", proc))
	}
	table[proc] = procEntry{needOpen: old.needOpen, fn: func(h *handler, body []byte) (any, error) {
		if _, ok := h.conn().(driver.NodeDevices); ok {
			return fn(h, body)
		}
		return old.fn(h, body)
	}}
}

func nodeNumOfDevices(h *handler, body []byte) (any, error) {
	a, err := args[NodeNumOfDevicesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NodeDevices](h)
	if err != nil {
		return nil, err
	}
	cap := ""
	if a.Cap != nil {
		cap = *a.Cap
	}
	n, err := d.NodeNumOfDevices(cap, a.Flags)
	if err != nil {
		return nil, err
	}
	return intRet{n}, nil
}

func nodeListDevices(h *handler, body []byte) (any, error) {
	a, err := args[NodeListDevicesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NodeDevices](h)
	if err != nil {
		return nil, err
	}
	cap := ""
	if a.Cap != nil {
		cap = *a.Cap
	}
	names, err := d.NodeListDevices(cap, a.Maxnames, a.Flags)
	if err != nil {
		return nil, err
	}
	return NodeListDevicesRet{Names: names}, nil
}

func nodeDeviceLookup(h *handler, body []byte) (any, error) {
	a, err := args[NodeDeviceLookupByNameArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NodeDevices](h)
	if err != nil {
		return nil, err
	}
	name, err := d.LookupNodeDeviceByName(a.Name)
	if err != nil {
		return nil, err
	}
	return objArgs[NonnullNodeDevice]{wireNodeDev(name)}, nil
}
