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
// to start the bridge of its network, which must be active; the live XML
// then shows it as <source network='N' bridge='BR'/>, as libvirt's.
func (d *Driver) resolveNetworks(live *conf.Domain) error {
	for _, n := range live.Devices.Interfaces {
		if err := d.resolveNetwork(n); err != nil {
			return err
		}
	}
	return nil
}

func (d *Driver) resolveNetwork(n *conf.Interface) error {
	if n.Type != "network" {
		return nil
	}
	br, err := d.networks().ActiveBridge(n.Network)
	if err != nil {
		return err
	}
	n.Bridge = br
	return nil
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

func (c *conn) NetworkUpdate(n driver.Network, command, section uint32, parentIndex int32, xml string, flags uint32) error {
	return c.d.networks().NetworkUpdate(n, command, section, parentIndex, xml, flags)
}
