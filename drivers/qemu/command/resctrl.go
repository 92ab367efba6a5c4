package command

import (
	"os"

	"govirt/conf"
)

// hasResctrl reports whether def asks for resource control (<cachetune>
// or <memorytune> in <cputune>, libvirt's def->resctrls).
func hasResctrl(def *conf.Domain) bool {
	ct := def.Tree().Child("cputune")
	return ct != nil && (ct.Child("cachetune") != nil || ct.Child("memorytune") != nil)
}

// CheckResctrlType is qemuValidateDomainDef's refusal of resource
// control for a guest other than KVM (at define and start).
func CheckResctrlType(def *conf.Domain) error {
	if hasResctrl(def) && def.Type != "kvm" {
		return unsupported("cachetune is only supported for KVM domains")
	}
	return nil
}

// checkResctrlHost is the start's refusal on a host without the resctrl
// file system (virResctrlAllocCreate); with it, <cachetune> and
// <memorytune> are refused as not implemented (check.go).
func checkResctrlHost(def *conf.Domain) error {
	if err := CheckResctrlType(def); err != nil {
		return err
	}
	if hasResctrl(def) {
		if _, err := os.Stat("/sys/fs/resctrl/info"); err != nil {
			return unsupported("Resource control is not supported on this host")
		}
	}
	return nil
}
