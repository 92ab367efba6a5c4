package remote

import (
	"govirt/driver"
	"govirt/uuid"
)

func init() {
	register(true, map[int32]procFunc{
		procConnectListAllDomains:      connectListAllDomains,
		procConnectListDomains:         connectListDomains,
		procConnectNumOfDomains:        connectNumOfDomains,
		procConnectListDefinedDomains:  connectListDefinedDomains,
		procConnectNumOfDefinedDomains: connectNumOfDefinedDomains,
		procDomainLookupByName:         domainLookupByName,
		procDomainLookupByUUID:         domainLookupByUUID,
		procDomainLookupByID:           domainLookupByID,

		procDomainDefineXML:      domainDefineXML,
		procDomainDefineXMLFlags: domainDefineXMLFlags,
		procDomainCreateXML:      domainCreateXML,
		procDomainCreate:         domainCreate,
		procDomainCreateWithFlags: domainCreateWithFlags,
		procDomainUndefine: onDom(func(d driver.Domains, dom driver.Domain) error {
			return d.DomainUndefine(dom, 0)
		}),
		procDomainUndefineFlags: onDomFlags(driver.Domains.DomainUndefine),
		procDomainDestroy: onDom(func(d driver.Domains, dom driver.Domain) error {
			return d.DomainDestroy(dom, 0)
		}),
		procDomainDestroyFlags: onDomFlags(driver.Domains.DomainDestroy),

		procDomainGetInfo:      domainGetInfo,
		procDomainGetState:     domainGetState,
		procDomainGetXMLDesc:   domFlagsQuery(driver.Domains.DomainGetXMLDesc, retString),
		procDomainGetOSType:    domQuery(driver.Domains.DomainGetOSType, retString),
		procDomainGetMaxMemory: domQuery(driver.Domains.DomainGetMaxMemory, func(v uint64) any { return DomainGetMaxMemoryRet{Memory: v} }),
		procDomainGetAutostart: domQuery(driver.Domains.DomainGetAutostart, retBool),
		procDomainSetAutostart: domainSetAutostart,
		procDomainIsActive:     domQuery(driver.Domains.DomainIsActive, retBool),
		procDomainIsPersistent: domQuery(driver.Domains.DomainIsPersistent, retBool),
		procDomainIsUpdated:    domQuery(driver.Domains.DomainIsUpdated, retBool),

		procDomainShutdown: onDom(func(d driver.DomainControl, dom driver.Domain) error {
			return d.DomainShutdown(dom, 0)
		}),
		procDomainShutdownFlags: onDomFlags(driver.DomainControl.DomainShutdown),
		procDomainReboot:        onDomFlags(driver.DomainControl.DomainReboot),
		procDomainReset:         onDomFlags(driver.DomainControl.DomainReset),
		procDomainSuspend:       onDom(driver.DomainControl.DomainSuspend),
		procDomainResume:        onDom(driver.DomainControl.DomainResume),
	})
}

func connectListAllDomains(h *handler, body []byte) (any, error) {
	a, err := args[ConnectListAllDomainsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	doms, err := d.ListAllDomains(a.Flags)
	if err != nil {
		return nil, err
	}
	ret := ConnectListAllDomainsRet{Ret: uint32(len(doms))}
	if a.NeedResults != 0 {
		ret.Domains = mapSlice(doms, wireDom)
	}
	return ret, nil
}

// The legacy list calls are derived from ListAllDomains; old clients
// (and python's listDomainsID) still use them.
func listDomains(h *handler, flags uint32) ([]driver.Domain, error) {
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	return d.ListAllDomains(flags)
}

const (
	listActive   = 1 << 0
	listInactive = 1 << 1
)

func connectListDomains(h *handler, body []byte) (any, error) {
	a, err := args[ConnectListDomainsArgs](body)
	if err != nil {
		return nil, err
	}
	doms, err := listDomains(h, listActive)
	if err != nil {
		return nil, err
	}
	ids := make([]int32, 0, len(doms))
	for _, d := range doms {
		if int32(len(ids)) < a.Maxids {
			ids = append(ids, d.ID)
		}
	}
	return ConnectListDomainsRet{Ids: ids}, nil
}

func connectNumOfDomains(h *handler, _ []byte) (any, error) {
	doms, err := listDomains(h, listActive)
	return intRet{int32(len(doms))}, err
}

func connectListDefinedDomains(h *handler, body []byte) (any, error) {
	a, err := args[ConnectListDefinedDomainsArgs](body)
	if err != nil {
		return nil, err
	}
	doms, err := listDomains(h, listInactive)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(doms))
	for _, d := range doms {
		if int32(len(names)) < a.Maxnames {
			names = append(names, d.Name)
		}
	}
	return ConnectListDefinedDomainsRet{Names: names}, nil
}

