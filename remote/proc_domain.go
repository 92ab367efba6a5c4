package remote

import (
	"govirt/driver"
	"govirt/uuid"
)

func init() {
	register(true, map[int32]procFunc{
		procConnectListAllDomains:      listAll(driver.Domains.ListAllDomains, wireDom),
		procConnectListDomains:         connectListDomains,
		procConnectNumOfDomains:        connectNumOfDomains,
		procConnectListDefinedDomains:  connectListDefinedDomains,
		procConnectNumOfDefinedDomains: connectNumOfDefinedDomains,
		procDomainLookupByName:         lookup(driver.Domains.LookupDomainByName, wireDom),
		procDomainLookupByUUID:         lookup(lookupDomUUID, wireDom),
		procDomainLookupByID:           lookup(driver.Domains.LookupDomainByID, wireDom),

		procDomainDefineXML:       createNoFlags(driver.Domains.DomainDefineXML, wireDom),
		procDomainDefineXMLFlags:  create(driver.Domains.DomainDefineXML, wireDom),
		procDomainCreateXML:       create(driver.Domains.DomainCreateXML, wireDom),
		procDomainCreate:          on(drvDom, func(d driver.Domains, dom driver.Domain) error { _, err := d.DomainCreate(dom, 0); return err }),
		procDomainCreateWithFlags: queryFlags(drvDom, driver.Domains.DomainCreate, retDom),
		procDomainUndefine:        on(drvDom, func(d driver.Domains, dom driver.Domain) error { return d.DomainUndefine(dom, 0) }),
		procDomainUndefineFlags:   onFlags(drvDom, driver.Domains.DomainUndefine),
		procDomainDestroy:         on(drvDom, func(d driver.Domains, dom driver.Domain) error { return d.DomainDestroy(dom, 0) }),
		procDomainDestroyFlags:    onFlags(drvDom, driver.Domains.DomainDestroy),

		procDomainGetInfo:      query(drvDom, driver.Domains.DomainGetInfo, wireDomainInfo),
		procDomainGetState:     domainGetState,
		procDomainGetXMLDesc:   queryFlags(drvDom, driver.Domains.DomainGetXMLDesc, retString),
		procDomainGetOSType:    query(drvDom, driver.Domains.DomainGetOSType, retString),
		procDomainGetMaxMemory: query(drvDom, driver.Domains.DomainGetMaxMemory, retUint64),
		procDomainGetAutostart: query(drvDom, driver.Domains.DomainGetAutostart, retBool),
		procDomainSetAutostart: setBool(drvDom, driver.Domains.DomainSetAutostart),
		procDomainIsActive:     query(drvDom, driver.Domains.DomainIsActive, retBool),
		procDomainIsPersistent: query(drvDom, driver.Domains.DomainIsPersistent, retBool),
		procDomainIsUpdated:    query(drvDom, driver.Domains.DomainIsUpdated, retBool),

		procDomainShutdown:      on(drvDom, func(d driver.DomainControl, dom driver.Domain) error { return d.DomainShutdown(dom, 0) }),
		procDomainShutdownFlags: onFlags(drvDom, driver.DomainControl.DomainShutdown),
		procDomainReboot:        onFlags(drvDom, driver.DomainControl.DomainReboot),
		procDomainReset:         onFlags(drvDom, driver.DomainControl.DomainReset),
		procDomainSuspend:       on(drvDom, driver.DomainControl.DomainSuspend),
		procDomainResume:        on(drvDom, driver.DomainControl.DomainResume),
	})
}

func lookupDomUUID(d driver.Domains, u [16]byte) (driver.Domain, error) {
	return d.LookupDomainByUUID(uuid.UUID(u))
}

func wireDomainInfo(i driver.DomainInfo) any {
	return DomainGetInfoRet{State: uint32(i.State), MaxMem: i.MaxMem, Memory: i.Memory,
		NrVirtCpu: uint32(i.NrVirtCPU), CpuTime: i.CPUTime}
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

func domainGetState(h *handler, body []byte) (any, error) {
	a, err := args[domFlagsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.Domains](h)
	if err != nil {
		return nil, err
	}
	st, reason, err := d.DomainGetState(drvDom(a.Obj), a.Flags)
	if err != nil {
		return nil, err
	}
	return DomainGetStateRet{State: int32(st), Reason: reason}, nil
}
