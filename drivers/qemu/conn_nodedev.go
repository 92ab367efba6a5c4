package qemu

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"govirt/conf"

	"govirt/driver"
	"govirt/drivers/hostiface"
	"govirt/drivers/nodedev"
)

// Node devices and host interfaces of qemu:///system are served by
// drivers/nodedev and drivers/hostiface, as libvirtd's udev node device
// and udev interface backends sit beside its QEMU driver. Both read the
// host's sysfs on every call. PCI detach, reattach and reset are the
// QEMU driver's own calls (qemuNodeDeviceDetachFlags) and go through the
// same manager.

func (d *Driver) nodedevs() *nodedev.Manager {
	d.mgrMu.Lock()
	defer d.mgrMu.Unlock()
	if d.nodedevMgr == nil {
		d.nodedevMgr = nodedev.New(nodedev.Config{
			Privileged: os.Geteuid() == 0,
			HostUUID:   d.hostUUID,
		})
	}
	return d.nodedevMgr
}

var (
	_ driver.NodeDevices           = (*conn)(nil)
	_ driver.NodeDeviceEventSource = (*conn)(nil)
	_ driver.NodeDeviceAssign      = (*conn)(nil)
	_ driver.NodeDeviceByWWN       = (*conn)(nil)
	_ driver.Interfaces            = (*conn)(nil)
	_ driver.InterfaceCounting     = (*conn)(nil)
)

func (c *conn) ListAllNodeDevices(flags uint32) ([]string, error) {
	return c.d.nodedevs().ListAllNodeDevices(flags)
}
func (c *conn) NodeNumOfDevices(cap string, flags uint32) (int32, error) {
	return c.d.nodedevs().NodeNumOfDevices(cap, flags)
}
func (c *conn) NodeListDevices(cap string, maxnames int32, flags uint32) ([]string, error) {
	return c.d.nodedevs().NodeListDevices(cap, maxnames, flags)
}
func (c *conn) LookupNodeDeviceByName(name string) (string, error) {
	return c.d.nodedevs().LookupNodeDeviceByName(name)
}
func (c *conn) LookupSCSIHostByWWN(wwnn, wwpn string, flags uint32) (string, error) {
	return c.d.nodedevs().LookupSCSIHostByWWN(wwnn, wwpn, flags)
}
func (c *conn) NodeDeviceGetXMLDesc(name string, flags uint32) (string, error) {
	return c.d.nodedevs().NodeDeviceGetXMLDesc(name, flags)
}
func (c *conn) NodeDeviceGetParent(name string) (string, error) {
	return c.d.nodedevs().NodeDeviceGetParent(name)
}
func (c *conn) NodeDeviceNumOfCaps(name string) (int32, error) {
	return c.d.nodedevs().NodeDeviceNumOfCaps(name)
}
func (c *conn) NodeDeviceListCaps(name string, maxnames int32) ([]string, error) {
	return c.d.nodedevs().NodeDeviceListCaps(name, maxnames)
}
func (c *conn) NodeDeviceCreateXML(xml string, flags uint32) (string, error) {
	return c.d.nodedevs().NodeDeviceCreateXML(xml, flags)
}
func (c *conn) NodeDeviceDestroy(name string) error {
	return c.d.nodedevs().NodeDeviceDestroy(name)
}

// NodeDeviceDetachFlags is qemuNodeDeviceDetachFlags.
func (c *conn) NodeDeviceDetachFlags(name, driverName string, flags uint32) error {
	return c.d.nodedevs().Detach(name, driverName, flags, c.d.pciInUse)
}

// NodeDeviceReAttach is qemuNodeDeviceReAttach.
func (c *conn) NodeDeviceReAttach(name string) error {
	return c.d.nodedevs().ReAttach(name, c.d.pciInUse)
}

// NodeDeviceReset is qemuNodeDeviceReset.
func (c *conn) NodeDeviceReset(name string) error {
	return c.d.nodedevs().Reset(name, c.d.pciInUse)
}

