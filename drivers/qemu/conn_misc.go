package qemu

import (
	"fmt"
	"os"
	"syscall"

	"govirt/driver"
	"govirt/virerr"
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

// DomainGetSecurityLabelList is qemuDomainGetSecurityLabelList with
// libvirtd's security stack on a host without SELinux or AppArmor: the
// "none" driver's empty label, then, in privileged mode, the DAC
// driver's "+UID:+GID" of QEMU's process (read from /proc/PID as
// virSecurityDACGetProcessLabel). An inactive guest has no labels.
func (c *conn) DomainGetSecurityLabelList(h driver.Domain) ([]driver.SecurityLabel, error) {
	pid := 0
	if err := c.withVM(h, func(v *vm) error {
		if v.active() && v.proc != nil {
			pid = v.proc.pid
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if pid == 0 {
		return []driver.SecurityLabel{}, nil
	}
	labels := []driver.SecurityLabel{{}}
	if os.Geteuid() != 0 {
		return labels, nil
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(fmt.Sprintf("/proc/%d", pid), &st); err != nil {
		return nil, errQEMU(virerr.ErrSystemError, "unable to get uid and gid for PID %d via procfs: %s", pid, sysErrText(err))
	}
	return append(labels, driver.SecurityLabel{Label: fmt.Sprintf("+%d:+%d", st.Uid, st.Gid)}), nil
}
