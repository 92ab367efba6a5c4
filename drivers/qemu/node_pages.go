package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"govirt/virerr"
)

// The host's page pools per NUMA cell (virsh freepages, allocpages) as
// libvirt's virHostMemGetFreePages and virHostMemAllocPages read and size
// them in sysfs: the system page size from the cell's meminfo, huge pages
// from their pool's files.

const (
	numaDir           = "/sys/devices/system/node"
	hugePagesDir      = "/sys/kernel/mm/hugepages" // the host's pools, all cells together
	allocPagesSet     = 1                          // VIR_NODE_ALLOC_PAGES_SET
	systemPageSizeKiB = 4
)

// lastCell is the highest NUMA node id of the host (0 without NUMA) and
// whether the host has NUMA nodes at all (libvirt's virNumaIsAvailable).
func lastCell() (int, bool) {
	ents, _ := filepath.Glob(filepath.Join(numaDir, "node[0-9]*"))
	last, found := 0, false
	for _, e := range ents {
		if n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(e), "node")); err == nil {
			found = true
			last = max(last, n)
		}
	}
	return last, found
}

// hugePagePath is virNumaGetHugePageInfoPath with its errors: node -1
// (virsh allocpages and freepages without --cellno) names the host's
// pools, the sum over all cells.
func hugePagePath(node int, size uint32, file string) (string, error) {
	if node == -1 {
		p := filepath.Join(hugePagesDir, fmt.Sprintf("hugepages-%dkB", size), file)
		if _, err := os.Stat(p); err != nil {
			return "", errQEMU(virerr.ErrOperationFailed, "page size %d is not available", size)
		}
		return p, nil
	}
	p := filepath.Join(numaDir, fmt.Sprintf("node%d/hugepages/hugepages-%dkB", node, size), file)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if _, err := os.Stat(filepath.Join(numaDir, fmt.Sprintf("node%d", node))); node < 0 || err != nil {
		return "", errQEMU(virerr.ErrOperationFailed, "NUMA node %d is not available", node)
	}
	return "", errQEMU(virerr.ErrOperationFailed, "page size %d is not available on node %d", size, node)
}

func readCount(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, errQEMU(virerr.ErrSystemError, "Failed to open file '%s': %v", path, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, errQEMU(virerr.ErrOperationFailed, "invalid number '%s' in '%s'", string(b), path)
	}
	return n, nil
}

// nodeFreeBytes is numa_node_size64's free memory of a node, from its
// meminfo ("Node 0 MemFree:  123 kB"); node -1 is the whole host
// (virHostMemGetInfo).
func nodeFreeBytes(node int) (uint64, error) {
	if node == -1 {
		return meminfo("MemFree") * 1024, nil
	}
	b, err := os.ReadFile(filepath.Join(numaDir, fmt.Sprintf("node%d", node), "meminfo"))
	if err != nil {
		// numa_node_size64 fails without a message libvirt could report.
		return 0, errQEMU(virerr.ErrInternalError, "%s", "An error occurred, but the cause is unknown")
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[2] == "MemFree:" {
			n, _ := strconv.ParseUint(f[3], 10, 64)
			return n * 1024, nil
		}
	}
	return 0, errQEMU(virerr.ErrInternalError, "no MemFree for NUMA node %d", node)
}

// cellRange checks startCell against the host's cells and returns the
// first and last one asked for. As libvirt, a host without NUMA asked for
// its one fake cell 0 gets the host-wide pools (cell -1).
func cellRange(start int32, count uint32) (int, int, error) {
	last, numa := lastCell()
	first := int(start)
	if !numa && last == 0 && start == 0 && count == 1 {
		first = -1
	}
	if first > last {
		return 0, 0, errQEMU(virerr.ErrInternalError, "start cell %d out of range (0-%d)", first, last)
	}
	return first, min(last, first+int(int32(count))-1), nil // libvirt casts the count to int
}

func (c *conn) NodeGetFreePages(sizes []uint32, start int32, count uint32, flags uint32) ([]uint64, error) {
	if flags != 0 {
		return nil, errFlagsFn(flags, "qemuNodeGetFreePages")
	}
	first, last, err := cellRange(start, count)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for cell := first; cell <= last; cell++ {
		for _, size := range sizes {
			if size == systemPageSizeKiB {
				free, err := nodeFreeBytes(cell)
				if err != nil {
					return nil, err
				}
				out = append(out, free/(systemPageSizeKiB*1024))
				continue
			}
			p, err := hugePagePath(cell, size, "free_hugepages")
			if err != nil {
				return nil, err
			}
			n, err := readCount(p)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, errQEMU(virerr.ErrInternalError, "%s", "no suitable info found")
	}
	return out, nil
}

func (c *conn) NodeAllocPages(sizes []uint32, counts []uint64, start int32, count uint32, flags uint32) (int32, error) {
	if flags&^allocPagesSet != 0 {
		return 0, errFlagsFn(flags&^allocPagesSet, "qemuNodeAllocPages")
	}
	add := flags&allocPagesSet == 0
	first, last, err := cellRange(start, count)
	if err != nil {
		return 0, err
	}
	n := int32(0)
	for cell := first; cell <= last; cell++ {
		for i, size := range sizes {
			if err := setPagePool(cell, size, counts[i], add); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}

// setPagePool is virNumaSetPagePoolSize.
func setPagePool(node int, size uint32, count uint64, add bool) error {
	if size == systemPageSizeKiB {
		return errQEMU(virerr.ErrOperationUnsupported, "%s", "system pages pool can't be modified")
	}
	p, err := hugePagePath(node, size, "nr_hugepages")
	if err != nil {
		return err
	}
	cur, err := readCount(p)
	if err != nil {
		return err
	}
	if add {
		if count == 0 {
			return nil
		}
		count += cur
	} else if cur == count {
		return nil
	}
	if err := os.WriteFile(p, []byte(strconv.FormatUint(count, 10)), 0); err != nil {
		return errQEMU(virerr.ErrSystemError, "Unable to write to: %s: %s", p, sysErrText(err))
	}
	got, err := readCount(p)
	if err != nil {
		return err
	}
	if got != count {
		return errQEMU(virerr.ErrOperationFailed, "Unable to allocate %d pages. Allocated only %d", count, got)
	}
	return nil
}
