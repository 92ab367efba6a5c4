package test

import (
	"time"

	"govirt/conf"
	"govirt/driver"
)

// vcpus is virDomainDefGetVcpus: the online count.
func vcpus(def *conf.Domain) uint {
	if def.CurrentVCPUs != 0 {
		return def.CurrentVCPUs
	}
	return def.VCPUs
}

// nowMicros is g_get_real_time(), the base of every fake counter.
func nowMicros() uint64 { return uint64(time.Now().UnixMicro()) }

func (in *instance) DomainGetInfo(d driver.Domain) (driver.DomainInfo, error) {
	var info driver.DomainInfo
	err := in.withDom(d, func(o *domObj) error {
		info = driver.DomainInfo{
			State:     o.state,
			MaxMem:    o.def.Memory,
			Memory:    o.def.CurrentMemory,
			NrVirtCPU: uint16(vcpus(o.def)),
			// The test driver reports wall-clock time as CPU time.
			CPUTime: nowMicros() * 1000,
		}
		return nil
	})
	return info, err
}

func (in *instance) DomainGetState(d driver.Domain, flags uint32) (driver.State, int32, error) {
	var st driver.State
	var reason int32
	err := in.withDom(d, func(o *domObj) error {
		st, reason = o.state, o.reason
		return nil
	})
	return st, reason, err
}

func (in *instance) DomainGetXMLDesc(d driver.Domain, flags uint32) (string, error) {
	const common = uint32(conf.FormatSecure | conf.FormatInactive | conf.FormatUpdateCPU | conf.FormatMigratable)
	if err := checkFlags(flags, common, "testDomainGetXMLDesc"); err != nil {
		return "", err
	}
	var out []byte
	err := in.withDom(d, func(o *domObj) error {
		def := o.def
		if flags&uint32(conf.FormatInactive) != 0 && o.newDef != nil {
			def = o.newDef
		}
		var err error
		out, err = def.Format(conf.FormatFlags(flags))
		return err
	})
	return string(out), err
}

// DomainGetOSType is a constant in the test driver, whatever the XML says.
func (in *instance) DomainGetOSType(d driver.Domain) (string, error) {
	return "linux", in.withDom(d, func(*domObj) error { return nil })
}

func (in *instance) DomainGetMaxMemory(d driver.Domain) (uint64, error) {
	var m uint64
	err := in.withDom(d, func(o *domObj) error { m = o.def.Memory; return nil })
	return m, err
}

func (in *instance) DomainGetAutostart(d driver.Domain) (bool, error) {
	var on bool
	err := in.withDom(d, func(o *domObj) error { on = o.autostart; return nil })
	return on, err
}

func (in *instance) DomainSetAutostart(d driver.Domain, on bool) error {
	return in.updateDom(d, func(o *domObj) error { o.autostart = on; return nil })
}

func (in *instance) DomainIsActive(d driver.Domain) (bool, error) {
	var on bool
	err := in.withDom(d, func(o *domObj) error { on = o.active(); return nil })
	return on, err
}

func (in *instance) DomainIsPersistent(d driver.Domain) (bool, error) {
	var on bool
	err := in.withDom(d, func(o *domObj) error { on = o.persistent; return nil })
	return on, err
}

// DomainIsUpdated is always false in the test driver, without a lookup.
func (in *instance) DomainIsUpdated(d driver.Domain) (bool, error) { return false, nil }
