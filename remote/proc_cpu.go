package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

func init() {
	register(true, map[int32]procFunc{
		procs.ConnectGetCPUModelNames:      connectGetCPUModelNames,
		procs.ConnectCompareCPU:            connectCompareCPU,
		procs.ConnectBaselineCPU:           connectBaselineCPU,
		procs.ConnectCompareHypervisorCPU:  connectCompareHypervisorCPU,
		procs.ConnectBaselineHypervisorCPU: connectBaselineHypervisorCPU,
	})
}

func connectGetCPUModelNames(h *handler, body []byte) (any, error) {
	a, err := args[ConnectGetCPUModelNamesArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.CPUModelNames](h)
	if err != nil {
		return nil, err
	}
	models, err := d.GetCPUModelNames(a.Arch, a.Flags)
	if err != nil {
		return nil, err
	}
	// as libvirtd: the names only when asked for, the count always
	ret := ConnectGetCPUModelNamesRet{Ret: int32(len(models))}
	if a.NeedResults != 0 {
		ret.Models = models
		if ret.Models == nil {
			ret.Models = []string{}
		}
	}
	return ret, nil
}

func connectCompareCPU(h *handler, body []byte) (any, error) {
	a, err := args[ConnectCompareCPUArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.CPUCompare](h)
	if err != nil {
		return nil, err
	}
	r, err := d.CompareCPU(a.XML, a.Flags)
	return ConnectCompareCPURet{Result: r}, err
}

func connectBaselineCPU(h *handler, body []byte) (any, error) {
	a, err := args[ConnectBaselineCPUArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.CPUBaseline](h)
	if err != nil {
		return nil, err
	}
	s, err := d.BaselineCPU(a.XmlCPUs, a.Flags)
	return ConnectBaselineCPURet{CPU: s}, err
}

func connectCompareHypervisorCPU(h *handler, body []byte) (any, error) {
	a, err := args[ConnectCompareHypervisorCPUArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.HypervisorCPUs](h)
	if err != nil {
		return nil, err
	}
	r, err := d.CompareHypervisorCPU(optString(a.Emulator), optString(a.Arch), optString(a.Machine), optString(a.Virttype), a.XmlCPU, a.Flags)
	return ConnectCompareHypervisorCPURet{Result: r}, err
}

func connectBaselineHypervisorCPU(h *handler, body []byte) (any, error) {
	a, err := args[ConnectBaselineHypervisorCPUArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.HypervisorCPUs](h)
	if err != nil {
		return nil, err
	}
	s, err := d.BaselineHypervisorCPU(optString(a.Emulator), optString(a.Arch), optString(a.Machine), optString(a.Virttype), a.XmlCPUs, a.Flags)
	return ConnectBaselineHypervisorCPURet{CPU: s}, err
}