// pciInUse names the running guest a PCI function (DDDD:BB:SS.F) is
// assigned to, "" when none.
func (d *Driver) pciInUse(addr string) string {
	for _, v := range d.doms.all() {
		v.mu.Lock()
		live, name := v.live, v.name
		v.mu.Unlock()
		if live == nil {
			continue
		}
		for _, h := range hostPCIAddrs(live) {
			if h == addr {
				return name
			}
		}
	}
	return ""
}

func hostIfaces() *hostiface.Host { return hostiface.New("") }

func (c *conn) ListAllInterfaces(flags uint32) ([]driver.Interface, error) {
	return hostIfaces().ListAllInterfaces(flags)
}
func (c *conn) LookupInterfaceByName(name string) (driver.Interface, error) {
	return hostIfaces().LookupInterfaceByName(name)
}
func (c *conn) LookupInterfaceByMACString(mac string) (driver.Interface, error) {
	return hostIfaces().LookupInterfaceByMACString(mac)
}
func (c *conn) InterfaceGetXMLDesc(i driver.Interface, flags uint32) (string, error) {
	return hostIfaces().InterfaceGetXMLDesc(i, flags)
}
func (c *conn) InterfaceIsActive(i driver.Interface) (bool, error) {
	return hostIfaces().InterfaceIsActive(i)
}
func (c *conn) InterfaceNames(active bool) ([]string, error) {
	return hostIfaces().InterfaceNames(active)
}

// hostPCIAddrs are the PCI functions a guest's <hostdev type='pci'>
// elements assign, as DDDD:BB:SS.F.
func hostPCIAddrs(def *conf.Domain) []string {
	var out []string
	for _, h := range def.RawDevicesOf("hostdev") {
		e := conf.DeviceElement(h)
		if t, _ := e.Attr("type"); t != "pci" {
			continue
		}
		src := e.Child("source")
		if src == nil || src.Child("address") == nil {
			continue
		}
		a := src.Child("address")
		var v [4]uint64
		for i, n := range []string{"domain", "bus", "slot", "function"} {
			s, _ := a.Attr(n)
			v[i], _ = strconv.ParseUint(s, 0, 32)
		}
		out = append(out, fmt.Sprintf("%04x:%02x:%02x.%x", v[0], v[1], v[2], v[3]))
	}
	return out
}

var _ driver.NodeDeviceStates = (*conn)(nil)

func (c *conn) NodeDeviceIsActive(name string) (bool, error) {
	return c.d.nodedevs().NodeDeviceIsActive(name)
}
func (c *conn) NodeDeviceIsPersistent(name string) (bool, error) {
	return c.d.nodedevs().NodeDeviceIsPersistent(name)
}
func (c *conn) NodeDeviceGetAutostart(name string) (bool, error) {
	return c.d.nodedevs().NodeDeviceGetAutostart(name)
}
func (c *conn) NodeDeviceSetAutostart(name string, on bool) error {
	return c.d.nodedevs().NodeDeviceSetAutostart(name, on)
}
func (c *conn) NodeDeviceCreate(name string, flags uint32) error {
	return c.d.nodedevs().NodeDeviceCreate(name, flags)
}
func (c *conn) NodeDeviceUndefine(name string, flags uint32) error {
	return c.d.nodedevs().NodeDeviceUndefine(name, flags)
}
func (c *conn) NodeDeviceDefineXML(xml string, flags uint32) (string, error) {
	return c.d.nodedevs().NodeDeviceDefineXML(xml, flags)
}

// HoldNodeDeviceEvents keeps the uevent watcher scanning while a
// client's node device event registration lasts.
func (c *conn) HoldNodeDeviceEvents() func() { return c.d.nodedevs().Hold() }

// WatchNodeDevices publishes node device lifecycle and update events
// from the kernel's uevents until ctx ends; the daemon calls it once.
func (d *Driver) WatchNodeDevices(ctx context.Context) {
	err := d.nodedevs().Watch(ctx, func(e nodedev.Event) {
		d.bus.Publish(driver.NodeDeviceEvent{Name: e.Name, Update: e.Update, Event: e.Event})
	})
	if err != nil {
		d.log.Warn("no node device events", "err", err)
	}
}
