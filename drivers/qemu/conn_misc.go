package qemu

import (
	"govirt/driver"
)

// Without a security driver (no SELinux/AppArmor labelling yet), the model
// is "none", as libvirtd reports with security_driver = "none".
func (c *conn) NodeGetSecurityModel() (driver.SecurityModel, error) {
	return driver.SecurityModel{Model: "none", DOI: "0"}, nil
}

func (c *conn) DomainGetSecurityLabel(h driver.Domain) (driver.SecurityLabel, error) {
	return driver.SecurityLabel{}, c.withVM(h, func(*vm) error { return nil })
}

// DomainGetMessages reports why govirtd cannot manage a guest, if so,
// and the guest's taints.
func (c *conn) DomainGetMessages(h driver.Domain, flags uint32) ([]string, error) {
	var msgs []string
	err := c.withVM(h, func(v *vm) error {
		if v.brokenMsg != "" {
			msgs = append(msgs, v.brokenMsg)
		}
		msgs = append(msgs, taintMessagesFor(v, flags)...)
		return nil
	})
	return msgs, err
}
