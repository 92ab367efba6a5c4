package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/uuid"
)

// Network ports (virNetworkPort*), served by the connection's network
// driver as libvirtd's remote dispatcher does: a port handle is its
// network's handle and the port's UUID, looked up again by every call.

func init() {
	register(true, map[int32]procFunc{
		procs.NetworkListAllPorts:      networkListAllPorts,
		procs.NetworkPortLookupByUUID:  networkPortLookupByUUID,
		procs.NetworkPortCreateXML:     networkPortCreateXML,
		procs.NetworkPortGetXMLDesc:    networkPortGetXMLDesc,
		procs.NetworkPortDelete:        networkPortDelete,
		procs.NetworkPortSetParameters: networkPortSetParameters,
		procs.NetworkPortGetParameters: networkPortGetParameters,
	})
}

func wirePort(p driver.NetworkPort) NonnullNetworkPort {
	return NonnullNetworkPort{Net: wireNet(p.Net), UUID: p.UUID}
}

func drvPort(p NonnullNetworkPort) driver.NetworkPort {
	return driver.NetworkPort{Net: drvNet(p.Net), UUID: uuid.UUID(p.UUID)}
}

func networkListAllPorts(h *handler, body []byte) (any, error) {
	a, err := args[NetworkListAllPortsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NetworkPorts](h)
	if err != nil {
		return nil, err
	}
	ports, err := d.NetworkListAllPorts(drvNet(a.Network), a.Flags)
	if err != nil {
		return nil, err
	}
	ret := NetworkListAllPortsRet{Ports: []NonnullNetworkPort{}, Ret: uint32(len(ports))}
	if a.NeedResults != 0 {
		ret.Ports = mapSlice(ports, wirePort)
	}
	return ret, nil
}

func networkPortLookupByUUID(h *handler, body []byte) (any, error) {
	a, err := args[NetworkPortLookupByUUIDArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NetworkPorts](h)
	if err != nil {
		return nil, err
	}
	p, err := d.NetworkPortLookupByUUID(drvNet(a.Network), uuid.UUID(a.UUID))
	if err != nil {
		return nil, err
	}
	return NetworkPortLookupByUUIDRet{Port: wirePort(p)}, nil
}

func networkPortCreateXML(h *handler, body []byte) (any, error) {
	a, err := args[NetworkPortCreateXMLArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NetworkPorts](h)
	if err != nil {
		return nil, err
	}
	p, err := d.NetworkPortCreateXML(drvNet(a.Network), a.XML, a.Flags)
	if err != nil {
		return nil, err
	}
	return NetworkPortCreateXMLRet{Port: wirePort(p)}, nil
}

func networkPortGetXMLDesc(h *handler, body []byte) (any, error) {
	a, err := args[NetworkPortGetXMLDescArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NetworkPorts](h)
	if err != nil {
		return nil, err
	}
	s, err := d.NetworkPortGetXMLDesc(drvPort(a.Port), a.Flags)
	if err != nil {
		return nil, err
	}
	return NetworkPortGetXMLDescRet{XML: s}, nil
}

func networkPortDelete(h *handler, body []byte) (any, error) {
	a, err := args[NetworkPortDeleteArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NetworkPorts](h)
	if err != nil {
		return nil, err
	}
	return nil, d.NetworkPortDelete(drvPort(a.Port), a.Flags)
}

func networkPortSetParameters(h *handler, body []byte) (any, error) {
	a, err := args[NetworkPortSetParametersArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NetworkPorts](h)
	if err != nil {
		return nil, err
	}
	return nil, d.NetworkPortSetParameters(drvPort(a.Port), paramsFromWire(a.Params), a.Flags)
}

// networkPortGetParameters sends every parameter whatever nparams asks,
// leaving the count field 0, as libvirtd's dispatcher does.
func networkPortGetParameters(h *handler, body []byte) (any, error) {
	a, err := args[NetworkPortGetParametersArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.NetworkPorts](h)
	if err != nil {
		return nil, err
	}
	params, err := d.NetworkPortGetParameters(drvPort(a.Port), a.Flags)
	if err != nil {
		return nil, err
	}
	return NetworkPortGetParametersRet{Params: paramsToWire(params, a.Flags)}, nil
}
