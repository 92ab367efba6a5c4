package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

// Pinning: virsh vcpupin, emulatorpin, iothreadinfo and iothreadpin. CPU
// maps travel as libvirt's bitmaps (bit i of byte i/8 is host CPU i); the
// argument structs' generated bounds and checkCounts keep every map and
// count within the .x file's limits before a handler runs.

func init() {
	register(true, map[int32]procFunc{
		procs.DomainGetVcpuPinInfo:     domainGetVcpuPinInfo,
		procs.DomainGetEmulatorPinInfo: domainGetEmulatorPinInfo,
		procs.DomainGetIothreadInfo:    domainGetIOThreadInfo,
		procs.DomainAddIothread:        domainAddIOThread,
		procs.DomainDelIothread:        domainDelIOThread,
		procs.DomainPinVcpu:            domainPinVcpu,
		procs.DomainPinVcpuFlags:       domainPinVcpuFlags,
		procs.DomainPinEmulator:        domainPinEmulator,
		procs.DomainPinIothread:        domainPinIOThread,
	})
}

// cpusOfMap is the set of CPUs a bitmap names.
func cpusOfMap(m []byte) []int {
	var out []int
	for i, b := range m {
		for bit := 0; bit < 8; bit++ {
			if b&(1<<bit) != 0 {
				out = append(out, i*8+bit)
			}
		}
	}
	return out
}

// fillMap sets the bits of cpus that fit in m (libvirt's
// virBitmapToDataBuf drops what the caller's maplen cannot hold).
func fillMap(m []byte, cpus []int) {
	for _, c := range cpus {
		if c >= 0 && c/8 < len(m) {
			m[c/8] |= 1 << (c % 8)
		}
	}
}

// mapOf is a bitmap just long enough for cpus (virBitmapToData).
func mapOf(cpus []int) []byte {
	n := 0
	for _, c := range cpus {
		if c/8+1 > n {
			n = c/8 + 1
		}
	}
	m := make([]byte, n)
	fillMap(m, cpus)
	return m
}

func domainGetVcpuPinInfo(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetVcpuPinInfoArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainPinning](h)
	if err != nil {
		return nil, err
	}
	sets, err := d.DomainGetVcpuPinInfo(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	// As remoteDispatchDomainGetVcpuPinInfo: the reply always carries
	// ncpumaps maps, the count says how many are filled.
	maps := make([]byte, int(a.Ncpumaps)*int(a.Maplen))
	n := min(len(sets), int(a.Ncpumaps))
	for i := 0; i < n; i++ {
		fillMap(maps[i*int(a.Maplen):(i+1)*int(a.Maplen)], sets[i])
	}
	return DomainGetVcpuPinInfoRet{Cpumaps: maps, Num: int32(n)}, nil
}

func domainGetEmulatorPinInfo(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetEmulatorPinInfoArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainPinning](h)
	if err != nil {
		return nil, err
	}
	set, err := d.DomainGetEmulatorPinInfo(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	m := make([]byte, a.Maplen)
	fillMap(m, set)
	return DomainGetEmulatorPinInfoRet{Cpumaps: m, Ret: 1}, nil
}

func domainGetIOThreadInfo(h *handler, body []byte) (any, error) {
	a, err := args[DomainGetIothreadInfoArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainPinning](h)
	if err != nil {
		return nil, err
	}
	infos, err := d.DomainGetIOThreadInfo(drvDom(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	if len(infos) > RemoteIothreadInfoMax {
		infos = infos[:RemoteIothreadInfoMax]
	}
	ret := DomainGetIothreadInfoRet{Info: []DomainIothreadInfo{}, Ret: uint32(len(infos))}
	for _, i := range infos {
		ret.Info = append(ret.Info, DomainIothreadInfo{IothreadID: i.ID, Cpumap: mapOf(i.CPUs)})
	}
	return ret, nil
}

func domainPinVcpu(h *handler, body []byte) (any, error) {
	a, err := args[DomainPinVcpuArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainPinning](h)
	if err != nil {
		return nil, err
	}
	// A driver whose virDomainPinVcpu is not its PinVcpuFlags with
	// AFFECT_LIVE (the test driver's passes no flags) says so.
	if l, ok := d.(interface {
		DomainPinVcpuLegacy(driver.Domain, uint32, []int) error
	}); ok {
		return nil, l.DomainPinVcpuLegacy(drvDom(a.Dom), a.Vcpu, cpusOfMap(a.Cpumap))
	}
	return nil, d.DomainPinVcpu(drvDom(a.Dom), a.Vcpu, cpusOfMap(a.Cpumap), affectLive)
}

func domainPinVcpuFlags(h *handler, body []byte) (any, error) {
	a, err := args[DomainPinVcpuFlagsArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainPinning](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainPinVcpu(drvDom(a.Dom), a.Vcpu, cpusOfMap(a.Cpumap), a.Flags)
}

func domainPinEmulator(h *handler, body []byte) (any, error) {
	a, err := args[DomainPinEmulatorArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainPinning](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainPinEmulator(drvDom(a.Dom), cpusOfMap(a.Cpumap), a.Flags)
}

func domainPinIOThread(h *handler, body []byte) (any, error) {
	a, err := args[DomainPinIothreadArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainPinning](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainPinIOThread(drvDom(a.Dom), a.IothreadsID, cpusOfMap(a.Cpumap), a.Flags)
}

func domainAddIOThread(h *handler, body []byte) (any, error) {
	a, err := args[DomainAddIothreadArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainIOThreads](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainAddIOThread(drvDom(a.Dom), a.IothreadID, a.Flags)
}

func domainDelIOThread(h *handler, body []byte) (any, error) {
	a, err := args[DomainDelIothreadArgs](body)
	if err != nil {
		return nil, err
	}
	d, err := need[driver.DomainIOThreads](h)
	if err != nil {
		return nil, err
	}
	return nil, d.DomainDelIOThread(drvDom(a.Dom), a.IothreadID, a.Flags)
}
