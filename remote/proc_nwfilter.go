package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/uuid"
)

// Network filter procedures go to a connection with libvirt's nwfilter
// driver beside it (driver.NWFilters: the QEMU connection). Others, as
// libvirt's test driver, answer "this function is not supported by the
// connection driver" naming the API, from the nwfilter error domain.
func init() {
	registerAPI(map[int32]procFunc{
		procs.ConnectListAllNwfilters: listAll(driver.NWFilters.ListAllNWFilters, wireNWFilter),
		procs.ConnectNumOfNwfilters: func(h *handler, _ []byte) (any, error) {
			d, err := need[driver.NWFilters](h)
			if err != nil {
				return nil, err
			}
			n, err := d.NumOfNWFilters()
			return intRet{n}, err
		},
		procs.ConnectListNwfilters: func(h *handler, body []byte) (any, error) {
			a, err := args[ConnectListNwfiltersArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.NWFilters](h)
			if err != nil {
				return nil, err
			}
			names, err := d.ListNWFilters(a.Maxnames)
			if err != nil {
				return nil, err
			}
			return ConnectListNwfiltersRet{Names: names}, nil
		},
		procs.NwfilterLookupByName: lookup(driver.NWFilters.LookupNWFilterByName, wireNWFilter),
		procs.NwfilterLookupByUUID: lookup(func(d driver.NWFilters, u [16]byte) (driver.NWFilter, error) {
			return d.LookupNWFilterByUUID(uuid.UUID(u))
		}, wireNWFilter),
		procs.NwfilterDefineXML:      createNoFlags(driver.NWFilters.NWFilterDefineXML, wireNWFilter),
		procs.NwfilterDefineXMLFlags: create(driver.NWFilters.NWFilterDefineXML, wireNWFilter),
		procs.NwfilterUndefine:       on(drvNWFilter, driver.NWFilters.NWFilterUndefine),
		procs.NwfilterGetXMLDesc:     queryFlags(drvNWFilter, driver.NWFilters.NWFilterGetXMLDesc, retString),

		procs.ConnectListAllNwfilterBindings: listAll(driver.NWFilters.ListAllNWFilterBindings, wireNWFilterBinding),
		procs.NwfilterBindingLookupByPortDev: lookup(driver.NWFilters.LookupNWFilterBindingByPortDev, wireNWFilterBinding),
		procs.NwfilterBindingCreateXML:       create(driver.NWFilters.NWFilterBindingCreateXML, wireNWFilterBinding),
		procs.NwfilterBindingDelete:          on(drvNWFilterBinding, driver.NWFilters.NWFilterBindingDelete),
		procs.NwfilterBindingGetXMLDesc:      queryFlags(drvNWFilterBinding, driver.NWFilters.NWFilterBindingGetXMLDesc, retString),
	})
}

func wireNWFilter(f driver.NWFilter) NonnullNwfilter {
	return NonnullNwfilter{Name: f.Name, UUID: f.UUID}
}

func drvNWFilter(f NonnullNwfilter) driver.NWFilter {
	return driver.NWFilter{Name: f.Name, UUID: uuid.UUID(f.UUID)}
}

func wireNWFilterBinding(b driver.NWFilterBinding) NonnullNwfilterBinding {
	return NonnullNwfilterBinding{Portdev: b.PortDev, Filtername: b.Filter}
}

func drvNWFilterBinding(b NonnullNwfilterBinding) driver.NWFilterBinding {
	return driver.NWFilterBinding{PortDev: b.Portdev, Filter: b.Filtername}
}
