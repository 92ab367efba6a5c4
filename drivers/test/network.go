package test

import (
	"sort"
	"strings"

	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

// netObj is one virtual network. Its document is kept as an element tree
// normalised at parse time, since conf has no network type yet.
type netObj struct {
	name       string
	uuid       uuid.UUID
	doc        *elem
	active     bool
	persistent bool
	autostart  bool
}

func (n *netObj) handle() driver.Network { return driver.Network{Name: n.name, UUID: n.uuid} }

// networkOrder is the element order of virNetworkDefFormat.
var networkOrder = []string{"name", "uuid", "title", "description", "metadata", "forward", "bridge", "mtu",
	"mac", "domain", "dns", "virtualport", "vlan", "bandwidth", "portgroup", "ip", "route"}

// parseNetwork reads a <network> and applies libvirt's defaults: a UUID,
// NAT for a bare <forward>, STP on with no delay on a bridge that is
// not forwarded in "open"/passthrough modes.
func parseNetwork(doc string) (*netObj, error) {
	root, err := parseElem([]byte(doc), virerr.FromNetwork)
	if err != nil {
		return nil, err
	}
	if root.name != "network" {
		return nil, virerr.New(virerr.FromNetwork, virerr.ErrXMLError, "unexpected root element <%s>, expecting <network>", root.name)
	}
	name := root.childText("name")
	if name == "" {
		return nil, virerr.New(virerr.FromNetwork, virerr.ErrNoName, "%s", "network")
	}
	if strings.Contains(name, "/") {
		return nil, virerr.New(virerr.FromNetwork, virerr.ErrXMLError, "name %s cannot contain '/'", name)
	}
	var u uuid.UUID
	if s := root.childText("uuid"); s != "" {
		if u, err = uuid.Parse(s); err != nil {
			return nil, virerr.New(virerr.FromNetwork, virerr.ErrXMLError, "%s", "malformed uuid element")
		}
	} else {
		u = uuid.New()
	}
	root.setChildText("uuid", u.String())
	mode := "nat"
	if fw := root.child("forward"); fw != nil {
		if fw.attr("mode") == "" {
			fw.setAttr("mode", "nat")
		}
		mode = fw.attr("mode")
	} else {
		mode = "none"
	}
	if mode == "none" || mode == "nat" || mode == "route" || mode == "open" {
		br := root.child("bridge")
		if br == nil {
			br = &elem{name: "bridge"}
			root.kids = append(root.kids, br)
		}
		if !br.hasAttr("stp") {
			br.setAttr("stp", "on")
		}
		if !br.hasAttr("delay") {
			br.setAttr("delay", "0")
		}
	}
	root.sortKids(networkOrder)
	return &netObj{name: name, uuid: u, doc: root}, nil
}

func (n *netObj) format() string {
	var b strings.Builder
	n.doc.write(&b, 0, map[string]bool{"ip": true})
	return b.String()
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
		n.doc = def.doc
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
	def, err := parseNetwork(xml)
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
	def, err := parseNetwork(xml)
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
	err := in.readNet(h, func(n *netObj) error { s = n.format(); return nil })
	return s, err
}

func (in *instance) NetworkGetBridgeName(h driver.Network) (string, error) {
	var s string
	err := in.readNet(h, func(n *netObj) error {
		if br := n.doc.child("bridge"); br != nil {
			s = br.attr("name")
		}
		if s == "" {
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
