package qemu

import (
	"fmt"
	"os"
	"path/filepath"

	"govirt/conf"
	"govirt/driver"
	"govirt/drivers/nwfilter"
	"govirt/uuid"
)

// Network filters of qemu:///system are served by drivers/nwfilter, as
// libvirtd's nwfilter driver sits beside its QEMU driver: definitions
// under StateDir/nwfilter (libvirt's /etc/libvirt/nwfilter), bindings
// under RunDir/nwfilter-binding (libvirt's /run/libvirt/nwfilter-binding).
// The driver is made at Start, so a restarted daemon applies the
// bindings of running guests again. Guests' interfaces with a
// <filterref> get a binding while their tap exists (bindGuestFilters,
// unbindGuestFilters), through driver.NWFilterPorts.

func (d *Driver) nwfilters() *nwfilter.Manager {
	d.mgrMu.Lock()
	defer d.mgrMu.Unlock()
	if d.nwfilterMgr == nil {
		privileged := os.Geteuid() == 0
		var tech nwfilter.Tech
		var sniff func(string, [6]byte, int, <-chan struct{}) (string, bool)
		if privileged {
			tech = nwfilter.NewEbiptables(d.log)
			sniff = nwfilter.SniffIP
		}
		d.nwfilterMgr = nwfilter.New(nwfilter.Config{
			Dir:        filepath.Join(d.cfg.StateDir, "nwfilter"),
			BindingDir: filepath.Join(d.cfg.RunDir, "nwfilter-binding"),
			Privileged: privileged,
			Tech:       tech,
			LearnIP:    d.learnFilterIP,
			SniffIP:    sniff,
			Log:        d.log.With("driver", "nwfilter"),
		})
	}
	return d.nwfilterMgr
}

func (d *Driver) filterPorts() driver.NWFilterPorts { return d.nwfilters() }

// learnFilterIP finds the IPv4 address of a filtered NIC in the DHCP
// leases of the active virtual networks (its network's dnsmasq gave
// it), where libvirt's nwfilter sniffs the guest's DHCP or ARP traffic.
func (d *Driver) learnFilterIP(b *nwfilter.Binding) (string, bool) {
	mgr := d.networks()
	nets, err := mgr.ListAllNetworks(listNetworksActive)
	if err != nil {
		return "", false
	}
	mac := fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b.MAC[0], b.MAC[1], b.MAC[2], b.MAC[3], b.MAC[4], b.MAC[5])
	for _, n := range nets {
		leases, err := mgr.NetworkGetDHCPLeases(n, mac, 0)
		if err != nil {
			continue
		}
		for _, l := range leases {
			if l.Type == 0 && l.IPAddr != "" {
				return l.IPAddr, true
			}
		}
	}
	return "", false
}

// listNetworksActive is VIR_CONNECT_LIST_NETWORKS_ACTIVE.
const listNetworksActive = 1 << 1

// filterPort is the binding of n when it has a <filterref> on a tap:
// libvirt reads <filterref> only for network, bridge and ethernet
// interfaces.
func filterPort(name string, u uuid.UUID, n *conf.Interface) (driver.NWFilterPort, bool) {
	filter, params := n.FilterRef()
	if filter == "" || n.TargetDev == "" {
		return driver.NWFilterPort{}, false
	}
	switch n.Type {
	case "network", "bridge", "ethernet":
	default:
		return driver.NWFilterPort{}, false
	}
	return driver.NWFilterPort{OwnerName: name, OwnerUUID: u, PortDev: n.TargetDev, MAC: n.MAC, Filter: filter, Params: params}, true
}

// bindGuestFilters instantiates the filters of live's interfaces once
// their taps exist (libvirt does it as each tap is connected); a failure
// fails the start. With ignoreExists (a reconnecting daemon) bindings
// kept from before stay, and failures are only logged, as
// qemuProcessReconnect.
func (d *Driver) bindGuestFilters(name string, u uuid.UUID, live *conf.Domain, ignoreExists bool) error {
	var ports driver.NWFilterPorts
	for _, n := range live.Devices.Interfaces {
		p, ok := filterPort(name, u, n)
		if !ok {
			continue
		}
		if ports == nil {
			ports = d.filterPorts()
		}
		if err := ports.BindPort(p, ignoreExists); err != nil {
			if ignoreExists {
				d.log.Warn("filter instantiation failed", "domain", name, "filter", p.Filter, "interface", p.PortDev, "err", err)
				continue
			}
			d.unbindGuestFilters(live)
			return err
		}
	}
	return nil
}

// unbindGuestFilters removes the bindings of live's interfaces.
func (d *Driver) unbindGuestFilters(live *conf.Domain) {
	if live == nil {
		return
	}
	var ports driver.NWFilterPorts
	for _, n := range live.Devices.Interfaces {
		if p, ok := filterPort("", uuid.UUID{}, n); ok {
			if ports == nil {
				ports = d.filterPorts()
			}
			ports.UnbindPort(p.PortDev)
		}
	}
}

var _ driver.NWFilters = (*conn)(nil)

func (c *conn) ListAllNWFilters(flags uint32) ([]driver.NWFilter, error) {
	return c.d.nwfilters().ListAllNWFilters(flags)
}
func (c *conn) NumOfNWFilters() (int32, error) { return c.d.nwfilters().NumOfNWFilters() }
func (c *conn) ListNWFilters(maxnames int32) ([]string, error) {
	return c.d.nwfilters().ListNWFilters(maxnames)
}
func (c *conn) LookupNWFilterByName(name string) (driver.NWFilter, error) {
	return c.d.nwfilters().LookupNWFilterByName(name)
}
func (c *conn) LookupNWFilterByUUID(u uuid.UUID) (driver.NWFilter, error) {
	return c.d.nwfilters().LookupNWFilterByUUID(u)
}
func (c *conn) NWFilterDefineXML(xml string, flags uint32) (driver.NWFilter, error) {
	return c.d.nwfilters().NWFilterDefineXML(xml, flags)
}
func (c *conn) NWFilterUndefine(f driver.NWFilter) error { return c.d.nwfilters().NWFilterUndefine(f) }
func (c *conn) NWFilterGetXMLDesc(f driver.NWFilter, flags uint32) (string, error) {
	return c.d.nwfilters().NWFilterGetXMLDesc(f, flags)
}
func (c *conn) ListAllNWFilterBindings(flags uint32) ([]driver.NWFilterBinding, error) {
	return c.d.nwfilters().ListAllNWFilterBindings(flags)
}
func (c *conn) LookupNWFilterBindingByPortDev(dev string) (driver.NWFilterBinding, error) {
	return c.d.nwfilters().LookupNWFilterBindingByPortDev(dev)
}
func (c *conn) NWFilterBindingCreateXML(xml string, flags uint32) (driver.NWFilterBinding, error) {
	return c.d.nwfilters().NWFilterBindingCreateXML(xml, flags)
}
func (c *conn) NWFilterBindingDelete(b driver.NWFilterBinding) error {
	return c.d.nwfilters().NWFilterBindingDelete(b)
}
func (c *conn) NWFilterBindingGetXMLDesc(b driver.NWFilterBinding, flags uint32) (string, error) {
	return c.d.nwfilters().NWFilterBindingGetXMLDesc(b, flags)
}
