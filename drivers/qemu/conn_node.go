package qemu

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"govirt/driver"
	"govirt/virerr"
)

// Host counters as libvirt's virHostCPUGetStats and virHostMemGetStats
// read them on Linux.

// procStatPath and sysNodePath are variables so tests can point them at
// fixtures.
var (
	procStatPath = "/proc/stat"
	procMeminfo  = "/proc/meminfo"
	sysNodePath  = "/sys/devices/system/node"
)

// tickNS is libvirt's TICK_TO_NSEC: /proc/stat counts USER_HZ ticks,
// which is 100 on every Linux ABI Go runs on.
const tickNS = 1000000000 / 100

func errNone(code virerr.Code, format string, a ...any) error {
	return virerr.New(virerr.FromNone, code, format, a...)
}

func (c *conn) NodeGetCPUStats(cpuNum, nparams int32, flags uint32) ([]driver.NodeStat, int32, error) {
	if flags != 0 {
		return nil, 0, errNone(virerr.ErrInvalidArg, "unsupported flags (0x%x) in function virHostCPUGetStats", flags)
	}
	f, err := os.Open(procStatPath)
	if err != nil {
		return nil, 0, errNone(virerr.ErrSystemError, "cannot open %s: %v", procStatPath, err)
	}
	defer f.Close()
	const n = 4 // LINUX_NB_CPU_STATS
	if nparams == 0 {
		return nil, n, nil
	}
	if nparams != n {
		return nil, 0, errNone(virerr.ErrInvalidArg, "nparams in virHostCPUGetStatsLinux must be equal to %d", n)
	}
	header := "cpu "
	if cpuNum != -1 {
		header = fmt.Sprintf("cpu%d ", cpuNum)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, header) {
			continue
		}
		fs := strings.Fields(line)[1:]
		if len(fs) < 4 {
			continue
		}
		var v [10]uint64
		for i := 0; i < len(fs) && i < 10; i++ {
			v[i], _ = strconv.ParseUint(fs[i], 10, 64)
		}
		usr, ni, sys, idle, iowait, irq, softirq := v[0], v[1], v[2], v[3], v[4], v[5], v[6]
		return []driver.NodeStat{
			{Field: "kernel", Value: (sys + irq + softirq) * tickNS},
			{Field: "user", Value: (usr + ni) * tickNS},
			{Field: "idle", Value: idle * tickNS},
			{Field: "iowait", Value: iowait * tickNS},
		}, n, nil
	}
	return nil, 0, errNone(virerr.ErrInvalidArg, "Invalid cpuNum in virHostCPUGetStatsLinux")
}

func (c *conn) NodeGetMemoryStats(cellNum, nparams int32, flags uint32) ([]driver.NodeStat, int32, error) {
	if flags != 0 {
		return nil, 0, errNone(virerr.ErrInvalidArg, "unsupported flags (0x%x) in function virHostMemGetStats", flags)
	}
	numa := numaAvailable()
	if !numa && cellNum == 0 {
		cellNum = -1
	}
	path := procMeminfo
	if cellNum != -1 {
		max := numaMaxNode()
		if cellNum > max {
			return nil, 0, errNone(virerr.ErrInvalidArg, "cellNum in virHostMemGetStats must be less than or equal to %d", max)
		}
		path = fmt.Sprintf("%s/node%d/meminfo", sysNodePath, cellNum)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, errNone(virerr.ErrSystemError, "cannot open %s: %v", path, err)
	}
	defer f.Close()
	n := int32(4) // LINUX_NB_MEMORY_STATS_ALL
	if cellNum != -1 {
		n = 2 // LINUX_NB_MEMORY_STATS_CELL
	}
	if nparams == 0 {
		return nil, n, nil
	}
	if nparams != n {
		return nil, 0, errNone(virerr.ErrInvalidArg, "nparams in virHostMemGetStatsLinux must be %d", n)
	}
	fields := map[string]string{"MemTotal:": "total", "MemFree:": "free", "Buffers:": "buffers", "Cached:": "cached"}
	var out []driver.NodeStat
	sc := bufio.NewScanner(f)
	for sc.Scan() && int32(len(out)) < n {
		line := sc.Text()
		if strings.HasPrefix(line, "Node ") {
			// "Node 0 MemTotal: ... kB" in a node's meminfo.
			fs := strings.SplitN(line, " ", 3)
			if len(fs) < 3 {
				return nil, 0, errNone(virerr.ErrInternalError, "no prefix found")
			}
			line = fs[2]
		}
		fs := strings.Fields(line)
		if len(fs) < 3 || fs[2] != "kB" {
			continue
		}
		name, ok := fields[fs[0]]
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(fs[1], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, driver.NodeStat{Field: name, Value: v})
	}
	if len(out) == 0 {
		return nil, 0, errNone(virerr.ErrInternalError, "no available memory line found")
	}
	return out, n, nil
}

// numaAvailable is virNumaIsAvailable for a libvirt built with numactl
// (Debian's): the kernel exposes NUMA nodes.
func numaAvailable() bool {
	_, err := os.Stat(sysNodePath + "/node0")
	return err == nil
}

// numaMaxNode is the highest node number of /sys/devices/system/node/online.
func numaMaxNode() int32 {
	data, err := os.ReadFile(sysNodePath + "/online")
	if err != nil {
		return 0
	}
	s := strings.TrimSpace(string(data))
	if i := strings.LastIndexAny(s, ",-"); i >= 0 {
		s = s[i+1:]
	}
	n, _ := strconv.Atoi(s)
	return int32(n)
}
