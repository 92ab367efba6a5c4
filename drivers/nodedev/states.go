package nodedev

import (
	"govirt/conf"
	"govirt/virerr"
)

// The persistent-device calls. Every udev device is active; only
// computer is persistent and autostarted (udevSetupSystemDev); the rest
// of these calls exist for mediated devices (mdevctl), which are not
// served, so every device gets libvirt's answer for a device that is not
// one.

func (m *Manager) NodeDeviceIsActive(name string) (bool, error) {
	_, err := m.findRecent(name)
	return err == nil, err
}

func (m *Manager) NodeDeviceIsPersistent(name string) (bool, error) {
	d, err := m.findRecent(name)
	return err == nil && d.Name == "computer", err
}

func (m *Manager) NodeDeviceGetAutostart(name string) (bool, error) {
	return m.NodeDeviceIsPersistent(name)
}

// NodeDeviceSetAutostart is nodeDeviceSetAutostart.
func (m *Manager) NodeDeviceSetAutostart(name string, on bool) error {
	if _, err := m.find(name); err != nil {
		return err
	}
	return virerr.New(virerr.FromNodedev, virerr.ErrOperationUnsupported, "Unsupported device type")
}

// NodeDeviceCreate is nodeDeviceCreate: every device is active already.
func (m *Manager) NodeDeviceCreate(name string, flags uint32) error {
	if err := errFlags(flags, 0, "nodeDeviceCreate"); err != nil {
		return err
	}
	if _, err := m.find(name); err != nil {
		return err
	}
	return virerr.New(virerr.FromNodedev, virerr.ErrOperationInvalid, "Device is already active")
}

// NodeDeviceUndefine is nodeDeviceUndefine.
func (m *Manager) NodeDeviceUndefine(name string, flags uint32) error {
	if err := errFlags(flags, 0, "nodeDeviceUndefine"); err != nil {
		return err
	}
	d, err := m.find(name)
	if err != nil {
		return err
	}
	if d.Name != "computer" {
		return virerr.New(virerr.FromNodedev, virerr.ErrOperationInvalid, "Node device '%s' is not defined", d.Name)
	}
	return virerr.New(virerr.FromNodedev, virerr.ErrConfigUnsupported, "Unsupported device type")
}

// NodeDeviceDefineXML is nodeDeviceDefineXML: only mediated devices can
// be defined.
func (m *Manager) NodeDeviceDefineXML(xml string, flags uint32) (string, error) {
	if err := errFlags(flags, 1, "nodeDeviceDefineXML"); err != nil {
		return "", err
	}
	def, err := conf.ParseNodeDevice([]byte(xml), conf.NodeDevCreate)
	if err != nil {
		return "", err
	}
	if !def.HasCap("mdev") {
		return "", virerr.New(virerr.FromNodedev, virerr.ErrConfigUnsupported, "Unsupported device type")
	}
	if def.Parent == "" {
		return "", virerr.New(virerr.FromNodedev, virerr.ErrXMLError, "cannot define a mediated device without a parent")
	}
	return "", errMdevctl()
}
