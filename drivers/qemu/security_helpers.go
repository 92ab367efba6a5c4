package qemu

import (
	"os/user"
)

// Each helper process runs as libvirt runs it: swtpm as qemu.conf's
// swtpm_user/swtpm_group ("tss" when the host has it, else root;
// qemuTPMEmulatorBuildCommand), with its state directory and log given
// to that user; passt as the guest's QEMU identity (qemuPasstStart runs
// it through the security manager with the domain's label); virtiofsd
// as root (qemuVirtioFSStart sets uid and gid 0: it needs root to serve
// files with their owners).

// swtpmIdentity resolves swtpm_user and swtpm_group. A nil result keeps
// root.
func swtpmIdentity(userName, groupName string) (*procCred, error) {
	if userName == "" {
		if _, err := user.Lookup("tss"); err == nil {
			userName = "tss"
		}
	}
	if groupName == "" {
		if _, err := user.LookupGroup("tss"); err == nil {
			groupName = "tss"
		}
	}
	c := &procCred{}
	var err error
	if userName != "" {
		if c.uid, err = lookupUID(userName); err != nil {
			return nil, err
		}
	}
	if groupName != "" {
		if c.gid, err = lookupGID(groupName); err != nil {
			return nil, err
		}
	}
	if c.uid == 0 && c.gid == 0 {
		return nil, nil
	}
	return c, nil
}
