package network

import (
	"govirt/drivers/internal/safepath"
	"net"
	"os"
	"path/filepath"

	"govirt/conf"
	"govirt/driver"
	"govirt/uuid"
	"govirt/virerr"
)

var _ driver.Networks = (*Manager)(nil)

// Flags of the network API.
const (
	netValidate    = 1 << 0 // VIR_NETWORK_DEFINE_VALIDATE, VIR_NETWORK_CREATE_VALIDATE
	netXMLInactive = 1 << 0 // VIR_NETWORK_XML_INACTIVE

	listInactive    = 1 << 0
	listActive      = 1 << 1
	listPersistent  = 1 << 2
	listTransient   = 1 << 3
	listAutostart   = 1 << 4
	listNoAutostart = 1 << 5
)

func checkFlags(flags, allowed uint32, fn string) error {
	if flags&^allowed != 0 {
		return errNet(virerr.ErrInvalidArg, "unsupported flags (0x%x) in function %s", flags&^allowed, fn)
	}
	return nil
}

func pairMatch(flags, yes, no uint32, v bool) bool {
	f := flags & (yes | no)
	if f == 0 || f == yes|no {
		return true
	}
	return (f == yes) == v
}

func (m *Manager) ListAllNetworks(flags uint32) ([]driver.Network, error) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []driver.Network{}
	for _, o := range m.sorted() {
		if pairMatch(flags, listActive, listInactive, o.active) &&
			pairMatch(flags, listPersistent, listTransient, o.persistent) &&
			pairMatch(flags, listAutostart, listNoAutostart, o.autostart) {
			out = append(out, o.handle())
		}
	}
	return out, nil
}

func (m *Manager) LookupNetworkByName(name string) (driver.Network, error) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.byName(name)
	if err != nil {
		return driver.Network{}, err
	}
	return o.handle(), nil
}

func (m *Manager) LookupNetworkByUUID(u uuid.UUID) (driver.Network, error) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.byUUID(u)
	if err != nil {
		return driver.Network{}, err
	}
	return o.handle(), nil
}

func parseDef(doc string, flags uint32) (*conf.Network, error) {
	var pf conf.ParseFlags
	if flags&netValidate != 0 {
		pf |= conf.ParseValidate
	}
	def, err := conf.ParseNetwork([]byte(doc), pf)
	if err != nil {
		return nil, err
	}
	if err := validName(def.Name); err != nil {
		return nil, err
	}
	if err := checkDef(def); err != nil {
		return nil, err
	}
	return def, nil
}

// assign is virNetworkObjAssignDef: a same-named network gets the new
// definition (as its next one while active), UUID clashes are refused.
// The caller holds mu, and o.op of the same-named network o if any; a
// new record is returned with its op locked.
func (m *Manager) assign(def *conf.Network, live bool) (*netObj, error) {
	if o := m.nets[def.Name]; o != nil {
		if o.def.UUID != def.UUID {
			return nil, errNet(virerr.ErrOperationFailed, "network '%s' already exists with uuid %s", def.Name, o.def.UUID)
		}
		if live {
			if o.active {
				return nil, errNet(virerr.ErrOperationInvalid, "network is already active as '%s'", def.Name)
			}
			// The persistent definition comes back when it stops.
			if o.persistent {
				o.newDef = o.def
			}
			o.def = def
			return o, nil
		}
		if o.active {
			o.newDef = def
		} else {
			o.def = def
		}
		return o, nil
	}
	for _, o := range m.nets {
		if o.def.UUID == def.UUID {
			return nil, errNet(virerr.ErrOperationFailed, "network '%s' is already defined with uuid %s", o.def.Name, def.UUID)
		}
	}
	o := &netObj{netState: netState{def: def}}
	o.op.Lock()
	m.nets[def.Name] = o
	return o, nil
}

// claim is the first half of define and create: it takes the operation
// lock of the network named def.Name (waiting for what runs on it),
// fills in the definition's defaults and assigns it. It returns the
// record, locked, and its state before (existed false for a new one), so
// the caller can put it back when the rest fails.
func (m *Manager) claim(def *conf.Network, live bool) (o *netObj, prev netState, existed bool, err error) {
	m.load()
	for {
		m.mu.Lock()
		cur := m.nets[def.Name]
		m.mu.Unlock()
		if cur != nil {
			cur.op.Lock()
		}
		m.defMu.Lock()
		m.mu.Lock()
		same := m.nets[def.Name] == cur
		m.mu.Unlock()
		if !same {
			// Removed, or created by another define, while this waited.
			m.defMu.Unlock()
			if cur != nil {
				cur.op.Unlock()
			}
			continue
		}
		if err = m.fillDefaults(def); err == nil {
			m.mu.Lock()
			if cur != nil {
				prev = cur.netState
			}
			o, err = m.assign(def, live)
			m.mu.Unlock()
		}
		m.defMu.Unlock()
		if err != nil {
			if cur != nil {
				cur.op.Unlock()
			}
			return nil, netState{}, false, err
		}
		return o, prev, cur != nil, nil
	}
}

