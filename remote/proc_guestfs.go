package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	registerAPI(map[int32]procFunc{
		procs.DomainSendProcessSignal: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainSendProcessSignalArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainGuestCalls](h)
			if err != nil {
				return nil, err
			}
			return nil, d.DomainSendProcessSignal(drvDom(a.Dom), a.PIDValue, a.Signum, a.Flags)
		},
		procs.DomainFsfreeze: fsFreezeThaw(driver.DomainGuestCalls.DomainFSFreeze),
		procs.DomainFsthaw:   fsFreezeThaw(driver.DomainGuestCalls.DomainFSThaw),
		procs.DomainFstrim: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainFstrimArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainGuestCalls](h)
			if err != nil {
				return nil, err
			}
			return nil, d.DomainFSTrim(drvDom(a.Dom), a.MountPoint, a.Minimum, a.Flags)
		},
		procs.DomainMemoryPeek: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainMemoryPeekArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainGuestCalls](h)
			if err != nil {
				return nil, err
			}
			buf, err := d.DomainMemoryPeek(drvDom(a.Dom), a.Offset, a.Size, a.Flags)
			if err != nil {
				return nil, err
			}
			return DomainMemoryPeekRet{Buffer: buf}, nil
		},
		procs.DomainGetLaunchSecurityInfo: func(h *handler, body []byte) (any, error) {
			a, err := args[domFlagsArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainGuestCalls](h)
			if err != nil {
				return nil, err
			}
			params, err := d.DomainGetLaunchSecurityInfo(drvDom(a.Obj), a.Flags)
			if err != nil {
				return nil, err
			}
			if len(params) != 0 {
				return nil, errInternal("launch security parameters are not supported")
			}
			return DomainGetLaunchSecurityInfoRet{Params: []TypedParam{}}, nil
		},
	})
}

func fsFreezeThaw(fn func(driver.DomainGuestCalls, driver.Domain, []string, uint32) (int32, error)) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[DomainFsfreezeArgs](body)
		if err != nil {
			return nil, err
		}
		d, err := need[driver.DomainGuestCalls](h)
		if err != nil {
			return nil, err
		}
		n, err := fn(d, drvDom(a.Dom), a.Mountpoints, a.Flags)
		if err != nil {
			return nil, err
		}
		return DomainFsfreezeRet{Filesystems: n}, nil
	}
}

func init() {
	registerAPI(map[int32]procFunc{
		procs.DomainRename: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainRenameArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainRenamer](h)
			if err != nil {
				return nil, err
			}
			name := ""
			if a.NewName != nil {
				name = *a.NewName
			}
			if err := d.DomainRename(drvDom(a.Dom), name, a.Flags); err != nil {
				return nil, err
			}
			return DomainRenameRet{Retcode: 0}, nil
		},
	})
}
