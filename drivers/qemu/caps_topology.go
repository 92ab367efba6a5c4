package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"govirt/conf"
)

// The host's page sizes and NUMA topology in the capabilities, as
// libvirt's virCapabilitiesInitNUMA and virCapabilitiesInitPages read
// them from sysfs (virsh freepages --all finds the page sizes there).

// hostPageSizes are the system page size and every huge page size the
// kernel offers, in KiB, ascending.
func hostPageSizes() []uint64 {
	sizes := []uint64{systemPageSizeKiB}
	ents, _ := filepath.Glob("/sys/kernel/mm/hugepages/hugepages-*kB")
	for _, e := range ents {
		s := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(e), "hugepages-"), "kB")
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			sizes = append(sizes, n)
		}
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	return sizes
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// nodeMemTotalKiB is a node's MemTotal from its meminfo.
func nodeMemTotalKiB(node int) uint64 {
	b, err := os.ReadFile(filepath.Join(numaDir, fmt.Sprintf("node%d", node), "meminfo"))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[2] == "MemTotal:" {
			n, _ := strconv.ParseUint(f[3], 10, 64)
			return n
		}
	}
	return 0
}

// hostCells reads the NUMA cells; nil when the host has no NUMA sysfs.
func hostCells(sizes []uint64) []conf.CapsCell {
	var cells []conf.CapsCell
	maxCell, _ := lastCell()
	for n := 0; n <= maxCell; n++ {
		dir := filepath.Join(numaDir, fmt.Sprintf("node%d", n))
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		c := conf.CapsCell{ID: n, MemoryKiB: nodeMemTotalKiB(n)}
		// The system pages are what the huge page pools leave.
		var hugeKiB uint64
		var huge []conf.CapsPages
		for _, size := range sizes[1:] {
			cnt, _ := strconv.ParseUint(readTrim(filepath.Join(dir, "hugepages", fmt.Sprintf("hugepages-%dkB", size), "nr_hugepages")), 10, 64)
			hugeKiB += cnt * size
			huge = append(huge, conf.CapsPages{SizeKiB: size, Avail: cnt})
		}
		sys := uint64(0)
		if c.MemoryKiB > hugeKiB {
			sys = (c.MemoryKiB - hugeKiB) / systemPageSizeKiB
		}
		c.Pages = append([]conf.CapsPages{{SizeKiB: systemPageSizeKiB, Avail: sys}}, huge...)
		for _, d := range strings.Fields(readTrim(filepath.Join(dir, "distance"))) {
			v, _ := strconv.Atoi(d)
			c.Distances = append(c.Distances, v)
		}
		cpus, _ := conf.ParseBitmap(readTrim(filepath.Join(dir, "cpulist")))
		for _, id := range cpus {
			top := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/topology/", id)
			atoi := func(f string) int { v, _ := strconv.Atoi(readTrim(top + f)); return v }
			c.CPUs = append(c.CPUs, conf.CapsCPU{ID: id, SocketID: atoi("physical_package_id"), DieID: atoi("die_id"),
				CoreID: atoi("core_id"), Siblings: readTrim(top + "thread_siblings_list")})
		}
		cells = append(cells, c)
	}
	return cells
}
