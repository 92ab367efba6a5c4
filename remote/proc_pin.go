package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	registerAPI(map[int32]procFunc{
		procs.DomainPinVcpu: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainPinVcpuArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainPinning](h)
			if err != nil {
				return nil, err
			}
			return nil, d.DomainPinVcpuFlags(drvDom(a.Dom), a.Vcpu, a.Cpumap, 0)
		},
		procs.DomainPinVcpuFlags: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainPinVcpuFlagsArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainPinning](h)
			if err != nil {
				return nil, err
			}
			return nil, d.DomainPinVcpuFlags(drvDom(a.Dom), a.Vcpu, a.Cpumap, a.Flags)
		},
		procs.DomainGetVcpuPinInfo: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainGetVcpuPinInfoArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainPinning](h)
			if err != nil {
				return nil, err
			}
			maps, n, err := d.DomainGetVcpuPinInfo(drvDom(a.Dom), a.Ncpumaps, a.Maplen, a.Flags)
			if err != nil {
				return nil, err
			}
			return DomainGetVcpuPinInfoRet{Cpumaps: maps, Num: n}, nil
		},
		procs.DomainPinEmulator: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainPinEmulatorArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainPinning](h)
			if err != nil {
				return nil, err
			}
			return nil, d.DomainPinEmulator(drvDom(a.Dom), a.Cpumap, a.Flags)
		},
		procs.DomainGetEmulatorPinInfo: func(h *handler, body []byte) (any, error) {
			a, err := args[DomainGetEmulatorPinInfoArgs](body)
			if err != nil {
				return nil, err
			}
			d, err := need[driver.DomainPinning](h)
			if err != nil {
				return nil, err
			}
			maps, n, err := d.DomainGetEmulatorPinInfo(drvDom(a.Dom), a.Maplen, a.Flags)
			if err != nil {
				return nil, err
			}
			return DomainGetEmulatorPinInfoRet{Cpumaps: maps, Ret: n}, nil
		},
	})
}
