package network

import (
	"os"
	"path/filepath"
	"sort"

	"govirt/atomicfile"
	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/internal/safepath"
	"govirt/uuid"
	"govirt/virerr"
)

// Network ports, as libvirt 9.0's network driver keeps them: every guest
// NIC connected to an active network holds a port (virNetworkPortDef),
// created by the QEMU driver when the guest starts or the NIC is plugged
// and deleted when it stops or the NIC goes. A port lives as long as the
// network is active: its status file is RunDir/NAME/ports/UUID.xml (as
// libvirt's /run/libvirt/network/NAME/ports), read back by a restarted
// daemon, and every port goes when the network stops or starts again.

var _ driver.NetworkPorts = (*Manager)(nil)

func (m *Manager) portDir(name string) (string, error) {
	dir, err := safepath.Join(m.cfg.RunDir, name, "")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "ports"), nil
}

// savePort is virNetworkPortDefSaveStatus.
func (m *Manager) savePort(name string, p *conf.NetworkPort) error {
	dir, err := m.portDir(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, p.UUID.String()+".xml"), p.Format(), 0o600)
}

func (m *Manager) removePortFile(name string, u uuid.UUID) {
	if dir, err := m.portDir(name); err == nil {
		os.Remove(filepath.Join(dir, u.String()+".xml"))
	}
}

// dropAllPorts is virNetworkObjDeleteAllPorts: at start and stop of a
// network its ports (and their files) go.
func (m *Manager) dropAllPorts(o *netObj) {
	m.mu.Lock()
	name := o.def.Name
	o.ports = nil
	m.mu.Unlock()
	if dir, err := m.portDir(name); err == nil {
		os.RemoveAll(dir)
		os.Remove(filepath.Dir(dir))
	}
}

// loadPorts is virNetworkObjLoadAllPorts, for a network found active at
// daemon start (load holds no lock: nothing else runs yet).
func (m *Manager) loadPorts(o *netObj) {
	dir, err := m.portDir(o.def.Name)
	if err != nil {
		return
	}
	cleanTemp(m.log, dir)
	paths, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		p, err := conf.ParseNetworkPort(data)
		if err != nil {
			m.log.Error("network port status unreadable", "path", path, "err", err)
			continue
		}
		if o.ports == nil {
			o.ports = map[uuid.UUID]*conf.NetworkPort{}
		}
		o.ports[p.UUID] = p
	}
}

// activePort is networkObjFromNetwork, virNetworkObjLookupPort and the
// active check of every port call, in libvirt's order; under mu.
func (m *Manager) activePort(o *netObj, u uuid.UUID) (*conf.NetworkPort, error) {
	p := o.ports[u]
	if p == nil {
		return nil, errNet(virerr.ErrNoNetworkPort, "Network port with UUID %s does not exist", u)
	}
	if !o.active {
		return nil, errNet(virerr.ErrOperationInvalid, "network '%s' is not active", o.def.Name)
	}
	return p, nil
}

func (m *Manager) lookupNet(n driver.Network) (*netObj, error) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byUUID(n.UUID)
}

func (m *Manager) NetworkListAllPorts(n driver.Network, flags uint32) ([]driver.NetworkPort, error) {
	if err := checkFlags(flags, 0, "networkListAllPorts"); err != nil {
		return nil, err
	}
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.byUUID(n.UUID)
	if err != nil {
		return nil, err
	}
	if !o.active {
		return nil, errNet(virerr.ErrOperationInvalid, "network '%s' is not active", o.def.Name)
	}
	out := []driver.NetworkPort{}
	for u := range o.ports {
		out = append(out, driver.NetworkPort{Net: o.handle(), UUID: u})
	}
	// libvirt's order is its hash table's; a stable one is kinder.
	sort.Slice(out, func(i, j int) bool { return out[i].UUID.String() < out[j].UUID.String() })
	return out, nil
}

func (m *Manager) NetworkPortLookupByUUID(n driver.Network, u uuid.UUID) (driver.NetworkPort, error) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.byUUID(n.UUID)
	if err != nil {
		return driver.NetworkPort{}, err
	}
	if _, err := m.activePort(o, u); err != nil {
		return driver.NetworkPort{}, err
	}
	return driver.NetworkPort{Net: o.handle(), UUID: u}, nil
}

func (m *Manager) NetworkPortGetXMLDesc(h driver.NetworkPort, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "networkPortGetXMLDesc"); err != nil {
		return "", err
	}
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.byUUID(h.Net.UUID)
	if err != nil {
		return "", err
	}
	p, err := m.activePort(o, h.UUID)
	if err != nil {
		return "", err
	}
	return string(p.Format()), nil
}

