package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/uuid"
)

func init() {
	register(true, map[int32]procFunc{
		procs.ConnectListAllStoragePools: listAll(driver.StoragePools.ListAllStoragePools, wirePool),
		procs.StoragePoolLookupByName:    lookup(driver.StoragePools.LookupStoragePoolByName, wirePool),
		procs.StoragePoolLookupByUUID: lookup(func(d driver.StoragePools, u [16]byte) (driver.Pool, error) {
			return d.LookupStoragePoolByUUID(uuid.UUID(u))
		}, wirePool),
		procs.StoragePoolLookupByVolume: lookup(func(d driver.StoragePools, v NonnullStorageVol) (driver.Pool, error) {
			return d.LookupStoragePoolByVolume(drvVol(v))
		}, wirePool),
		procs.StoragePoolDefineXML:      create(driver.StoragePools.StoragePoolDefineXML, wirePool),
		procs.StoragePoolCreateXML:      create(driver.StoragePools.StoragePoolCreateXML, wirePool),
		procs.StoragePoolBuild:          onFlags(drvPool, driver.StoragePools.StoragePoolBuild),
		procs.StoragePoolUndefine:       on(drvPool, driver.StoragePools.StoragePoolUndefine),
		procs.StoragePoolCreate:         onFlags(drvPool, driver.StoragePools.StoragePoolCreate),
		procs.StoragePoolDestroy:        on(drvPool, driver.StoragePools.StoragePoolDestroy),
		procs.StoragePoolDelete:         onFlags(drvPool, driver.StoragePools.StoragePoolDelete),
		procs.StoragePoolRefresh:        onFlags(drvPool, driver.StoragePools.StoragePoolRefresh),
		procs.StoragePoolGetInfo:        query(drvPool, driver.StoragePools.StoragePoolGetInfo, wirePoolInfo),
		procs.StoragePoolGetXMLDesc:     queryFlags(drvPool, driver.StoragePools.StoragePoolGetXMLDesc, retString),
		procs.StoragePoolGetAutostart:   query(drvPool, driver.StoragePools.StoragePoolGetAutostart, retBool),
		procs.StoragePoolSetAutostart:   setBool(drvPool, driver.StoragePools.StoragePoolSetAutostart),
		procs.StoragePoolIsActive:       query(drvPool, driver.StoragePools.StoragePoolIsActive, retBool),
		procs.StoragePoolIsPersistent:   query(drvPool, driver.StoragePools.StoragePoolIsPersistent, retBool),
		procs.StoragePoolNumOfVolumes:   query(drvPool, driver.StoragePools.StoragePoolNumOfVolumes, retInt),
		procs.StoragePoolListAllVolumes: listUnder(drvPool, driver.StorageVols.StoragePoolListAllVolumes, wireVol),
		procs.StorageVolLookupByName:    volLookupByName,
		procs.StorageVolLookupByKey:     lookup(driver.StorageVols.LookupStorageVolByKey, wireVol),
		procs.StorageVolLookupByPath:    lookup(driver.StorageVols.LookupStorageVolByPath, wireVol),
		procs.StorageVolCreateXML:       volCreateXML,
		procs.StorageVolCreateXMLFrom:   volCreateXMLFrom,
		procs.StorageVolDelete:          onFlags(drvVol, driver.StorageVols.StorageVolDelete),
		procs.StorageVolWipe:            onFlags(drvVol, driver.StorageVols.StorageVolWipe),
		procs.StorageVolGetInfo:         query(drvVol, driver.StorageVols.StorageVolGetInfo, wireVolInfo),
		procs.StorageVolGetInfoFlags: queryFlags(drvVol, func(d driver.StorageVols, v driver.Vol, _ uint32) (driver.VolInfo, error) {
			return d.StorageVolGetInfo(v)
		}, wireVolInfo),
		procs.StorageVolGetXMLDesc:          queryFlags(drvVol, driver.StorageVols.StorageVolGetXMLDesc, retString),
		procs.StorageVolGetPath:             query(drvVol, driver.StorageVols.StorageVolGetPath, retString),
		procs.StorageVolResize:              volResize,
		procs.ConnectFindStoragePoolSources: findPoolSources,
	})
}

func findPoolSources(h *handler, body []byte) (any, error) {
	a, err := args[ConnectFindStoragePoolSourcesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.StoragePoolSources](h)
	if err != nil {
		return nil, err
	}
	var spec string
	if a.SrcSpec != nil {
		spec = *a.SrcSpec
	}
	xml, err := d.FindStoragePoolSources(a.Type, spec, a.Flags)
	if err != nil {
		return nil, err
	}
	return ConnectFindStoragePoolSourcesRet{XML: xml}, nil
}

func wirePoolInfo(i driver.PoolInfo) any {
	return StoragePoolGetInfoRet{State: uint32(i.State), Capacity: i.Capacity, Allocation: i.Allocation, Available: i.Available}
}

func wireVolInfo(i driver.VolInfo) any {
	return StorageVolGetInfoRet{Type: i.Type, Capacity: i.Capacity, Allocation: i.Allocation}
}

func volLookupByName(h *handler, body []byte) (any, error) {
	a, err := args[StorageVolLookupByNameArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.StorageVols](h)
	if err != nil {
		return nil, err
	}
	v, err := d.LookupStorageVolByName(drvPool(a.Pool), a.Name)
	if err != nil {
		return nil, err
	}
	return objArgs[NonnullStorageVol]{wireVol(v)}, nil
}

func volCreateXML(h *handler, body []byte) (any, error) {
	a, err := args[StorageVolCreateXMLArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.StorageVols](h)
	if err != nil {
		return nil, err
	}
	v, err := d.StorageVolCreateXML(drvPool(a.Pool), a.XML, a.Flags)
	if err != nil {
		return nil, err
	}
	return objArgs[NonnullStorageVol]{wireVol(v)}, nil
}

func volCreateXMLFrom(h *handler, body []byte) (any, error) {
	a, err := args[StorageVolCreateXMLFromArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.StorageVols](h)
	if err != nil {
		return nil, err
	}
	v, err := d.StorageVolCreateXMLFrom(drvPool(a.Pool), a.XML, drvVol(a.Clonevol), a.Flags)
	if err != nil {
		return nil, err
	}
	return objArgs[NonnullStorageVol]{wireVol(v)}, nil
}

func volResize(h *handler, body []byte) (any, error) {
	a, err := args[StorageVolResizeArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.StorageVols](h)
	if err != nil {
		return nil, err
	}
	return nil, d.StorageVolResize(drvVol(a.Vol), a.Capacity, a.Flags)
}
