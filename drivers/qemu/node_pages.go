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
	allocPagesSet     = 1 // VIR_NODE_ALLOC_PAGES_SET
	systemPageSizeKiB = 4
)

// lastCell is the highest NUMA node id of the host (0 without NUMA).
func lastCell() int {
	ents, _ := filepath.Glob(filepath.Join(numaDir, "node[0-9]*"))
	last := 0
	for _, e := range ents {
		if n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(e), "node")); err == nil && n > last {
			last = n
		}
	}
	return last
}

// hugePagePath is virNumaGetHugePageInfoPath with its errors.
func hugePagePath(node int, size uint32, file string) (string, error) {
	p := filepath.Join(numaDir, fmt.Sprintf("node%d/hugepages/hugepages-%dkB", node, size), file)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if _, err := os.Stat(filepath.Join(numaDir, fmt.Sprintf("node%d", node))); err != nil {
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
// meminfo ("Node 0 MemFree:  123 kB").
func nodeFreeBytes(node int) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(numaDir, fmt.Sprintf("node%d", node), "meminfo"))
	if err != nil {
		return meminfo("MemFree") * 1024, nil // no NUMA sysfs: the whole host
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
// last one asked for.
func cellRange(start int32, count uint32) (int, error) {
	last := lastCell()
	if int(start) > last {
		return 0, errQEMU(virerr.ErrInternalError, "start cell %d out of range (0-%d)", start, last)
	}
	return min(last, int(start)+int(count)-1), nil
}

func (c *conn) NodeGetFreePages(sizes []uint32, start int32, count uint32, flags uint32) ([]uint64, error) {
	if flags != 0 {
		return nil, errFlagsFn(flags, "qemuNodeGetFreePages")
	}
	last, err := cellRange(start, count)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for cell := int(start); cell <= last; cell++ {
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
	last, err := cellRange(start, count)
	if err != nil {
		return 0, err
	}
	n := int32(0)
	for cell := int(start); cell <= last; cell++ {
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
		return errQEMU(virerr.ErrSystemError, "Unable to write to: %s: %v", p, err)
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
