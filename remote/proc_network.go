package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/uuid"
)

func init() {
	register(true, map[int32]procFunc{
		procs.ConnectListAllNetworks:      listAll(driver.Networks.ListAllNetworks, wireNet),
		procs.ConnectNumOfNetworks:        countNets(legacyActive),
		procs.ConnectNumOfDefinedNetworks: countNets(legacyInactive),
		procs.ConnectListNetworks:         namesNets[ConnectListNetworksArgs](legacyActive),
		procs.ConnectListDefinedNetworks:  namesNets[ConnectListDefinedNetworksArgs](legacyInactive),
		procs.NetworkLookupByName:         lookup(driver.Networks.LookupNetworkByName, wireNet),
		procs.NetworkLookupByUUID: lookup(func(d driver.Networks, u [16]byte) (driver.Network, error) {
			return d.LookupNetworkByUUID(uuid.UUID(u))
		}, wireNet),
		procs.NetworkDefineXML:      createNoFlags(driver.Networks.NetworkDefineXML, wireNet),
		procs.NetworkDefineXMLFlags: create(driver.Networks.NetworkDefineXML, wireNet),
		procs.NetworkCreateXML:      createNoFlags(driver.Networks.NetworkCreateXML, wireNet),
		procs.NetworkCreateXMLFlags: create(driver.Networks.NetworkCreateXML, wireNet),
		procs.NetworkUndefine:       on(drvNet, driver.Networks.NetworkUndefine),
		procs.NetworkCreate:         on(drvNet, driver.Networks.NetworkCreate),
		procs.NetworkDestroy:        on(drvNet, driver.Networks.NetworkDestroy),
		procs.NetworkGetXMLDesc:     queryFlags(drvNet, driver.Networks.NetworkGetXMLDesc, retString),
		procs.NetworkGetBridgeName:  query(drvNet, driver.Networks.NetworkGetBridgeName, retString),
		procs.NetworkGetAutostart:   query(drvNet, driver.Networks.NetworkGetAutostart, retBool),
		procs.NetworkSetAutostart:   setBool(drvNet, driver.Networks.NetworkSetAutostart),
		procs.NetworkIsActive:       query(drvNet, driver.Networks.NetworkIsActive, retBool),
		procs.NetworkIsPersistent:   query(drvNet, driver.Networks.NetworkIsPersistent, retBool),

		procs.ConnectListAllInterfaces:   listAll(driver.Interfaces.ListAllInterfaces, wireIface),
		procs.InterfaceLookupByName:      lookup(driver.Interfaces.LookupInterfaceByName, wireIface),
		procs.InterfaceLookupByMACString: lookup(driver.Interfaces.LookupInterfaceByMACString, wireIface),
		procs.InterfaceGetXMLDesc:        queryFlags(drvIface, driver.Interfaces.InterfaceGetXMLDesc, retString),
		procs.InterfaceIsActive:          query(drvIface, driver.Interfaces.InterfaceIsActive, retBool),

		// No driver manages these yet; listing must still work.
		procs.ConnectListAllNodeDevices: emptyList[NonnullNodeDevice](),
		procs.ConnectListAllSecrets:     emptyList[NonnullSecret](),
		procs.ConnectNumOfSecrets:       func(*handler, []byte) (any, error) { return intRet{0}, nil },
	})
}

// countNets and namesNets serve the legacy network list calls from
// ListAllNetworks; which is VIR_CONNECT_LIST_NETWORKS_ACTIVE (2) or
// _INACTIVE (1) for the defined ones.
func countNets(which uint32) procFunc {
	return func(h *handler, _ []byte) (any, error) {
		names, err := netNames(h, which)
		return intRet{int32(len(names))}, err
	}
}

// namesNets decodes the generated args type, so maxnames is bounded and
// non-negative (checkCounts) before it trims the list.
func namesNets[A ConnectListNetworksArgs | ConnectListDefinedNetworksArgs](which uint32) procFunc {
	return func(h *handler, body []byte) (any, error) {
		a, err := args[A](body)
		if err != nil {
			return nil, err
		}
		max := ConnectListNetworksArgs(a).Maxnames
		names, err := netNames(h, which)
		if err != nil {
			return nil, err
		}
		if int32(len(names)) > max {
			names = names[:max]
		}
		return ConnectListNetworksRet{Names: names}, nil
	}
}

func netNames(h *handler, which uint32) ([]string, error) {
	d, err := need[driver.Networks](h)
	if err != nil {
		return nil, err
	}
	nets, err := d.ListAllNetworks(which)
	if err != nil {
		return nil, err
	}
	return mapSlice(nets, func(n driver.Network) string { return n.Name }), nil
}