func connectNumOfDefinedDomains(h *handler, _ []byte) (any, error) {
	doms, err := listDomains(h, listInactive)
	return intRet{int32(len(doms))}, err
}

func domainLookupByName(h *handler, body []byte) (any, error) {
	a, err := args[DomainLookupByNameArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	dom, err := d.LookupDomainByName(a.Name)
	if err != nil {
		return nil, err
	}
	return retDom(dom), nil
}

func domainLookupByUUID(h *handler, body []byte) (any, error) {
	a, err := args[DomainLookupByUUIDArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	dom, err := d.LookupDomainByUUID(uuid.UUID(a.UUID))
	if err != nil {
		return nil, err
	}
	return retDom(dom), nil
}

func domainLookupByID(h *handler, body []byte) (any, error) {
	a, err := args[DomainLookupByIDArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	dom, err := d.LookupDomainByID(a.ID)
	if err != nil {
		return nil, err
	}
	return retDom(dom), nil
}

func defineXML(h *handler, xml string, flags uint32) (any, error) {
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	dom, err := d.DomainDefineXML(xml, flags)
	if err != nil {
		return nil, err
	}
	return retDom(dom), nil
}

func domainDefineXML(h *handler, body []byte) (any, error) {
	a, err := args[DomainDefineXMLArgs](body)
	if err != nil {
		return nil, err
	}
	return defineXML(h, a.XML, 0)
}

func domainDefineXMLFlags(h *handler, body []byte) (any, error) {
	a, err := args[DomainDefineXMLFlagsArgs](body)
	if err != nil {
		return nil, err
	}
	return defineXML(h, a.XML, a.Flags)
}

func domainCreateXML(h *handler, body []byte) (any, error) {
	a, err := args[DomainCreateXMLArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	dom, err := d.DomainCreateXML(a.XMLDesc, a.Flags)
	if err != nil {
		return nil, err
	}
	return retDom(dom), nil
}

func domainCreate(h *handler, body []byte) (any, error) {
	a, err := args[domArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	_, err = d.DomainCreate(drvDom(a.Dom), 0)
	return nil, err
}

func domainCreateWithFlags(h *handler, body []byte) (any, error) {
	a, err := args[domFlagsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	dom, err := d.DomainCreate(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	return retDom(dom), nil
}

func domainGetInfo(h *handler, body []byte) (any, error) {
	a, err := args[domArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	i, err := d.DomainGetInfo(drvDom(a.Dom))
	if err != nil {
		return nil, err
	}
	return DomainGetInfoRet{State: uint32(i.State), MaxMem: i.MaxMem, Memory: i.Memory,
		NrVirtCpu: uint32(i.NrVirtCPU), CpuTime: i.CPUTime}, nil
}

func domainGetState(h *handler, body []byte) (any, error) {
	a, err := args[domFlagsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	st, reason, err := d.DomainGetState(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainGetStateRet{State: int32(st), Reason: reason}, nil
}

func domainSetAutostart(h *handler, body []byte) (any, error) {
	a, err := args[DomainSetAutostartArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainSetAutostart(drvDom(a.Dom), a.Autostart != 0)
}
