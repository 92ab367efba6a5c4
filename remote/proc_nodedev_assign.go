package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

// PCI detach, reattach and reset (virNodeDeviceDettach/DetachFlags,
// ReAttach, Reset) are hypervisor driver calls in libvirt; a driver
// without them (libvirt's test driver) answers "not supported".
func init() {
	registerAPI(map[int32]procFunc{
		procs.NodeDeviceDettach: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceDettachArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDeviceAssign](h)
			if err != nil {
				return nil, err
			}
			return nil, d.NodeDeviceDetachFlags(a.Name, "", 0)
		},
		procs.NodeDeviceDetachFlags: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceDetachFlagsArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDeviceAssign](h)
			if err != nil {
				return nil, err
			}
			drv := ""
			if a.DriverName != nil {
				drv = *a.DriverName
			}
			return nil, d.NodeDeviceDetachFlags(a.Name, drv, a.Flags)
		},
		procs.NodeDeviceReAttach: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceReAttachArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDeviceAssign](h)
			if err != nil {
				return nil, err
			}
			return nil, d.NodeDeviceReAttach(a.Name)
		},
		procs.NodeDeviceReset: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceResetArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDeviceAssign](h)
			if err != nil {
				return nil, err
			}
			return nil, d.NodeDeviceReset(a.Name)
		},
	})
}

func init() {
	nameBool := func(fn func(driver.NodeDeviceStates, string) (bool, error), ret func(bool) any) procFunc {
		return func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceIsActiveArgs](body) // {name}
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDeviceStates](h)
			if err != nil {
				return nil, err
			}
			v, err := fn(d, a.Name)
			if err != nil {
				return nil, err
			}
			return ret(v), nil
		}
	}
	b2i := func(b bool) int32 {
		if b {
			return 1
		}
		return 0
	}
	registerAPI(map[int32]procFunc{
		procs.NodeDeviceIsActive: nameBool(driver.NodeDeviceStates.NodeDeviceIsActive,
			func(v bool) any { return NodeDeviceIsActiveRet{Active: b2i(v)} }),
		procs.NodeDeviceIsPersistent: nameBool(driver.NodeDeviceStates.NodeDeviceIsPersistent,
			func(v bool) any { return NodeDeviceIsPersistentRet{Persistent: b2i(v)} }),
		procs.NodeDeviceGetAutostart: nameBool(driver.NodeDeviceStates.NodeDeviceGetAutostart,
			func(v bool) any { return NodeDeviceGetAutostartRet{Autostart: b2i(v)} }),
		procs.NodeDeviceSetAutostart: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceSetAutostartArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDeviceStates](h)
			if err != nil {
				return nil, err
			}
			return nil, d.NodeDeviceSetAutostart(a.Name, a.Autostart != 0)
		},
		procs.NodeDeviceCreate: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceCreateArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDeviceStates](h)
			if err != nil {
				return nil, err
			}
			return nil, d.NodeDeviceCreate(a.Name, a.Flags)
		},
		procs.NodeDeviceUndefine: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceUndefineArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDeviceStates](h)
			if err != nil {
				return nil, err
			}
			return nil, d.NodeDeviceUndefine(a.Name, a.Flags)
		},
		procs.NodeDeviceDefineXML: func(h *handler, body []byte) (any, error) {
			a, err := args[NodeDeviceDefineXMLArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NodeDeviceStates](h)
			if err != nil {
				return nil, err
			}
			name, err := d.NodeDeviceDefineXML(a.XMLDesc, a.Flags)
			if err != nil {
				return nil, err
			}
			return NodeDeviceDefineXMLRet{Dev: wireNodeDev(name)}, nil
		},
	})
}
