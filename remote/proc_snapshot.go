package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.DomainSnapshotCreateXML:       snapshotCreateXML,
		procs.DomainListAllSnapshots:        listUnder(drvDom, driver.DomainSnapshots.DomainListAllSnapshots, wireSnap),
		procs.DomainSnapshotNum:             queryFlags(drvDom, driver.DomainSnapshots.DomainSnapshotNum, retInt),
		procs.DomainSnapshotListNames:       snapshotListNames,
		procs.DomainSnapshotLookupByName:    snapshotLookupByName,
		procs.DomainSnapshotGetXMLDesc:      queryFlags(drvSnap, driver.DomainSnapshots.DomainSnapshotGetXMLDesc, retString),
		procs.DomainSnapshotCurrent:         queryFlags(drvDom, driver.DomainSnapshots.DomainSnapshotCurrent, retSnap),
		procs.DomainHasCurrentSnapshot:      queryFlags(drvDom, driver.DomainSnapshots.DomainHasCurrentSnapshot, retBool),
		procs.DomainSnapshotGetParent:       queryFlags(drvSnap, driver.DomainSnapshots.DomainSnapshotGetParent, retSnap),
		procs.DomainSnapshotIsCurrent:       queryFlags(drvSnap, driver.DomainSnapshots.DomainSnapshotIsCurrent, retBool),
		procs.DomainSnapshotHasMetadata:     queryFlags(drvSnap, driver.DomainSnapshots.DomainSnapshotHasMetadata, retBool),
		procs.DomainSnapshotListAllChildren: listUnder(drvSnap, driver.DomainSnapshots.DomainSnapshotListAllChildren, wireSnap),
		procs.DomainSnapshotNumChildren:     snapshotNumChildren,
		procs.DomainSnapshotDelete:          onFlags(drvSnap, driver.DomainSnapshots.DomainSnapshotDelete),
		procs.DomainRevertToSnapshot:        onFlags(drvSnap, driver.DomainSnapshots.DomainRevertToSnapshot),
	})
}

func retSnap(s driver.Snapshot) any { return objArgs[NonnullDomainSnapshot]{wireSnap(s)} }

func snapshotCreateXML(h *handler, body []byte) (any, error) {
	a, err := args[DomainSnapshotCreateXMLArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainSnapshots](h)
	if err != nil {
		return nil, err
	}
	s, err := d.DomainSnapshotCreateXML(drvDom(a.Dom), a.XMLDesc, a.Flags)
	if err != nil {
		return nil, err
	}
	return retSnap(s), nil
}

func snapshotLookupByName(h *handler, body []byte) (any, error) {
	a, err := args[DomainSnapshotLookupByNameArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainSnapshots](h)
	if err != nil {
		return nil, err
	}
	s, err := d.DomainSnapshotLookupByName(drvDom(a.Dom), a.Name, a.Flags)
	if err != nil {
		return nil, err
	}
	return retSnap(s), nil
}

func snapshotListNames(h *handler, body []byte) (any, error) {
	a, err := args[DomainSnapshotListNamesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainSnapshots](h)
	if err != nil {
		return nil, err
	}
	snaps, err := d.DomainListAllSnapshots(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, s := range snaps {
		if int32(len(names)) < a.Maxnames {
			names = append(names, s.Name)
		}
	}
	return DomainSnapshotListNamesRet{Names: names}, nil
}

func snapshotNumChildren(h *handler, body []byte) (any, error) {
	a, err := args[snapFlagsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainSnapshots](h)
	if err != nil {
		return nil, err
	}
	snaps, err := d.DomainSnapshotListAllChildren(drvSnap(a.Obj), a.Flags)
	if err != nil {
		return nil, err
	}
	return intRet{int32(len(snaps))}, nil
}
