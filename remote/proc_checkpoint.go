package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	registerAPI(map[int32]procFunc{
		procs.DomainCheckpointCreateXML:       checkpointCreateXML,
		procs.DomainListAllCheckpoints:        listUnder(drvDom, driver.DomainCheckpoints.DomainListAllCheckpoints, wireCheckpoint),
		procs.DomainCheckpointListAllChildren: listUnder(drvCheckpoint, driver.DomainCheckpoints.DomainCheckpointListAllChildren, wireCheckpoint),
		procs.DomainCheckpointLookupByName:    checkpointLookupByName,
		procs.DomainCheckpointGetParent:       queryFlags(drvCheckpoint, driver.DomainCheckpoints.DomainCheckpointGetParent, retCheckpoint),
		procs.DomainCheckpointGetXMLDesc:      queryFlags(drvCheckpoint, driver.DomainCheckpoints.DomainCheckpointGetXMLDesc, retString),
		procs.DomainCheckpointDelete:          onFlags(drvCheckpoint, driver.DomainCheckpoints.DomainCheckpointDelete),
	})
}

func wireCheckpoint(c driver.Checkpoint) NonnullDomainCheckpoint {
	return NonnullDomainCheckpoint{Name: c.Name, Dom: wireDom(c.Dom)}
}

func drvCheckpoint(c NonnullDomainCheckpoint) driver.Checkpoint {
	return driver.Checkpoint{Name: c.Name, Dom: drvDom(c.Dom)}
}

func retCheckpoint(c driver.Checkpoint) any {
	return objArgs[NonnullDomainCheckpoint]{wireCheckpoint(c)}
}

func checkpointCreateXML(h *handler, body []byte) (any, error) {
	a, err := args[DomainCheckpointCreateXMLArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainCheckpoints](h)
	if err != nil {
		return nil, err
	}
	c, err := d.DomainCheckpointCreateXML(drvDom(a.Dom), a.XMLDesc, a.Flags)
	if err != nil {
		return nil, err
	}
	return retCheckpoint(c), nil
}

func checkpointLookupByName(h *handler, body []byte) (any, error) {
	a, err := args[DomainCheckpointLookupByNameArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainCheckpoints](h)
	if err != nil {
		return nil, err
	}
	c, err := d.DomainCheckpointLookupByName(drvDom(a.Dom), a.Name, a.Flags)
	if err != nil {
		return nil, err
	}
	return retCheckpoint(c), nil
}
