package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/uuid"
)

func init() {
	register(true, map[int32]procFunc{
		procs.ConnectListAllDomains:      listAllDomains,
		procs.ConnectListDomains:         connectListDomains,
		procs.ConnectNumOfDomains:        connectNumOfDomains,
		procs.ConnectListDefinedDomains:  connectListDefinedDomains,
		procs.ConnectNumOfDefinedDomains: connectNumOfDefinedDomains,
		procs.DomainLookupByName:         lookup(driver.Domains.LookupDomainByName, wireDom),
		procs.DomainLookupByUUID:         lookup(lookupDomUUID, wireDom),
		procs.DomainLookupByID:           lookup(driver.Domains.LookupDomainByID, wireDom),

		procs.DomainDefineXML:       createNoFlags(driver.Domains.DomainDefineXML, wireDom),
		procs.DomainDefineXMLFlags:  create(driver.Domains.DomainDefineXML, wireDom),
		procs.DomainCreateXML:       create(driver.Domains.DomainCreateXML, wireDom),
		procs.DomainCreate:          on(drvDom, func(d driver.Domains, dom driver.Domain) error { _, err := d.DomainCreate(dom, 0); return err }),
		procs.DomainCreateWithFlags: queryFlags(drvDom, driver.Domains.DomainCreate, retDom),
		procs.DomainUndefine:        on(drvDom, func(d driver.Domains, dom driver.Domain) error { return d.DomainUndefine(dom, 0) }),
		procs.DomainUndefineFlags:   onFlags(drvDom, driver.Domains.DomainUndefine),
		procs.DomainDestroy:         on(drvDom, func(d driver.Domains, dom driver.Domain) error { return d.DomainDestroy(dom, 0) }),
		procs.DomainDestroyFlags:    onFlags(drvDom, driver.Domains.DomainDestroy),

		procs.DomainGetInfo:      query(drvDom, driver.Domains.DomainGetInfo, wireDomainInfo),
		procs.DomainGetState:     domainGetState,
		procs.DomainGetXMLDesc:   queryFlags(drvDom, driver.Domains.DomainGetXMLDesc, retString),
		procs.DomainGetOSType:    query(drvDom, driver.Domains.DomainGetOSType, retString),
		procs.DomainGetMaxMemory: query(drvDom, driver.Domains.DomainGetMaxMemory, retUint64),
		procs.DomainGetAutostart: query(drvDom, driver.Domains.DomainGetAutostart, retBool),
		procs.DomainSetAutostart: setBool(drvDom, driver.Domains.DomainSetAutostart),
		procs.DomainIsActive:     query(drvDom, driver.Domains.DomainIsActive, retBool),
		procs.DomainIsPersistent: query(drvDom, driver.Domains.DomainIsPersistent, retBool),
		procs.DomainIsUpdated:    query(drvDom, driver.Domains.DomainIsUpdated, retBool),

		procs.DomainShutdown:      on(drvDom, func(d driver.DomainControl, dom driver.Domain) error { return d.DomainShutdown(dom, 0) }),
		procs.DomainShutdownFlags: onFlags(drvDom, driver.DomainControl.DomainShutdown),
		procs.DomainReboot:        onFlags(drvDom, driver.DomainControl.DomainReboot),
		procs.DomainReset:         onFlags(drvDom, driver.DomainControl.DomainReset),
		procs.DomainSuspend:       on(drvDom, driver.DomainControl.DomainSuspend),
		procs.DomainResume:        on(drvDom, driver.DomainControl.DomainResume),
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
