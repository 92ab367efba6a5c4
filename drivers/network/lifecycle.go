package network

import (
	"fmt"
	"os"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

func netXMLOf(def *conf.Network) (*netXML, error) {
	data, err := formatNet(def)
	if err != nil {
		return nil, err
	}
	return parseNetXML(data)
}

// fillDefaults is networkValidate's part that changes a definition: a
// network with a bridge of its own gets a free virbrN name (or the first
// free name of a template with %d) and a MAC address. The caller holds
// defMu (not mu): the names other networks use are read under mu, the
// host's links without it.
func (m *Manager) fillDefaults(def *conf.Network) error {
	if !ownsBridge(def.ForwardMode) && def.ForwardMode != "open" {
		return nil
	}
	m.mu.Lock()
	// A redefinition keeps the bridge and MAC the network already has.
	if o := m.nets[def.Name]; o != nil && o.def.UUID == def.UUID {
		if def.BridgeName == "" {
			def.BridgeName = o.def.BridgeName
		}
		if def.MAC == "" {
			def.MAC = o.def.MAC
		}
	}
	used := m.bridgesInUse(def.Name)
	m.mu.Unlock()
	if def.BridgeName != "" && !strings.Contains(def.BridgeName, "%d") {
		if used[def.BridgeName] {
			return errNet(virerr.ErrInternalError, "bridge name '%s' already in use.", def.BridgeName)
		}
	} else {
		tmpl := def.BridgeName
		if tmpl == "" {
			tmpl = "virbr%d"
		}
		found := false
		for i := 0; i < 256; i++ {
			name := fmt.Sprintf(tmpl, i)
			if !used[name] && !linkExists(name) {
				def.BridgeName, found = name, true
				break
			}
		}
		if !found {
			return errNet(virerr.ErrInternalError, "Bridge generation exceeded max id %d", 256)
		}
	}
	if def.MAC == "" {
		def.MAC = conf.GenerateMAC()
	}
	return nil
}

// bridgesInUse is virNetworkObjBridgeInUse for every name at once: the
// bridges the networks other than skip name (under mu).
func (m *Manager) bridgesInUse(skip string) map[string]bool {
	used := map[string]bool{}
	for name, o := range m.nets {
		if name == skip {
			continue
		}
		for _, d := range []*conf.Network{o.def, o.newDef, o.live} {
			if d != nil && d.BridgeName != "" {
				used[d.BridgeName] = true
			}
		}
	}
	return used
}

// start is networkStartNetwork; the caller holds o.op. The host work
// runs without mu; the record changes once it is done.
func (m *Manager) start(o *netObj) error {
	st := m.state(o)
	if st.active {
		return errNet(virerr.ErrOperationInvalid, "network is already active")
	}
	m.dropAllPorts(o)
	live := st.def.Clone()
	x, err := netXMLOf(live)
	if err != nil {
		return errNet(virerr.ErrInternalError, "%v", err)
	}
	mode := x.forwardMode()
	pid := 0
	switch {
	case ownsBridge(mode):
		if pid, err = m.startVirtual(x); err != nil {
			return err
		}
	case mode == "bridge":
		// An existing host bridge: nothing to set up (networkStartNetworkBridge).
		if x.Bridge.Name == "" {
			return errNet(virerr.ErrConfigUnsupported, "network '%s' has forward mode 'bridge' but no bridge device is specified", live.Name)
		}
	default:
		return errNet(virerr.ErrConfigUnsupported, "forward mode '%s' of network '%s' is not supported by govirt", mode, live.Name)
	}
	live = withNATPorts(live, x)
	if err := m.saveStatus(live); err != nil {
		m.log.Error("network status not saved", "network", live.Name, "err", err)
	}
	m.mu.Lock()
	o.live, o.active, o.dnsmasqPid = live, true, pid
	h := o.handle()
	m.mu.Unlock()
	m.publish(h, driver.NetworkEventStarted)
	return nil
}

// startVirtual is networkStartNetworkVirtual: bridge, firewall,
// forwarding, dnsmasq; everything done is undone on failure.
func (m *Manager) startVirtual(x *netXML) (int, error) {
	fail := func(err error) (int, error) {
		return 0, errNet(virerr.ErrSystemError, "%v", err)
	}
	if x.Bridge.Name == "" {
		return 0, errNet(virerr.ErrInternalError, "network '%s' has no bridge name defined", x.Name)
	}
	if err := createBridge(x); err != nil {
		return fail(err)
	}
	if err := addFirewall(x); err != nil {
		deleteBridge(x.Bridge.Name)
		return fail(err)
	}
	if x.forwardMode() != "" {
		if err := enableForwarding(x); err != nil {
			removeFirewall(x)
			deleteBridge(x.Bridge.Name)
			return fail(err)
		}
	}
	pid := 0
	if needDnsmasq(x) {
		var err error
		if pid, err = m.startDnsmasq(x); err != nil {
			removeFirewall(x)
			deleteBridge(x.Bridge.Name)
			return fail(err)
		}
	}
	// The network's QoS, last as libvirt sets it (qos.go).
	if err := setNetworkQoS(x.Bridge.Name, x.Bandwidth); err != nil {
		m.stopDnsmasq(x.Name, pid)
		removeFirewall(x)
		deleteBridge(x.Bridge.Name)
		return 0, err
	}
	return pid, nil
}

// stop is networkShutdownNetwork; the caller holds o.op.
func (m *Manager) stop(o *netObj) {
	st := m.state(o)
	if x, err := netXMLOf(st.live); err == nil {
		m.cleanupInactive(st.dnsmasqPid, x)
	}
	m.dropAllPorts(o)
	m.mu.Lock()
	o.active, o.live, o.dnsmasqPid = false, nil, 0
	if o.newDef != nil {
		o.def, o.newDef = o.newDef, nil
	}
	h, persistent := o.handle(), o.persistent
	m.mu.Unlock()
	m.publish(h, driver.NetworkEventStopped)
	if !persistent {
		m.removeDnsmasqFiles(h.Name)
		m.forget(o)
	}
}

// cleanupInactive removes what an active network has on the host; pid is
// its dnsmasq's when known.
func (m *Manager) cleanupInactive(pid int, x *netXML) {
	if ownsBridge(x.forwardMode()) {
		if pid == 0 {
			pid, _ = readPid(m.mustFiles(x.Name).pid)
		}
		m.stopDnsmasq(x.Name, pid)
		removeFirewall(x)
		if err := deleteBridge(x.Bridge.Name); err != nil {
			m.log.Warn("bridge not deleted", "network", x.Name, "err", err)
		}
	}
	if st := m.mustFiles(x.Name).status; st != "" {
		os.Remove(st)
	}
}