func (m *Manager) NetworkPortCreateXML(n driver.Network, doc string, flags uint32) (driver.NetworkPort, error) {
	if err := checkFlags(flags, conf.NetworkPortCreateReclaim|conf.NetworkPortCreateValidate, "networkPortCreateXML"); err != nil {
		return driver.NetworkPort{}, err
	}
	o, err := m.acquire(n)
	if err != nil {
		return driver.NetworkPort{}, err
	}
	defer o.op.Unlock()
	p, err := conf.ParseNetworkPort([]byte(doc))
	if err != nil {
		return driver.NetworkPort{}, err
	}
	if err := m.createPort(o, p, flags); err != nil {
		return driver.NetworkPort{}, err
	}
	return driver.NetworkPort{Net: m.state(o).handle(), UUID: p.UUID}, nil
}

// createPort is the rest of networkPortCreateXML; the caller holds o.op.
// p is filled in by the allocation.
func (m *Manager) createPort(o *netObj, p *conf.NetworkPort, flags uint32) error {
	st := m.state(o)
	if !st.active {
		return errNet(virerr.ErrOperationInvalid, "network '%s' is not active", st.def.Name)
	}
	reclaim := flags&conf.NetworkPortCreateReclaim != 0
	if p.PlugType == "none" {
		if reclaim {
			return errNet(virerr.ErrInvalidArg, "Port reclaim requested but plug type is none")
		}
	} else if !reclaim {
		return errNet(virerr.ErrInvalidArg, "Port reclaim not requested but plug type is not none")
	}
	if !reclaim {
		if err := allocatePort(st.live, p); err != nil {
			return err
		}
		if err := m.plugPort(o, st.live, p); err != nil {
			return err
		}
	}
	m.mu.Lock()
	if o.ports[p.UUID] != nil {
		m.mu.Unlock()
		if !reclaim {
			m.unplugFloor(o, st.live, p)
		}
		return errNet(virerr.ErrNetworkPortExist, "Network port with UUID %s already exists", p.UUID)
	}
	if o.ports == nil {
		o.ports = map[uuid.UUID]*conf.NetworkPort{}
	}
	o.ports[p.UUID] = p.Clone()
	m.mu.Unlock()
	if err := m.savePort(st.def.Name, p); err != nil {
		m.mu.Lock()
		delete(o.ports, p.UUID)
		m.mu.Unlock()
		m.unplugFloor(o, st.live, p)
		return errNet(virerr.ErrSystemError, "cannot save network port: %v", err)
	}
	return nil
}

// allocatePort is networkAllocatePort for the forward modes govirt's
// networks run with: a bridge of their own (plug type network) or an
// existing host bridge (plug type bridge).
func allocatePort(live *conf.Network, p *conf.NetworkPort) error {
	x, err := netXMLOf(live)
	if err != nil {
		return errNet(virerr.ErrInternalError, "%v", err)
	}
	pg := x.portGroup(p.Group)
	if p.In == nil && p.Out == nil && pg != nil && pg.Bandwidth != nil {
		p.In, p.Out = pg.Bandwidth.rates()
	}
	if p.TrustGuest == "" {
		if pg != nil && pg.TrustGuestRxFilters != "" {
			p.TrustGuest = pg.TrustGuestRxFilters
		} else if x.TrustGuestRxFilters != "" {
			p.TrustGuest = x.TrustGuestRxFilters
		}
	}
	if p.Isolated == "" {
		p.Isolated = x.Port.Isolated
	}
	vport := p.VirtualPortType()
	mode := x.forwardMode()
	switch {
	case ownsBridge(mode) || mode == "open":
		p.PlugType, p.Bridge, p.MACTableManager = "network", live.BridgeName, x.Bridge.MACTableManager
		if vport != "" {
			return errNet(virerr.ErrConfigUnsupported, "<virtualport type='%s'> not supported for network '%s' which uses IP forwarding", vport, live.Name)
		}
	case mode == "bridge" && live.BridgeName != "":
		p.PlugType, p.Bridge, p.MACTableManager = "bridge", live.BridgeName, x.Bridge.MACTableManager
		if vport != "" && vport != "openvswitch" {
			return errNet(virerr.ErrConfigUnsupported, "<virtualport type='%s'> not supported for network '%s' which uses a bridge device", vport, live.Name)
		}
	default:
		// Macvtap and hostdev networks never become active here.
		return errNet(virerr.ErrConfigUnsupported, "forward mode '%s' of network '%s' is not supported by govirt", mode, live.Name)
	}
	return nil
}