// unclaim puts back what claim changed, after a failure.
func (m *Manager) unclaim(o *netObj, prev netState, existed bool) {
	if !existed {
		m.forget(o)
		return
	}
	m.mu.Lock()
	o.netState = prev
	m.mu.Unlock()
}

func (m *Manager) NetworkDefineXML(doc string, flags uint32) (driver.Network, error) {
	if err := checkFlags(flags, netValidate, "networkDefineXMLFlags"); err != nil {
		return driver.Network{}, err
	}
	def, err := parseDef(doc, flags)
	if err != nil {
		return driver.Network{}, err
	}
	o, prev, existed, err := m.claim(def, false)
	if err != nil {
		return driver.Network{}, err
	}
	defer o.op.Unlock()
	if err := m.saveConfig(def); err != nil {
		m.unclaim(o, prev, existed)
		return driver.Network{}, errNet(virerr.ErrSystemError, "cannot save network config: %v", err)
	}
	m.mu.Lock()
	o.persistent = true
	h := o.handle()
	m.mu.Unlock()
	m.publish(h, driver.NetworkEventDefined)
	return h, nil
}

func (m *Manager) NetworkCreateXML(doc string, flags uint32) (driver.Network, error) {
	if err := checkFlags(flags, netValidate, "networkCreateXMLFlags"); err != nil {
		return driver.Network{}, err
	}
	def, err := parseDef(doc, flags)
	if err != nil {
		return driver.Network{}, err
	}
	o, prev, existed, err := m.claim(def, true)
	if err != nil {
		return driver.Network{}, err
	}
	defer o.op.Unlock()
	if err := m.start(o); err != nil {
		m.unclaim(o, prev, existed)
		return driver.Network{}, err
	}
	return m.state(o).handle(), nil
}

func (m *Manager) NetworkUndefine(n driver.Network) error {
	o, err := m.acquire(n)
	if err != nil {
		return err
	}
	defer o.op.Unlock()
	st := m.state(o)
	if !st.persistent {
		return errNet(virerr.ErrOperationInvalid, "can't undefine transient network")
	}
	nf, err := m.files(st.def.Name)
	if err != nil {
		return err
	}
	if err := os.Remove(nf.config); err != nil && !os.IsNotExist(err) {
		return errNet(virerr.ErrSystemError, "cannot remove config file '%s': %v", nf.config, err)
	}
	os.Remove(nf.autostart)
	if old, err := safepath.Join(filepath.Dir(nf.autostart), st.def.Name, ""); err == nil {
		if fi, err := os.Lstat(old); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			os.Remove(old)
		}
	}
	m.mu.Lock()
	o.autostart, o.persistent, o.newDef = false, false, nil
	m.mu.Unlock()
	m.publish(st.handle(), driver.NetworkEventUndefined)
	if !st.active {
		m.removeDnsmasqFiles(st.def.Name)
		m.forget(o)
	}
	return nil
}

func (m *Manager) NetworkCreate(n driver.Network) error {
	o, err := m.acquire(n)
	if err != nil {
		return err
	}
	defer o.op.Unlock()
	return m.start(o)
}

func (m *Manager) NetworkDestroy(n driver.Network) error {
	o, err := m.acquire(n)
	if err != nil {
		return err
	}
	defer o.op.Unlock()
	if st := m.state(o); !st.active {
		return errNet(virerr.ErrOperationInvalid, "network '%s' is not active", st.def.Name)
	}
	m.stop(o)
	return nil
}

func (m *Manager) NetworkGetXMLDesc(n driver.Network, flags uint32) (string, error) {
	if err := checkFlags(flags, netXMLInactive, "networkGetXMLDesc"); err != nil {
		return "", err
	}
	o, err := m.lockedGet(n)
	if err != nil {
		return "", err
	}
	// Formatted without the lock: stored definitions never change.
	def := o.def
	switch {
	case flags&netXMLInactive != 0 && o.newDef != nil:
		def = o.newDef
	case flags&netXMLInactive == 0 && o.live != nil:
		def = o.live
	}
	out, err := formatNet(def)
	return string(out), err
}

