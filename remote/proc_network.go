package remote

import (
	"govirt/driver"
	"govirt/uuid"
)

func init() {
	register(true, map[int32]procFunc{
		procConnectListAllNetworks:      listAll(driver.Networks.ListAllNetworks, wireNet),
		procConnectNumOfNetworks:        countNets(1),
		procConnectNumOfDefinedNetworks: countNets(2),
		procConnectListNetworks:         namesNets(1),
		procConnectListDefinedNetworks:  namesNets(2),
		procNetworkLookupByName:         lookup(driver.Networks.LookupNetworkByName, wireNet),
		procNetworkLookupByUUID: lookup(func(d driver.Networks, u [16]byte) (driver.Network, error) {
			return d.LookupNetworkByUUID(uuid.UUID(u))
		}, wireNet),
		procNetworkDefineXML:      createNoFlags(driver.Networks.NetworkDefineXML, wireNet),
		procNetworkDefineXMLFlags: create(driver.Networks.NetworkDefineXML, wireNet),
		procNetworkCreateXML:      createNoFlags(driver.Networks.NetworkCreateXML, wireNet),
		procNetworkCreateXMLFlags: create(driver.Networks.NetworkCreateXML, wireNet),
		procNetworkUndefine:       on(drvNet, driver.Networks.NetworkUndefine),
		procNetworkCreate:         on(drvNet, driver.Networks.NetworkCreate),
		procNetworkDestroy:        on(drvNet, driver.Networks.NetworkDestroy),
		procNetworkGetXMLDesc:     queryFlags(drvNet, driver.Networks.NetworkGetXMLDesc, retString),
		procNetworkGetBridgeName:  query(drvNet, driver.Networks.NetworkGetBridgeName, retString),
		procNetworkGetAutostart:   query(drvNet, driver.Networks.NetworkGetAutostart, retBool),
		procNetworkSetAutostart:   setBool(drvNet, driver.Networks.NetworkSetAutostart),
		procNetworkIsActive:       query(drvNet, driver.Networks.NetworkIsActive, retBool),
		procNetworkIsPersistent:   query(drvNet, driver.Networks.NetworkIsPersistent, retBool),

		procConnectListAllInterfaces:   listAll(driver.Interfaces.ListAllInterfaces, wireIface),
		procInterfaceLookupByName:      lookup(driver.Interfaces.LookupInterfaceByName, wireIface),
		procInterfaceLookupByMACString: lookup(driver.Interfaces.LookupInterfaceByMACString, wireIface),
		procInterfaceGetXMLDesc:        queryFlags(drvIface, driver.Interfaces.InterfaceGetXMLDesc, retString),
		procInterfaceIsActive:          query(drvIface, driver.Interfaces.InterfaceIsActive, retBool),

		// No driver manages these yet; listing must still work.
		procConnectListAllNodeDevices: emptyList[NonnullNodeDevice](),
		procConnectListAllSecrets:     emptyList[NonnullSecret](),
		procConnectListAllNwfilters:   emptyList[NonnullNwfilter](),
		procConnectNumOfSecrets:       func(*handler, []byte) (any, error) { return intRet{0}, nil },
	})
}

// countNets and namesNets serve the legacy network list calls from
// ListAllNetworks; which is 1 for active, 2 for defined (inactive).
func countNets(which int) procFunc {
	return func(h *handler, _ []byte) (any, error) {
		names, err := netNames(h, which)
		return intRet{int32(len(names))}, err
	}
}

func namesNets(which int) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[struct{ Max int32 }](body)
		if err != nil {
			return nil, err
		}
		names, err := netNames(h, which)
		if int32(len(names)) > a.Max {
			names = names[:a.Max]
		}
		return struct{ Names []string }{names}, err
	}
}

func netNames(h *handler, which int) ([]string, error) {
	d, err := need[driver.Networks](h)
	if err != nil {
		return nil, err
	}
	nets, err := d.ListAllNetworks(uint32(which))
	if err != nil {
		return nil, err
	}
	return mapSlice(nets, func(n driver.Network) string { return n.Name }), nil
}
