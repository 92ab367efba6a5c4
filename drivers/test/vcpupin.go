package test

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// vCPU and emulator pinning as libvirt's test driver keeps it: in the
// definition's <cputune>, nothing else.

// allCPUs is a set of the host's CPUs.
func (in *instance) allCPUs() []int {
	set := make([]int, in.hostCPUs())
	for i := range set {
		set[i] = i
	}
	return set
}

// setOf parses a CPU set already accepted at define time.
func setOf(s string) []int {
	set, _ := conf.ParseBitmap(s)
	return set
}

// DomainPinVcpuLegacy is virDomainPinVcpu, which libvirt's test driver
// serves as virDomainPinVcpuFlags with no flags.
func (in *instance) DomainPinVcpuLegacy(d driver.Domain, vcpu uint32, cpus []int) error {
	return in.DomainPinVcpu(d, vcpu, cpus, 0)
}

func (in *instance) DomainPinVcpu(d driver.Domain, vcpu uint32, cpus []int, flags uint32) error {
	if err := checkFlags(flags, 0, "testDomainPinVcpuFlags"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		if !o.active() {
			return errTest(virerr.ErrOperationInvalid, "cannot pin vcpus on an inactive domain")
		}
		if vcpu >= uint32(vcpus(o.def)) {
			return errTest(virerr.ErrInvalidArg, "requested vcpu '%d' is not present in the domain", vcpu)
		}
		o.def.SetVcpuPin(int(vcpu), conf.FormatBitmap(cpus))
		return nil
	})
}

func (in *instance) DomainGetVcpuPinInfo(d driver.Domain, flags uint32) ([][]int, error) {
	var out [][]int
	err := in.withDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		for i := 0; i < int(def.VCPUs); i++ {
			var set []int
			if s, ok := def.VcpuPin(i); ok {
				set = setOf(s)
			} else if def.CPUSet != "" {
				set = setOf(def.CPUSet)
			} else {
				set = in.allCPUs()
			}
			out = append(out, set)
		}
		return nil
	})
	return out, err
}

func (in *instance) DomainPinEmulator(d driver.Domain, cpus []int, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainPinEmulator"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		if len(cpus) == 0 {
			return errTest(virerr.ErrInvalidArg, "Empty cpu list for pinning")
		}
		def.SetEmulatorPin(conf.FormatBitmap(cpus))
		return nil
	})
}

func (in *instance) DomainGetEmulatorPinInfo(d driver.Domain, flags uint32) ([]int, error) {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainGetEmulatorPinInfo"); err != nil {
		return nil, err
	}
	var out []int
	err := in.withDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		out = in.allCPUs()
		if s, ok := def.EmulatorPin(); ok {
			out = setOf(s)
		} else if def.CPUSet != "" {
			out = setOf(def.CPUSet)
		}
		return nil
	})
	return out, err
}

// DomainGetIOThreadInfo is virDomainDriverGetIOThreadsConfig: an iothread
// without a pin runs where the domain's cpuset says, else on as many CPUs
// as the domain has vCPUs.
func (in *instance) DomainGetIOThreadInfo(d driver.Domain, flags uint32) ([]driver.IOThreadInfo, error) {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainGetIOThreadInfo"); err != nil {
		return nil, err
	}
	var out []driver.IOThreadInfo
	err := in.withDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		pins := def.Pins("iothreadpin")
		for _, id := range def.IOThreadIDs() {
			var set []int
			if s, ok := pins[id]; ok {
				set = setOf(s)
			} else if def.CPUSet != "" {
				set = setOf(def.CPUSet)
			} else {
				for i := 0; i < int(vcpus(def)); i++ {
					set = append(set, i)
				}
			}
			out = append(out, driver.IOThreadInfo{ID: uint32(id), CPUs: set})
		}
		return nil
	})
	return out, err
}

func (in *instance) DomainPinIOThread(d driver.Domain, id uint32, cpus []int, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainPinIOThread"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		if len(cpus) == 0 {
			return errTest(virerr.ErrInvalidArg, "Empty iothread cpumap list for pinning")
		}
		for _, x := range def.IOThreadIDs() {
			if uint32(x) == id {
				def.SetPin("iothreadpin", int(id), conf.FormatBitmap(cpus))
				return nil
			}
		}
		return errTest(virerr.ErrInvalidArg, "iothreadid %d not found", id)
	})
}