func (m *Manager) NetworkGetBridgeName(n driver.Network) (string, error) {
	o, err := m.lockedGet(n)
	if err != nil {
		return "", err
	}
	def := o.def
	if o.live != nil {
		def = o.live
	}
	if def.BridgeName == "" {
		return "", errNet(virerr.ErrInternalError, "network '%s' does not have a bridge name.", def.Name)
	}
	return def.BridgeName, nil
}

func (m *Manager) NetworkGetAutostart(n driver.Network) (bool, error) {
	o, err := m.lockedGet(n)
	return err == nil && o.autostart, err
}

func (m *Manager) NetworkSetAutostart(n driver.Network, on bool) error {
	obj, err := m.acquire(n)
	if err != nil {
		return err
	}
	defer obj.op.Unlock()
	o := m.state(obj)
	if !o.persistent {
		return errNet(virerr.ErrOperationInvalid, "cannot set autostart for transient network")
	}
	if on == o.autostart {
		return nil
	}
	nf, err := m.files(o.def.Name)
	if err != nil {
		return err
	}
	link := nf.autostart
	if !on {
		// The bare NAME link earlier versions made goes too.
		if old, err := safepath.Join(filepath.Dir(link), o.def.Name, ""); err == nil {
			if fi, err := os.Lstat(old); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				os.Remove(old)
			}
		}
	}
	if on {
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return errNet(virerr.ErrSystemError, "cannot create autostart directory: %v", err)
		}
		if err := os.Symlink(nf.config, link); err != nil && !os.IsExist(err) {
			return errNet(virerr.ErrSystemError, "Failed to create symlink '%s' to '%s': %v", link, nf.config, err)
		}
	} else if err := os.Remove(link); err != nil && !os.IsNotExist(err) {
		return errNet(virerr.ErrSystemError, "Failed to delete symlink '%s': %v", link, err)
	}
	m.mu.Lock()
	obj.autostart = on
	m.mu.Unlock()
	return nil
}

func (m *Manager) NetworkIsActive(n driver.Network) (bool, error) {
	o, err := m.lockedGet(n)
	return err == nil && o.active, err
}

func (m *Manager) NetworkIsPersistent(n driver.Network) (bool, error) {
	o, err := m.lockedGet(n)
	return err == nil && o.persistent, err
}

// lockedGet returns a copy of the network's state, taken under mu only:
// it never waits for an operation on the network.
func (m *Manager) lockedGet(n driver.Network) (netState, error) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.byUUID(n.UUID)
	if err != nil {
		return netState{}, err
	}
	return o.netState, nil
}

// ListenAddress is the address a display with <listen type='network'>
// listens on, as qemuProcessGetNetworkAddress finds it: the first IP
// address of a routed, NATed, open or isolated network, else the IPv4
// address of the host bridge or device it forwards to.
func (m *Manager) ListenAddress(name string) (string, error) {
	m.load()
	m.mu.Lock()
	o, err := m.byName(name)
	var def *conf.Network
	if err == nil {
		def = o.def
		if o.active && o.live != nil {
			def = o.live
		}
	}
	m.mu.Unlock()
	if err != nil {
		return "", err
	}
	dev := ""
	switch def.ForwardMode {
	case "", "nat", "route", "open":
		if len(def.IPs) == 0 {
			return "", errNet(virerr.ErrInternalError, "network '%s' doesn't have an IP address", name)
		}
		return def.IPs[0].Address, nil
	case "bridge":
		dev = def.BridgeName
	}
	if dev == "" {
		dev = def.ForwardDev
	}
	if dev == "" {
		return "", errNet(virerr.ErrInternalError, "network '%s' has no associated interface or bridge", name)
	}
	ifc, err := net.InterfaceByName(dev)
	if err != nil {
		return "", errNet(virerr.ErrInternalError, "cannot get the address of %s: %v", dev, err)
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String(), nil
		}
	}
	return "", errNet(virerr.ErrInternalError, "interface %s has no IPv4 address", dev)
}

// ActiveBridge is what a guest's <interface type='network'> connects to:
// the bridge of the named network, which must be active
// (networkAllocatePort).
func (m *Manager) ActiveBridge(name string) (string, error) {
	m.load()
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.byName(name)
	if err != nil {
		return "", err
	}
	if !o.active {
		return "", errNet(virerr.ErrOperationInvalid, "network '%s' is not active", name)
	}
	if o.live.BridgeName == "" {
		return "", errNet(virerr.ErrConfigUnsupported, "network '%s' has no bridge", name)
	}
	return o.live.BridgeName, nil
}
