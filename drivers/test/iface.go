package test

import (
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// ifaceObj is a host interface; the test driver only lets clients read
// them (and marks all it loads as active).
type ifaceObj struct {
	name, mac string
	def       *conf.HostInterface
	active    bool
}

func parseIface(doc string) (*ifaceObj, error) {
	def, err := conf.ParseHostInterface([]byte(doc), 0)
	if err != nil {
		return nil, err
	}
	return &ifaceObj{name: def.Name, mac: def.MAC, def: def}, nil
}

func (i *ifaceObj) handle() driver.Interface { return driver.Interface{Name: i.name, MAC: i.mac} }

// Interface list flags.
const (
	ifaceListInactive = 1 << 0
	ifaceListActive   = 1 << 1
)

func (in *instance) ListAllInterfaces(flags uint32) ([]driver.Interface, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	out := []driver.Interface{}
	for _, i := range in.ifaces {
		if pairMatch(flags, ifaceListActive, ifaceListInactive, i.active) {
			out = append(out, i.handle())
		}
	}
	return out, nil
}

func (in *instance) ifaceByName(name string) (*ifaceObj, error) {
	for _, i := range in.ifaces {
		if i.name == name {
			return i, nil
		}
	}
	return nil, errTest(virerr.ErrNoInterface, "no interface with matching name '%s'", name)
}

func (in *instance) LookupInterfaceByName(name string) (driver.Interface, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	i, err := in.ifaceByName(name)
	if err != nil {
		return driver.Interface{}, err
	}
	return i.handle(), nil
}

func (in *instance) LookupInterfaceByMACString(mac string) (driver.Interface, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	var found []*ifaceObj
	for _, i := range in.ifaces {
		// libvirt compares with g_ascii_strcasecmp, which answers "equal"
		// for an interface without a MAC (a bridge): it matches any.
		if i.mac == "" || strings.EqualFold(i.mac, mac) {
			found = append(found, i)
		}
	}
	switch len(found) {
	case 0:
		return driver.Interface{}, errTest(virerr.ErrNoInterface, "no interface with matching mac '%s'", mac)
	case 1:
		// The handle carries the MAC asked for, as libvirt builds it.
		return driver.Interface{Name: found[0].name, MAC: mac}, nil
	}
	return driver.Interface{}, errTest(virerr.ErrMultipleInterfaces, "")
}

func (in *instance) InterfaceGetXMLDesc(h driver.Interface, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "testInterfaceGetXMLDesc"); err != nil {
		return "", err
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	i, err := in.ifaceByName(h.Name)
	if err != nil {
		return "", err
	}
	out, err := i.def.Format(0)
	return string(out), err
}

func (in *instance) InterfaceIsActive(h driver.Interface) (bool, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	i, err := in.ifaceByName(h.Name)
	if err != nil {
		return false, err
	}
	return i.active, nil
}
