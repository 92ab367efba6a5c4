package test

import (
	"sort"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// netObj is one virtual network; its definition is conf's, which applies
// libvirt's defaults (UUID, nat for a bare <forward>, STP on a network's
// own bridge) and formats it as libvirt does.
type netObj struct {
	name       string
	uuid       uuid.UUID
	def        *conf.Network
	active     bool
	persistent bool
	autostart  bool
}

func (n *netObj) handle() driver.Network { return driver.Network{Name: n.name, UUID: n.uuid} }

func parseNetwork(doc string, validate bool) (*netObj, error) {
	var pf conf.ParseFlags
	if validate {
		pf |= conf.ParseValidate
	}
	def, err := conf.ParseNetwork([]byte(doc), pf)
	if err != nil {
		return nil, err
	}
	if strings.Contains(def.Name, "/") {
		return nil, virerr.New(virerr.FromNetwork, virerr.ErrXMLError, "name %s cannot contain '/'", def.Name)
	}
	return &netObj{name: def.Name, uuid: def.UUID, def: def}, nil
}

func (n *netObj) format() (string, error) {
	out, err := n.def.Format(0)
	return string(out), err
}

func (in *instance) netByName(name string) (*netObj, error) {
	if n := in.nets[name]; n != nil {
		return n, nil
	}
	return nil, errTest(virerr.ErrNoNetwork, "no network with matching name '%s'", name)
}

func (in *instance) netByUUID(u uuid.UUID) (*netObj, error) {
	for _, n := range in.nets {
		if n.uuid == u {
			return n, nil
		}
	}
	return nil, errTest(virerr.ErrNoNetwork, "no network with matching uuid '%s'", u)
}

// Network list flags.
const (
	netListInactive    = 1 << 0
	netListActive      = 1 << 1
	netListPersistent  = 1 << 2
	netListTransient   = 1 << 3
	netListAutostart   = 1 << 4
	netListNoAutostart = 1 << 5
)

// pairMatch is one group of a list filter: no flag or both flags of the
// group let everything through.
func pairMatch(flags, yes, no uint32, v bool) bool {
	f := flags & (yes | no)
	if f == 0 || f == yes|no {
		return true
	}
	return (f == yes) == v
}

func (in *instance) ListAllNetworks(flags uint32) ([]driver.Network, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	out := []driver.Network{}
	for _, n := range in.nets {
		if pairMatch(flags, netListActive, netListInactive, n.active) &&
			pairMatch(flags, netListPersistent, netListTransient, n.persistent) &&
			pairMatch(flags, netListAutostart, netListNoAutostart, n.autostart) {
			out = append(out, n.handle())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (in *instance) LookupNetworkByName(name string) (driver.Network, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	n, err := in.netByName(name)
	if err != nil {
		return driver.Network{}, err
	}
	return n.handle(), nil
}

func (in *instance) LookupNetworkByUUID(u uuid.UUID) (driver.Network, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	n, err := in.netByUUID(u)
	if err != nil {
		return driver.Network{}, err
	}
	return n.handle(), nil
}

func (in *instance) netEvent(n *netObj, ev int32) {
	in.bus.Publish(driver.NetworkEvent{Net: n.handle(), Event: ev})
}

// assignNet is virNetworkObjAssignDef: replace a same-named network's
// definition or add a new one, refusing UUID/name clashes.
func (in *instance) assignNet(def *netObj, live bool) (*netObj, error) {
	if n := in.nets[def.name]; n != nil {
		if n.uuid != def.uuid {
			return nil, virerr.New(virerr.FromNetwork, virerr.ErrOperationFailed,
				"network '%s' already exists with uuid %s", def.name, n.uuid)
		}
		if live && n.active {
			return nil, virerr.New(virerr.FromNetwork, virerr.ErrOperationInvalid, "network is already active as '%s'", n.name)
		}
		n.def = def.def
		if !live {
			n.persistent = true
		}
		return n, nil
	}
	for _, n := range in.nets {
		if n.uuid == def.uuid {
			return nil, virerr.New(virerr.FromNetwork, virerr.ErrOperationFailed,
				"network '%s' is already defined with uuid %s", n.name, n.uuid)
		}
	}
	def.persistent = !live
	in.nets[def.name] = def
	return def, nil
}

// Network define/create flags.
const netValidate = 1 << 0

func (in *instance) NetworkDefineXML(xml string, flags uint32) (driver.Network, error) {
	if err := checkFlags(flags, netValidate, "testNetworkDefineXMLFlags"); err != nil {
		return driver.Network{}, err
	}
	def, err := parseNetwork(xml, flags&netValidate != 0)
	if err != nil {
		return driver.Network{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	n, err := in.assignNet(def, false)
	if err != nil {
		return driver.Network{}, err
	}
	in.netEvent(n, driver.NetworkEventDefined)
	return n.handle(), nil
}

func (in *instance) NetworkCreateXML(xml string, flags uint32) (driver.Network, error) {
	if err := checkFlags(flags, netValidate, "testNetworkCreateXMLFlags"); err != nil {
		return driver.Network{}, err
	}
	def, err := parseNetwork(xml, flags&netValidate != 0)
	if err != nil {
		return driver.Network{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	n, err := in.assignNet(def, true)
	if err != nil {
		return driver.Network{}, err
	}
	n.active = true
	in.netEvent(n, driver.NetworkEventStarted)
	return n.handle(), nil
}

// updateNet finds a network by name, as the test driver does for every
// call after lookup.
func (in *instance) updateNet(h driver.Network, fn func(n *netObj) error) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	n, err := in.netByName(h.Name)
	if err != nil {
		return err
	}
	return fn(n)
}

func (in *instance) readNet(h driver.Network, fn func(n *netObj) error) error {
	in.mu.RLock()
	defer in.mu.RUnlock()
	n, err := in.netByName(h.Name)
	if err != nil {
		return err
	}
	return fn(n)
}

func (in *instance) NetworkUndefine(h driver.Network) error {
	return in.updateNet(h, func(n *netObj) error {
		if n.active {
			return errTest(virerr.ErrOperationInvalid, "Network '%s' is still running", h.Name)
		}
		in.netEvent(n, driver.NetworkEventUndefined)
		delete(in.nets, n.name)
		return nil
	})
}

func (in *instance) NetworkCreate(h driver.Network) error {
	return in.updateNet(h, func(n *netObj) error {
		if n.active {
			return errTest(virerr.ErrOperationInvalid, "Network '%s' is already running", h.Name)
		}
		n.active = true
		in.netEvent(n, driver.NetworkEventStarted)
		return nil
	})
}

// NetworkDestroy does not check that the network runs: the test driver
// stops an inactive network again, event included.
func (in *instance) NetworkDestroy(h driver.Network) error {
	return in.updateNet(h, func(n *netObj) error {
		n.active = false
		in.netEvent(n, driver.NetworkEventStopped)
		if !n.persistent {
			delete(in.nets, n.name)
		}
		return nil
	})
}

func (in *instance) NetworkGetXMLDesc(h driver.Network, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "testNetworkGetXMLDesc"); err != nil {
		return "", err
	}
	var s string
	err := in.readNet(h, func(n *netObj) error {
		var err error
		s, err = n.format()
		return err
	})
	return s, err
}

func (in *instance) NetworkGetBridgeName(h driver.Network) (string, error) {
	var s string
	err := in.readNet(h, func(n *netObj) error {
		if s = n.def.BridgeName; s == "" {
			return errInternal("network '%s' does not have a bridge name.", n.name)
		}
		return nil
	})
	return s, err
}

func (in *instance) NetworkGetAutostart(h driver.Network) (bool, error) {
	var on bool
	err := in.readNet(h, func(n *netObj) error { on = n.autostart; return nil })
	return on, err
}

func (in *instance) NetworkSetAutostart(h driver.Network, on bool) error {
	return in.updateNet(h, func(n *netObj) error { n.autostart = on; return nil })
}

func (in *instance) NetworkIsActive(h driver.Network) (bool, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	n, err := in.netByUUID(h.UUID)
	if err != nil {
		return false, err
	}
	return n.active, nil
}

func (in *instance) NetworkIsPersistent(h driver.Network) (bool, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	n, err := in.netByUUID(h.UUID)
	if err != nil {
		return false, err
	}
	return n.persistent, nil
}
