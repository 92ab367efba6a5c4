package qemu

import (
	"path/filepath"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/network"
	"govirt/uuid"
)

// Virtual networks of qemu:///system are served by drivers/network, as
// libvirtd's network driver sits beside its QEMU driver; the manager is
// a field of the Driver, as the storage one. Its files live
// under StateDir/network and RunDir/network.

func (d *Driver) networks() *network.Manager {
	d.mgrMu.Lock()
	defer d.mgrMu.Unlock()
	if d.networkMgr == nil {
		d.networkMgr = network.New(network.Config{
			StateDir: filepath.Join(d.cfg.StateDir, "network"),
			RunDir:   filepath.Join(d.cfg.RunDir, "network"),
			Bus:      d.bus,
			Log:      d.cfg.Log,
		})
	}
	return d.networkMgr
}

// NetworkAutostart finds the networks still active from a previous run
// and starts those marked autostart. The daemon calls it once at start,
// before guests are autostarted (their NICs may need the networks).
func (d *Driver) NetworkAutostart() { d.networks().Autostart() }

// resolveNetworks gives every <interface type='network'> of a guest about
// to start a port of its network, which must be active (netports.go);
// the live XML then shows it as <source network='N' portid='P'
// bridge='BR'/>, as libvirt's. On failure no port is left.
func (d *Driver) resolveNetworks(live *conf.Domain) error {
	for i, n := range live.Devices.Interfaces {
		if err := d.resolveNetwork(live, n); err != nil {
			for _, done := range live.Devices.Interfaces[:i] {
				d.releasePort(done)
			}
			return err
		}
	}
	return nil
}

func (d *Driver) resolveNetwork(dom *conf.Domain, n *conf.Interface) error {
	return d.allocatePort(dom, n)
}

var _ driver.Networks = (*conn)(nil)

func (c *conn) ListAllNetworks(flags uint32) ([]driver.Network, error) {
	return c.d.networks().ListAllNetworks(flags)
}
func (c *conn) LookupNetworkByName(name string) (driver.Network, error) {
	return c.d.networks().LookupNetworkByName(name)
}
func (c *conn) LookupNetworkByUUID(u uuid.UUID) (driver.Network, error) {
	return c.d.networks().LookupNetworkByUUID(u)
}
func (c *conn) NetworkDefineXML(xml string, flags uint32) (driver.Network, error) {
	return c.d.networks().NetworkDefineXML(xml, flags)
}
func (c *conn) NetworkCreateXML(xml string, flags uint32) (driver.Network, error) {
	return c.d.networks().NetworkCreateXML(xml, flags)
}
func (c *conn) NetworkUndefine(n driver.Network) error { return c.d.networks().NetworkUndefine(n) }
func (c *conn) NetworkCreate(n driver.Network) error   { return c.d.networks().NetworkCreate(n) }
func (c *conn) NetworkDestroy(n driver.Network) error  { return c.d.networks().NetworkDestroy(n) }
func (c *conn) NetworkGetXMLDesc(n driver.Network, flags uint32) (string, error) {
	return c.d.networks().NetworkGetXMLDesc(n, flags)
}
func (c *conn) NetworkGetBridgeName(n driver.Network) (string, error) {
	return c.d.networks().NetworkGetBridgeName(n)
}
func (c *conn) NetworkGetAutostart(n driver.Network) (bool, error) {
	return c.d.networks().NetworkGetAutostart(n)
}
func (c *conn) NetworkSetAutostart(n driver.Network, on bool) error {
	return c.d.networks().NetworkSetAutostart(n, on)
}
func (c *conn) NetworkIsActive(n driver.Network) (bool, error) {
	return c.d.networks().NetworkIsActive(n)
}
func (c *conn) NetworkIsPersistent(n driver.Network) (bool, error) {
	return c.d.networks().NetworkIsPersistent(n)
}

var _ driver.NetworkLeases = (*conn)(nil)

func (c *conn) NetworkGetDHCPLeases(n driver.Network, mac string, flags uint32) ([]driver.NetworkDHCPLease, error) {
	return c.d.networks().NetworkGetDHCPLeases(n, mac, flags)
}

var _ driver.NetworkUpdater = (*conn)(nil)

var _ driver.NetworkPorts = (*conn)(nil)

func (c *conn) NetworkListAllPorts(n driver.Network, flags uint32) ([]driver.NetworkPort, error) {
	return c.d.networks().NetworkListAllPorts(n, flags)
}
func (c *conn) NetworkPortLookupByUUID(n driver.Network, u uuid.UUID) (driver.NetworkPort, error) {
	return c.d.networks().NetworkPortLookupByUUID(n, u)
}
func (c *conn) NetworkPortCreateXML(n driver.Network, xml string, flags uint32) (driver.NetworkPort, error) {
	return c.d.networks().NetworkPortCreateXML(n, xml, flags)
}
func (c *conn) NetworkPortGetXMLDesc(p driver.NetworkPort, flags uint32) (string, error) {
	return c.d.networks().NetworkPortGetXMLDesc(p, flags)
}
func (c *conn) NetworkPortDelete(p driver.NetworkPort, flags uint32) error {
	return c.d.networks().NetworkPortDelete(p, flags)
}
func (c *conn) NetworkPortSetParameters(p driver.NetworkPort, params []driver.TypedParam, flags uint32) error {
	return c.d.networks().NetworkPortSetParameters(p, params, flags)
}
func (c *conn) NetworkPortGetParameters(p driver.NetworkPort, flags uint32) ([]driver.TypedParam, error) {
	return c.d.networks().NetworkPortGetParameters(p, flags)
}

func (c *conn) NetworkUpdate(n driver.Network, command, section uint32, parentIndex int32, xml string, flags uint32) error {
	return c.d.networks().NetworkUpdate(n, command, section, parentIndex, xml, flags)
}
