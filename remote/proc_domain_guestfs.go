package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainFsfreeze:           domainFSFreeze,
		procs.DomainFsthaw:             domainFSThaw,
		procs.DomainFstrim:             domainFSTrim,
		procs.DomainGetFsinfo:          domainGetFSInfo,
		procs.DomainSendProcessSignal:  domainSendProcessSignal,
		procs.DomainInterfaceAddresses: domainInterfaceAddresses,
	})
}

func domainFSFreeze(h *handler, body []byte) (any, error) {
	a, err := args[DomainFsfreezeArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainGuestFS](h)
	if err != nil {
		return nil, err
	}
	n, err := d.DomainFSFreeze(drvDom(a.Dom), a.Mountpoints, a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainFsfreezeRet{Filesystems: n}, nil
}

func domainFSThaw(h *handler, body []byte) (any, error) {
	a, err := args[DomainFsthawArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainGuestFS](h)
	if err != nil {
		return nil, err
	}
	n, err := d.DomainFSThaw(drvDom(a.Dom), a.Mountpoints, a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainFsthawRet{Filesystems: n}, nil
}

func domainFSTrim(h *handler, body []byte) (any, error) {
	a, err := args[DomainFstrimArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainGuestFS](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainFSTrim(drvDom(a.Dom), a.MountPoint, a.Minimum, a.Flags)
}

func domainGetFSInfo(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetFsinfoArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainFSInfoGetter](h)
	if err != nil {
		return nil, err
	}
	infos, err := d.DomainGetFSInfo(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	ret := DomainGetFsinfoRet{Info: []DomainFsinfo{}, Ret: uint32(len(infos))}
	for _, i := range infos {
		ret.Info = append(ret.Info, DomainFsinfo{Mountpoint: i.Mountpoint, Name: i.Name, Fstype: i.Fstype,
			DevAliases: append([]string{}, i.DevAliases...)})
	}
	return ret, nil
}

func domainSendProcessSignal(h *handler, body []byte) (any, error) {
	a, err := args[DomainSendProcessSignalArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainProcessSignaler](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSendProcessSignal(drvDom(a.Dom), a.PIDValue, a.Signum, a.Flags)
}

func domainInterfaceAddresses(h *handler, body []byte) (any, error) {
	a, err := args[DomainInterfaceAddressesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainInterfaceAddresser](h)
	if err != nil {
		return nil, err
	}
	ifaces, err := d.DomainInterfaceAddresses(drvDom(a.Dom), a.Source, a.Flags)
	if err != nil {
		return nil, err
	}
	ret := DomainInterfaceAddressesRet{Ifaces: []DomainInterface{}}
	for _, i := range ifaces {
		w := DomainInterface{Name: i.Name, Addrs: []DomainIPAddr{}}
		if i.HWAddr != "" {
			mac := i.HWAddr
			w.Hwaddr = &mac
		}
		for _, ad := range i.Addrs {
			w.Addrs = append(w.Addrs, DomainIPAddr{Type: ad.Type, Addr: ad.Addr, Prefix: ad.Prefix})
		}
		ret.Ifaces = append(ret.Ifaces, w)
	}
	return ret, nil
}