// checkFloor is networkCheckBandwidth: a floor needs a forward mode that
// routes through the network's bridge and an inbound QoS on the network,
// and all floors together may not exceed its peak (else average). need
// says whether the network's QoS tree is involved at all. old is the
// port's bandwidth before a change (nil for a new port). Under o.op.
func (m *Manager) checkFloor(o *netObj, live *conf.Network, p, old *conf.NetworkPort) (need bool, in *rateXML, err error) {
	hasFloor := func(q *conf.NetworkPort) bool { return q != nil && q.In != nil && q.In.Floor != 0 }
	x, err := netXMLOf(live)
	if err != nil {
		return false, nil, errNet(virerr.ErrInternalError, "%v", err)
	}
	if mode := x.forwardMode(); hasFloor(p) && !ownsBridge(mode) && mode != "open" {
		return false, nil, errNet(virerr.ErrOperationUnsupported, "Invalid use of 'floor' on interface with MAC address %s - 'floor' is only supported for interface type 'network' with forward type 'nat', 'route', 'open' or none", p.MAC)
	}
	if hasFloor(p) && (x.Bandwidth == nil || x.Bandwidth.Inbound == nil) {
		return false, nil, errNet(virerr.ErrOperationUnsupported, "Invalid use of 'floor' on interface with MAC address %s - network '%s' has no inbound QoS set", p.MAC, live.Name)
	}
	if x.Bandwidth == nil || x.Bandwidth.Inbound == nil || (!hasFloor(p) && !hasFloor(old)) {
		return false, nil, nil
	}
	in = x.Bandwidth.Inbound
	m.mu.Lock()
	sum := floorSum(o, p)
	m.mu.Unlock()
	if p.In != nil {
		sum += p.In.Floor
	}
	if in.Peak != 0 {
		if sum > in.Peak {
			return false, nil, errNet(virerr.ErrOperationInvalid, "Cannot plug '%s' interface into '%s' because new combined inbound floor=%d would overcommit peak=%d on network '%s'", p.MAC, live.BridgeName, sum, in.Peak, live.Name)
		}
	} else if sum > in.Average {
		return false, nil, errNet(virerr.ErrOperationInvalid, "Cannot plug '%s' interface into '%s' because new combined inbound floor=%d would overcommit average=%d on network '%s'", p.MAC, live.BridgeName, sum, in.Average, live.Name)
	}
	return true, in, nil
}

// plugPort is networkPlugBandwidth for a new port.
func (m *Manager) plugPort(o *netObj, live *conf.Network, p *conf.NetworkPort) error {
	need, in, err := m.checkFloor(o, live, p, nil)
	if err != nil || !need {
		return err
	}
	return m.plugFloor(o, live.BridgeName, in, p)
}

// updatePortFloor is networkUpdatePortBandwidth: np replaces old.
func (m *Manager) updatePortFloor(o *netObj, live *conf.Network, np, old *conf.NetworkPort) error {
	floor := func(q *conf.NetworkPort) uint64 {
		if q.In == nil {
			return 0
		}
		return q.In.Floor
	}
	of, nf := floor(old), floor(np)
	np.ClassID = old.ClassID
	if of == nf {
		return nil
	}
	need, in, err := m.checkFloor(o, live, np, old)
	if err != nil || !need {
		return err
	}
	switch {
	case of > 0 && nf > 0 && old.ClassID != 0:
		if err := updateRate(live.BridgeName, old.ClassID, in, nf); err != nil {
			return err
		}
		m.mu.Lock()
		sum := floorSum(o, np) + nf
		m.mu.Unlock()
		if err := updateRate(live.BridgeName, 2, in, netCeil(in)-min(sum, netCeil(in))); err != nil {
			_ = updateRate(live.BridgeName, old.ClassID, in, of)
			return err
		}
		return nil
	case nf > 0:
		return m.plugFloor(o, live.BridgeName, in, np)
	default:
		// The port's class goes: np no longer counts in the sum.
		gone := old.Clone()
		m.unplugFloor(o, live, gone)
		np.ClassID = 0
		return nil
	}
}

func (m *Manager) NetworkPortDelete(h driver.NetworkPort, flags uint32) error {
	if err := checkFlags(flags, 0, "networkPortDelete"); err != nil {
		return err
	}
	o, err := m.acquire(h.Net)
	if err != nil {
		return err
	}
	defer o.op.Unlock()
	return m.deletePort(o, h.UUID)
}

// deletePort is networkReleasePort and virNetworkObjDeletePort; the
// caller holds o.op.
func (m *Manager) deletePort(o *netObj, u uuid.UUID) error {
	m.mu.Lock()
	p, err := m.activePort(o, u)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	delete(o.ports, u)
	name, live := o.def.Name, o.live
	m.mu.Unlock()
	m.unplugFloor(o, live, p.Clone())
	m.removePortFile(name, u)
	return nil
}

