package test

import (
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// vCPU and emulator pinning as libvirt's test driver keeps it: in the
// definition's <cputune>, nothing else.

// bitmapFromMap is virBitmapNewData: the CPUs a byte map sets.
func bitmapFromMap(cpumap []byte) []int {
	var set []int
	for i, b := range cpumap {
		for bit := 0; bit < 8; bit++ {
			if b&(1<<bit) != 0 {
				set = append(set, i*8+bit)
			}
		}
	}
	return set
}

// mapFromBitmap is virBitmapToDataBuf into maplen bytes.
func mapFromBitmap(set []int, maplen int) []byte {
	out := make([]byte, maplen)
	for _, c := range set {
		if c/8 < maplen {
			out[c/8] |= 1 << (c % 8)
		}
	}
	return out
}

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

func (in *instance) DomainPinVcpuFlags(d driver.Domain, vcpu uint32, cpumap []byte, flags uint32) error {
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
		o.def.SetVcpuPin(int(vcpu), conf.FormatBitmap(bitmapFromMap(cpumap)))
		return nil
	})
}

func (in *instance) DomainGetVcpuPinInfo(d driver.Domain, ncpumaps, maplen int32, flags uint32) ([]byte, int32, error) {
	var out []byte
	var n int32
	err := in.withDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		for i := 0; i < int(def.VCPUs) && i < int(ncpumaps); i++ {
			var set []int
			if s, ok := def.VcpuPin(i); ok {
				set = setOf(s)
			} else if def.CPUSet != "" {
				set = setOf(def.CPUSet)
			} else {
				set = in.allCPUs()
			}
			out = append(out, mapFromBitmap(set, int(maplen))...)
			n++
		}
		return nil
	})
	return out, n, err
}

func (in *instance) DomainPinEmulator(d driver.Domain, cpumap []byte, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainPinEmulator"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		set := bitmapFromMap(cpumap)
		if len(set) == 0 {
			return errTest(virerr.ErrInvalidArg, "Empty cpu list for pinning")
		}
		def.SetEmulatorPin(conf.FormatBitmap(set))
		return nil
	})
}

func (in *instance) DomainGetEmulatorPinInfo(d driver.Domain, maplen int32, flags uint32) ([]byte, int32, error) {
	if err := checkFlags(flags, affectLive|affectConfig, "testDomainGetEmulatorPinInfo"); err != nil {
		return nil, 0, err
	}
	var out []byte
	err := in.withDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		set := in.allCPUs()
		if s, ok := def.EmulatorPin(); ok {
			set = setOf(s)
		} else if def.CPUSet != "" {
			set = setOf(def.CPUSet)
		}
		out = mapFromBitmap(set, int(maplen))
		return nil
	})
	return out, 1, err
}
