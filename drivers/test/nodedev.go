package test

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// The node devices of libvirt's test driver: the default ones
// (defaultNodeDevsXML) or a node file's <device> elements. They are read
// only, except for the vHBA (an FC scsi_host) that NodeDeviceCreateXML
// mocks by copying scsi_host11, and destroy.

// nodeDevList keeps devices in the order they were added (libvirt lists
// from a hash table; clients sort).
type nodeDevList struct {
	order []*conf.NodeDevice
}

func (l *nodeDevList) find(name string) *conf.NodeDevice {
	for _, d := range l.order {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// assign is virNodeDeviceObjListAssignDef: a device of the same name is
// replaced.
func (l *nodeDevList) assign(d *conf.NodeDevice) {
	for i, o := range l.order {
		if o.Name == d.Name {
			l.order[i] = d
			return
		}
	}
	l.order = append(l.order, d)
}

func (l *nodeDevList) remove(name string) {
	for i, o := range l.order {
		if o.Name == name {
			l.order = append(l.order[:i], l.order[i+1:]...)
			return
		}
	}
}

func (in *instance) nodeDevFor(name string) (*conf.NodeDevice, error) {
	if d := in.devs.find(name); d != nil {
		return d, nil
	}
	return nil, errTest(virerr.ErrNoNodeDevice, "no node device with matching name '%s'", name)
}

// loadNodeDevice adds one <device> of a node file.
func (in *instance) loadNodeDevice(doc []byte) error {
	d, err := conf.ParseNodeDevice(doc, conf.NodeDevExisting)
	if err != nil {
		return err
	}
	in.devs.assign(d)
	return nil
}

// nodeDevCapsAll is VIR_CONNECT_LIST_NODE_DEVICES_FILTERS_CAP.
const nodeDevCapsAll = 1<<22 - 1

func (in *instance) ListAllNodeDevices(flags uint32) ([]string, error) {
	if err := checkFlags(flags, nodeDevCapsAll, "testConnectListAllNodeDevices"); err != nil {
		return nil, err
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	out := []string{}
	for _, d := range in.devs.order {
		if flags != 0 {
			match := false
			for i, t := range conf.NodeDevCapTypes {
				if flags&(1<<i) != 0 && d.HasCap(t) {
					match = true
				}
			}
			if !match {
				continue
			}
		}
		out = append(out, d.Name)
	}
	return out, nil
}

func (in *instance) NodeNumOfDevices(cap string, flags uint32) (int32, error) {
	names, err := in.nodeListDevices(cap, flags, "testNodeNumOfDevices")
	return int32(len(names)), err
}

func (in *instance) NodeListDevices(cap string, maxnames int32, flags uint32) ([]string, error) {
	names, err := in.nodeListDevices(cap, flags, "testNodeListDevices")
	if int32(len(names)) > maxnames {
		names = names[:maxnames]
	}
	return names, err
}

func (in *instance) nodeListDevices(cap string, flags uint32, fn string) ([]string, error) {
	if err := checkFlags(flags, 0, fn); err != nil {
		return nil, err
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	out := []string{}
	for _, d := range in.devs.order {
		if cap == "" || d.HasCap(cap) {
			out = append(out, d.Name)
		}
	}
	return out, nil
}

func (in *instance) LookupNodeDeviceByName(name string) (string, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	d, err := in.nodeDevFor(name)
	if err != nil {
		return "", err
	}
	return d.Name, nil
}

func (in *instance) NodeDeviceGetXMLDesc(name string, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "testNodeDeviceGetXMLDesc"); err != nil {
		return "", err
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	d, err := in.nodeDevFor(name)
	if err != nil {
		return "", err
	}
	return string(d.Format()), nil
}

func (in *instance) NodeDeviceGetParent(name string) (string, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	d, err := in.nodeDevFor(name)
	if err != nil {
		return "", err
	}
	if d.Parent == "" {
		return "", errInternal("no parent for this device")
	}
	return d.Parent, nil
}

func (in *instance) NodeDeviceNumOfCaps(name string) (int32, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	d, err := in.nodeDevFor(name)
	if err != nil {
		return 0, err
	}
	return int32(len(d.Caps)), nil
}

func (in *instance) NodeDeviceListCaps(name string, maxnames int32) ([]string, error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	d, err := in.nodeDevFor(name)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, c := range d.Caps {
		if int32(len(out)) < maxnames {
			out = append(out, c.Type)
		}
	}
	return out, nil
}

// errNodedev is an error of libvirt's shared node device code.
func errNodedev(format string, args ...any) error {
	return virerr.New(virerr.FromNodedev, virerr.ErrInternalError, format, args...)
}

// fcHost is virNodeDeviceGetWWNs: the device's FC scsi_host capability.
func fcHost(d *conf.NodeDevice) (*conf.NodeDevCap, error) {
	for i := range d.Caps {
		if c := &d.Caps[i]; c.Type == "scsi_host" && c.FCHost {
			return c, nil
		}
	}
	return nil, errNodedev("Device is not a fibre channel HBA")
}

// vportParent is virNodeDeviceObjListGetParentHost: the parent named, or
// found by its WWNs or fabric, or any vport-capable host, which must be
// capable of vport operations.
func (in *instance) vportParent(d *conf.NodeDevice) error {
	var p *conf.NodeDevice
	switch {
	case d.Parent != "":
		p = in.devs.find(d.Parent)
	case d.ParentWWNN != "" && d.ParentWWPN != "":
		for _, o := range in.devs.order {
			if c, err := fcHost(o); err == nil && c.WWNN == d.ParentWWNN && c.WWPN == d.ParentWWPN {
				p = o
				break
			}
		}
	case d.ParentFabricWWN != "":
		for _, o := range in.devs.order {
			if c, err := fcHost(o); err == nil && c.FabricWWN == d.ParentFabricWWN {
				p = o
				break
			}
		}
	default:
		for _, o := range in.devs.order {
			if o.HasCap("vports") {
				p = o
				break
			}
		}
		if p == nil {
			return errNodedev("Could not find any vport capable device")
		}
	}
	if p == nil {
		return errNodedev("Could not find parent device for '%s'", d.Name)
	}
	if c := p.SCSIHost(); c == nil || !c.VportOps {
		return errNodedev("Parent device %s is not capable of vport operations", p.Name)
	}
	return nil
}

// NodeDeviceCreateXML mocks creating a vHBA as libvirt's test driver: the
// new device is a copy of scsi_host11 named scsi_host12 with the WWNs of
// the request.
func (in *instance) NodeDeviceCreateXML(doc string, flags uint32) (string, error) {
	if err := checkFlags(flags, 1, "testNodeDeviceCreateXML"); err != nil {
		return "", err
	}
	req, err := conf.ParseNodeDevice([]byte(doc), conf.NodeDevCreate)
	if err != nil {
		return "", err
	}
	fc, err := fcHost(req)
	if err != nil {
		return "", err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.vportParent(req); err != nil {
		return "", err
	}
	tmpl := in.devs.find("scsi_host11")
	if tmpl == nil {
		return "", errInternal("cannot find 'scsi_host11' to copy")
	}
	d := tmpl.Clone()
	d.Name = "scsi_host12"
	for i := range d.Caps {
		if c := &d.Caps[i]; c.Type == "scsi_host" {
			if c.FCHost {
				c.WWNN, c.WWPN = fc.WWNN, fc.WWPN
			} else {
				c.Host++
				c.UniqueID++
			}
		}
	}
	in.devs.assign(d)
	in.bus.Publish(driver.NodeDeviceEvent{Name: d.Name, Event: driver.NodeDeviceEventCreated})
	return d.Name, nil
}

// NodeDeviceDestroy removes a vHBA. As in libvirt's test driver, a device
// that is no FC host or whose parent is missing is left alone and the call
// still succeeds (its result is never set to failure).
func (in *instance) NodeDeviceDestroy(name string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	d, err := in.nodeDevFor(name)
	if err != nil {
		return err
	}
	if _, err := fcHost(d); err != nil {
		return nil
	}
	if in.devs.find(d.Parent) == nil {
		return nil
	}
	in.devs.remove(name)
	in.bus.Publish(driver.NodeDeviceEvent{Name: name, Event: driver.NodeDeviceEventDeleted})
	return nil
}