func (m *Manager) NetworkPortGetParameters(h driver.NetworkPort, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlags(flags, 0, "networkPortGetParameters"); err != nil {
		return nil, err
	}
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.byUUID(h.Net.UUID)
	if err != nil {
		return nil, err
	}
	p, err := m.activePort(o, h.UUID)
	if err != nil {
		return nil, err
	}
	out := []driver.TypedParam{}
	if in := p.In; in != nil {
		for _, f := range []struct {
			name string
			v    uint64
		}{{"inbound.average", in.Average}, {"inbound.peak", in.Peak}, {"inbound.floor", in.Floor}, {"inbound.burst", in.Burst}} {
			out = append(out, driver.TypedParam{Field: f.name, Value: uint32(f.v)})
		}
	}
	if o := p.Out; o != nil {
		for _, f := range []struct {
			name string
			v    uint64
		}{{"outbound.average", o.Average}, {"outbound.peak", o.Peak}, {"outbound.burst", o.Burst}} {
			out = append(out, driver.TypedParam{Field: f.name, Value: uint32(f.v)})
		}
	}
	return out, nil
}

// NetworkPortSetParameters is networkPortSetParameters: the rates given
// replace the port's (a direction without average, or inbound without
// average and floor, goes); only a change of floor touches the network.
func (m *Manager) NetworkPortSetParameters(h driver.NetworkPort, params []driver.TypedParam, flags uint32) error {
	if err := checkFlags(flags, 0, "networkPortSetParameters"); err != nil {
		return err
	}
	o, err := m.acquire(h.Net)
	if err != nil {
		return err
	}
	defer o.op.Unlock()
	m.mu.Lock()
	p, err := m.activePort(o, h.UUID)
	live, name := o.live, o.def.Name
	m.mu.Unlock()
	if err != nil {
		return err
	}
	in, out := &conf.BandwidthRate{}, &conf.BandwidthRate{}
	for _, prm := range params {
		v, ok := prm.Value.(uint32)
		if !ok {
			continue
		}
		switch prm.Field {
		case "inbound.average":
			in.Average = uint64(v)
		case "inbound.peak":
			in.Peak = uint64(v)
		case "inbound.burst":
			in.Burst = uint64(v)
		case "inbound.floor":
			in.Floor = uint64(v)
		case "outbound.average":
			out.Average = uint64(v)
		case "outbound.peak":
			out.Peak = uint64(v)
		case "outbound.burst":
			out.Burst = uint64(v)
		}
	}
	if in.Average == 0 && in.Floor == 0 {
		in = nil
	}
	if out.Average == 0 {
		out = nil
	}
	np := p.Clone()
	np.In, np.Out = in, out
	if err := m.updatePortFloor(o, live, np, p); err != nil {
		return err
	}
	if err := m.savePort(name, np); err != nil {
		return errNet(virerr.ErrSystemError, "cannot save network port: %v", err)
	}
	m.mu.Lock()
	o.ports[h.UUID] = np
	m.mu.Unlock()
	return nil
}

// CreatePort is virDomainNetAllocateActualDevice's call into the network
// driver for the QEMU driver: it allocates a port of network name for p
// (plug type none, or the port a guest already had with reclaim) and
// returns it as stored.
func (m *Manager) CreatePort(name string, p *conf.NetworkPort, flags uint32) (*conf.NetworkPort, error) {
	o, err := m.acquireByName(name)
	if err != nil {
		return nil, err
	}
	defer o.op.Unlock()
	p = p.Clone()
	if err := m.createPort(o, p, flags); err != nil {
		return nil, err
	}
	return p, nil
}

// HasPort says whether network name holds port u (reclaim checks it).
func (m *Manager) HasPort(name string, u uuid.UUID) bool {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.nets[name]
	return o != nil && o.active && o.ports[u] != nil
}

// DeletePort is virDomainNetReleaseActualDevice's call: the port goes if
// the network still has it.
func (m *Manager) DeletePort(name string, u uuid.UUID) error {
	o, err := m.acquireByName(name)
	if err != nil {
		return err
	}
	defer o.op.Unlock()
	return m.deletePort(o, u)
}

// PlugType is the plug type the active network name gives its ports
// (network or bridge), "" when it is not active: what a reclaimed port
// of a guest found running says it plugs into.
func (m *Manager) PlugType(name string) string {
	m.load()
	m.mu.Lock()
	o := m.nets[name]
	var live *conf.Network
	if o != nil && o.active {
		live = o.live
	}
	m.mu.Unlock()
	if live == nil {
		return ""
	}
	p := &conf.NetworkPort{}
	if allocatePort(live, p) != nil {
		return ""
	}
	return p.PlugType
}

// acquireByName is acquire for the network called name (the QEMU
// driver's port calls name networks, not handles).
func (m *Manager) acquireByName(name string) (*netObj, error) {
	m.load()
	m.mu.Lock()
	o, err := m.byName(name)
	var h driver.Network
	if err == nil {
		h = o.handle()
	}
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return m.acquire(h)
}
