package qemu

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"govirt/conf"
	"govirt/internal/cpux86"
)

// hostCPUExtras are read once, as libvirt probes its host CPU once per
// daemon run (making a scratch KVM vCPU for the TSC frequency is not for
// every capabilities call).
var hostCPUExtras = sync.OnceValue(func() cpux86.HostExtras {
	m, err := cpux86.Get()
	if err != nil {
		return cpux86.HostExtras{}
	}
	return m.HostExtras()
})

// fillHostCPUExtras adds the host CPU's microcode, signature, invariant
// TSC and physical address width to the capabilities' <cpu>
// (virCPUx86GetHost).
func fillHostCPUExtras(cpu *conf.CapsHostCPU) {
	if a := hostArch(); a != "x86_64" && a != "i686" {
		return
	}
	if h, err := hostCPU(); err == nil && h != nil && h.HasSig {
		cpu.HasSig, cpu.SigFamily, cpu.SigModel, cpu.SigStepping = true, h.Family, h.Mdl, h.Stepping
	}
	x := hostCPUExtras()
	cpu.Microcode, cpu.TSCFreq, cpu.TSCScaling, cpu.PhysBits = x.Microcode, x.TSCFreq, x.TSCScaling, x.PhysBits
}

// hostCacheBanks is virCapabilitiesInitCaches: the level 3 (and up)
// caches of the online CPUs from sysfs, one bank per distinct cache,
// sorted by level and id.
func hostCacheBanks(sysfs string) []conf.CapsCacheBank {
	online, err := os.ReadFile(filepath.Join(sysfs, "cpu/online"))
	if err != nil {
		return nil
	}
	set, err := conf.ParseBitmap(strings.TrimSpace(string(online)))
	if err != nil {
		return nil
	}
	kernelTypes := map[string]string{"Unified": "both", "Instruction": "code", "Data": "data"}
	var out []conf.CapsCacheBank
	for _, cpu := range set {
		dir := filepath.Join(sysfs, "cpu", "cpu"+strconv.Itoa(cpu), "cache")
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "index") {
				continue
			}
			read := func(f string) (string, bool) {
				b, err := os.ReadFile(filepath.Join(dir, e.Name(), f))
				return strings.TrimSpace(string(b)), err == nil
			}
			lv, ok1 := read("level")
			level, err := strconv.Atoi(lv)
			if !ok1 || err != nil || level < 3 {
				continue
			}
			ids, ok2 := read("id")
			typ, ok3 := read("type")
			size, ok4 := read("size")
			cpus, ok5 := read("shared_cpu_list")
			id, err := strconv.Atoi(ids)
			if !ok2 || !ok3 || !ok4 || !ok5 || err != nil || kernelTypes[typ] == "" {
				continue
			}
			bytes, ok := scaledKernelSize(size)
			if !ok {
				continue
			}
			cs, err := conf.ParseBitmap(cpus)
			if err != nil {
				continue
			}
			b := conf.CapsCacheBank{ID: id, Level: level, Type: kernelTypes[typ], Size: bytes, CPUs: conf.FormatBitmap(cs)}
			if !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b conf.CapsCacheBank) int {
		if a.Level != b.Level {
			return a.Level - b.Level
		}
		return a.ID - b.ID
	})
	return out
}

// scaledKernelSize reads sysfs's "491520K" (virFileReadValueScaledInt).
func scaledKernelSize(s string) (uint64, bool) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1024, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n * mult, err == nil
}
