package test

import (
	"fmt"
	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// virDomainModificationImpact and friends.
const (
	affectLive           = 1 << 0
	affectConfig         = 1 << 1
	memMaximum           = 1 << 2 // VIR_DOMAIN_MEM_MAXIMUM
	vcpuMaximum          = 1 << 2 // VIR_DOMAIN_VCPU_MAXIMUM
	typedParamStringOkay = 1 << 2
)

// checkFlags is virCheckFlags.
func checkFlags(flags, allowed uint32, fn string) error {
	if flags&^allowed != 0 {
		// virReportInvalidArg: the message carries no "invalid argument" prefix.
		return virerr.Raw(virerr.FromTest, virerr.ErrInvalidArg, fmt.Sprintf("unsupported flags (0x%x) in function %s", flags&^allowed, fn))
	}
	return nil
}

// impact is virDomainObjUpdateModificationImpact: "current" becomes live
// or config, and asking for what the domain lacks is refused.
func (o *domObj) impact(flags uint32) (uint32, error) {
	if flags&(affectLive|affectConfig) == 0 {
		if o.active() {
			flags |= affectLive
		} else {
			flags |= affectConfig
		}
	}
	if !o.active() && flags&affectLive != 0 {
		return 0, errNotRunning()
	}
	if !o.persistent && flags&affectConfig != 0 {
		return 0, virerr.New(virerr.FromDomain, virerr.ErrOperationInvalid, "transient domains do not have any persistent config")
	}
	return flags, nil
}

// oneDef is virDomainObjGetOneDefState: exactly one definition.
func (o *domObj) oneDef(flags uint32) (def *conf.Domain, live bool, err error) {
	if flags&affectLive != 0 && flags&affectConfig != 0 {
		return nil, false, virerr.Raw(virerr.FromDomain, virerr.ErrInvalidArg,
			"Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive")
	}
	if flags, err = o.impact(flags); err != nil {
		return nil, false, err
	}
	if o.active() && flags&affectConfig != 0 {
		return o.newDef, false, nil
	}
	return o.def, flags&affectLive != 0, nil
}

// defs is virDomainObjGetDefs: the live and/or the persistent definition.
func (o *domObj) defs(flags uint32) (live, persistent *conf.Domain, err error) {
	if flags, err = o.impact(flags); err != nil {
		return nil, nil, err
	}
	if flags&affectLive != 0 {
		live = o.def
	}
	if flags&affectConfig != 0 {
		persistent = o.persistentDef()
	}
	return live, persistent, nil
}

func (in *instance) DomainSetMemoryFlags(d driver.Domain, kib uint64, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig|memMaximum, "testDomainSetMemoryFlags"); err != nil {
		return err
	}
	return in.updateDom(d, func(o *domObj) error {
		def, live, err := o.oneDef(flags)
		if err != nil {
			return err
		}
		if flags&memMaximum != 0 {
			if live {
				return errTest(virerr.ErrOperationInvalid, "cannot resize the maximum memory on an active domain")
			}
			if def.MaxMemory != 0 && def.MaxMemory < kib {
				return errTest(virerr.ErrOperationInvalid, "cannot set initial memory size greater than the maximum memory size")
			}
			def.Memory = kib
			if def.CurrentMemory > kib {
				def.CurrentMemory = kib
			}
			return nil
		}
		if kib > def.Memory {
			return errTest(virerr.ErrInvalidArg, "cannot set memory higher than max memory")
		}
		def.CurrentMemory = kib
		return nil
	})
}

func (in *instance) DomainSetMaxMemory(d driver.Domain, kib uint64) error {
	return in.DomainSetMemoryFlags(d, kib, memMaximum)
}

// maxVcpus is what testConnectGetMaxVcpus answers for any type.
const maxVcpus = 32

func (in *instance) DomainSetVcpusFlags(d driver.Domain, n uint32, flags uint32) error {
	if err := checkFlags(flags, affectLive|affectConfig|vcpuMaximum, "testDomainSetVcpusFlags"); err != nil {
		return err
	}
	if n > maxVcpus {
		return errTest(virerr.ErrInvalidArg, "requested cpu amount exceeds maximum supported amount (%d > %d)", n, maxVcpus)
	}
	return in.updateDom(d, func(o *domObj) error {
		live, pers, err := o.defs(flags)
		if err != nil {
			return err
		}
		if live != nil && live.VCPUs < uint(n) {
			return errTest(virerr.ErrInvalidArg, "requested cpu amount exceeds maximum (%d > %d)", n, live.VCPUs)
		}
		if pers != nil && flags&vcpuMaximum == 0 && pers.VCPUs < uint(n) {
			return errTest(virerr.ErrInvalidArg, "requested cpu amount exceeds maximum (%d > %d)", n, pers.VCPUs)
		}
		if n == 0 {
			return virerr.New(virerr.FromDomain, virerr.ErrInvalidArg, "domain must have at least one vCPU")
		}
		if live != nil {
			live.CurrentVCPUs = uint(n)
		}
		if pers != nil {
			if flags&vcpuMaximum != 0 {
				pers.VCPUs = uint(n)
				if vcpus(pers) > uint(n) {
					pers.CurrentVCPUs = uint(n)
				}
			} else {
				pers.CurrentVCPUs = uint(n)
			}
		}
		return nil
	})
}

func (in *instance) DomainGetVcpusFlags(d driver.Domain, flags uint32) (int32, error) {
	if err := checkFlags(flags, affectLive|affectConfig|vcpuMaximum, "testDomainGetVcpusFlags"); err != nil {
		return 0, err
	}
	var n int32
	err := in.withDom(d, func(o *domObj) error {
		def, _, err := o.oneDef(flags &^ vcpuMaximum)
		if err != nil {
			return err
		}
		if flags&vcpuMaximum != 0 {
			n = int32(def.VCPUs)
		} else {
			n = int32(vcpus(def))
		}
		return nil
	})
	return n, err
}

func (in *instance) DomainGetMaxVcpus(d driver.Domain) (int32, error) {
	return in.DomainGetVcpusFlags(d, affectLive|vcpuMaximum)
}

// hostCPUs is VIR_NODEINFO_MAXCPUS.
func (in *instance) hostCPUs() int {
	n := in.node
	return int(n.Nodes * n.Sockets * n.Cores * n.Threads)
}

func (in *instance) DomainGetVcpus(d driver.Domain, maxinfo int32, maplen int32) ([]driver.VcpuInfo, []byte, error) {
	var infos []driver.VcpuInfo
	var maps []byte
	err := in.withDom(d, func(o *domObj) error {
		if !o.active() {
			return errTest(virerr.ErrOperationInvalid, "cannot list vcpus for an inactive domain")
		}
		if n := int32(vcpus(o.def)); maxinfo > n {
			maxinfo = n
		}
		if maxinfo < 0 {
			maxinfo = 0
		}
		host := in.hostCPUs()
		// Every vcpu may run on every host CPU: the map has the first
		// host-CPU bits set and the vcpu sits on the last of them.
		one := make([]byte, max(maplen, 0))
		for c := 0; c < host && c/8 < len(one); c++ {
			one[c/8] |= 1 << (c % 8)
		}
		t := nowMicros() / 10
		infos = make([]driver.VcpuInfo, maxinfo)
		maps = make([]byte, 0, int(maxinfo)*len(one))
		for i := range infos {
			infos[i] = driver.VcpuInfo{Number: uint32(i), State: 1, CPUTime: t, CPU: int32(host - 1)}
			maps = append(maps, one...)
		}
		return nil
	})
	return infos, maps, err
}
