package remote

import (
	"govirt/driver"
	"govirt/uuid"
)

func init() {
	register(true, map[int32]procFunc{
		procConnectListAllStoragePools: listAll(driver.StoragePools.ListAllStoragePools, wirePool),
		procStoragePoolLookupByName:    lookup(driver.StoragePools.LookupStoragePoolByName, wirePool),
		procStoragePoolLookupByUUID: lookup(func(d driver.StoragePools, u [16]byte) (driver.Pool, error) {
			return d.LookupStoragePoolByUUID(uuid.UUID(u))
		}, wirePool),
		procStoragePoolLookupByVolume: lookup(func(d driver.StoragePools, v NonnullStorageVol) (driver.Pool, error) {
			return d.LookupStoragePoolByVolume(drvVol(v))
		}, wirePool),
		procStoragePoolDefineXML:      create(driver.StoragePools.StoragePoolDefineXML, wirePool),
		procStoragePoolCreateXML:      create(driver.StoragePools.StoragePoolCreateXML, wirePool),
		procStoragePoolBuild:          onFlags(drvPool, driver.StoragePools.StoragePoolBuild),
		procStoragePoolUndefine:       on(drvPool, driver.StoragePools.StoragePoolUndefine),
		procStoragePoolCreate:         onFlags(drvPool, driver.StoragePools.StoragePoolCreate),
		procStoragePoolDestroy:        on(drvPool, driver.StoragePools.StoragePoolDestroy),
		procStoragePoolDelete:         onFlags(drvPool, driver.StoragePools.StoragePoolDelete),
		procStoragePoolRefresh:        onFlags(drvPool, driver.StoragePools.StoragePoolRefresh),
		procStoragePoolGetInfo:        query(drvPool, driver.StoragePools.StoragePoolGetInfo, wirePoolInfo),
		procStoragePoolGetXMLDesc:     queryFlags(drvPool, driver.StoragePools.StoragePoolGetXMLDesc, retString),
		procStoragePoolGetAutostart:   query(drvPool, driver.StoragePools.StoragePoolGetAutostart, retBool),
		procStoragePoolSetAutostart:   setBool(drvPool, driver.StoragePools.StoragePoolSetAutostart),
		procStoragePoolIsActive:       query(drvPool, driver.StoragePools.StoragePoolIsActive, retBool),
		procStoragePoolIsPersistent:   query(drvPool, driver.StoragePools.StoragePoolIsPersistent, retBool),
		procStoragePoolNumOfVolumes:   query(drvPool, driver.StoragePools.StoragePoolNumOfVolumes, retInt),
		procStoragePoolListAllVolumes: poolListAllVolumes,
		procStorageVolLookupByName:    volLookupByName,
		procStorageVolLookupByKey:     lookup(driver.StorageVols.LookupStorageVolByKey, wireVol),
		procStorageVolLookupByPath:    lookup(driver.StorageVols.LookupStorageVolByPath, wireVol),
		procStorageVolCreateXML:       volCreateXML,
		procStorageVolCreateXMLFrom:   volCreateXMLFrom,
		procStorageVolDelete:          onFlags(drvVol, driver.StorageVols.StorageVolDelete),
		procStorageVolWipe:            onFlags(drvVol, driver.StorageVols.StorageVolWipe),
		procStorageVolGetInfo:         query(drvVol, driver.StorageVols.StorageVolGetInfo, wireVolInfo),
		procStorageVolGetInfoFlags: queryFlags(drvVol, func(d driver.StorageVols, v driver.Vol, _ uint32) (driver.VolInfo, error) {
			return d.StorageVolGetInfo(v)
		}, wireVolInfo),
		procStorageVolGetXMLDesc: queryFlags(drvVol, driver.StorageVols.StorageVolGetXMLDesc, retString),
		procStorageVolGetPath:    query(drvVol, driver.StorageVols.StorageVolGetPath, retString),
		procStorageVolResize:     volResize,
	})
}

func wirePoolInfo(i driver.PoolInfo) any {
	return StoragePoolGetInfoRet{State: uint32(i.State), Capacity: i.Capacity, Allocation: i.Allocation, Available: i.Available}
}

func wireVolInfo(i driver.VolInfo) any {
	return StorageVolGetInfoRet{Type: i.Type, Capacity: i.Capacity, Allocation: i.Allocation}
}

func poolListAllVolumes(h *handler, body []byte) (any, error) {
	a, err := args[StoragePoolListAllVolumesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.StorageVols](h)
	if err != nil {
		return nil, err
	}
	vols, err := d.StoragePoolListAllVolumes(drvPool(a.Pool), a.Flags)
	if err != nil {
		return nil, err
	}
	ret := StoragePoolListAllVolumesRet{Ret: uint32(len(vols)), Vols: []NonnullStorageVol{}}
	if a.NeedResults != 0 {
		ret.Vols = mapSlice(vols, wireVol)
	}
	return ret, nil
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
