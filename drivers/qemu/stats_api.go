package qemu

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// The per-device statistics APIs (domblkstat, domifstat, dommemstat).
// They read the cached sample (stats_sample.go) and host files only, and
// never take the job, so they answer while a long operation runs.

// runningLive returns the live definition of a running guest, or libvirt's
// "domain is not running".
func (c *conn) runningLive(h driver.Domain) (*vm, *conf.Domain, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return nil, nil, err
	}
	v.mu.Lock()
	live, active := v.live, v.active()
	v.mu.Unlock()
	if !active || live == nil {
		return nil, nil, errNotRunning()
	}
	return v, live, nil
}

// diskByName is virDomainDiskByName: a target name, or a source path
// that names exactly one disk.
func diskByName(def *conf.Domain, name string) *conf.Disk {
	var found *conf.Disk
	n := 0
	for _, d := range def.Devices.Disks {
		if d.TargetDev == name {
			return d
		}
		if d.Source.Path != "" && d.Source.Path == name {
			found = d
			n++
		}
	}
	if n == 1 {
		return found
	}
	return nil
}

// blockTotals is qemuBlockStats for one disk, or summed over all disks
// when path is empty.
type blockTotals struct {
	rdReq, rdBytes, wrReq, wrBytes, flReq, rdTimes, wrTimes, flTimes int64
}

func (c *conn) blockTotals(h driver.Domain, path string) (blockTotals, error) {
	var t blockTotals
	v, live, err := c.runningLive(h)
	if err != nil {
		return t, err
	}
	var disk *conf.Disk
	if path != "" {
		if disk = diskByName(live, path); disk == nil {
			return t, errQEMU(virerr.ErrInvalidArg, "invalid path: %s", path)
		}
		if disk.Alias == "" {
			return t, errQEMU(virerr.ErrInternalError, "missing disk device alias name for %s", disk.TargetDev)
		}
	}
	s := c.d.sample(v)
	if s == nil {
		return t, errQEMU(virerr.ErrOperationFailed, "cannot get block statistics of domain '%s': monitor does not answer", h.Name)
	}
	add := func(e *blockStatEntry) {
		st := e.Stats
		t.rdReq += st.RdOps
		t.rdBytes += st.RdBytes
		t.wrReq += st.WrOps
		t.wrBytes += st.WrBytes
		t.flReq += st.FlushOps
		t.rdTimes += st.RdTotalTimeNs
		t.wrTimes += st.WrTotalTimeNs
		t.flTimes += st.FlushTotalTimeNs
	}
	if disk != nil {
		e := s.frontend(disk.Alias)
		if e == nil {
			return t, errQEMU(virerr.ErrInternalError, "cannot find statistics for device '%s'", disk.Alias)
		}
		add(e)
		return t, nil
	}
	for i := range s.devices {
		add(&s.devices[i])
	}
	return t, nil
}

func (c *conn) DomainBlockStats(h driver.Domain, path string) (driver.BlockStats, error) {
	t, err := c.blockTotals(h, path)
	if err != nil {
		return driver.BlockStats{}, err
	}
	// QEMU has no error counter; libvirt reports -1 (unsupported).
	return driver.BlockStats{RdReq: t.rdReq, RdBytes: t.rdBytes, WrReq: t.wrReq, WrBytes: t.wrBytes, Errs: -1}, nil
}

// DomainBlockStatsFlags returns the fields in qemuDomainBlockStatsFlags'
// order.
func (c *conn) DomainBlockStatsFlags(h driver.Domain, path string, flags uint32) ([]driver.TypedParam, error) {
	if err := checkFlagsMask(flags, 1<<2, "qemuDomainBlockStatsFlags"); err != nil { // TYPED_PARAM_STRING_OKAY
		return nil, err
	}
	t, err := c.blockTotals(h, path)
	if err != nil {
		return nil, err
	}
	return []driver.TypedParam{
		{Field: "wr_bytes", Value: t.wrBytes},
		{Field: "wr_operations", Value: t.wrReq},
		{Field: "rd_bytes", Value: t.rdBytes},
		{Field: "rd_operations", Value: t.rdReq},
		{Field: "flush_operations", Value: t.flReq},
		{Field: "wr_total_times", Value: t.wrTimes},
		{Field: "rd_total_times", Value: t.rdTimes},
		{Field: "flush_total_times", Value: t.flTimes},
	}, nil
}

// findNetByDevice is virDomainNetFind: by MAC when dev parses as one,
// else by host interface name.
func findNetByDevice(def *conf.Domain, dev string) (*conf.Interface, error) {
	if _, err := net.ParseMAC(dev); err == nil {
		for _, n := range def.Devices.Interfaces {
			if sameMAC(n.MAC, dev) {
				return n, nil
			}
		}
	} else {
		for _, n := range def.Devices.Interfaces {
			if n.TargetDev != "" && n.TargetDev == dev {
				return n, nil
			}
		}
	}
	return nil, errQEMU(virerr.ErrInvalidArg, "'%s' is not a known interface", dev)
}

func (c *conn) DomainInterfaceStats(h driver.Domain, dev string) (driver.InterfaceStats, error) {
	_, live, err := c.runningLive(h)
	if err != nil {
		return driver.InterfaceStats{}, err
	}
	n, err := findNetByDevice(live, dev)
	if err != nil {
		return driver.InterfaceStats{}, err
	}
	return tapStats(n)
}

// tapStats reads the host side of a tap from /proc/net/dev. What the host
// receives the guest sent, so libvirt swaps the directions for every type
// but macvtap (virDomainNetTypeSharesHostView). User-mode networking has
// no host interface, and libvirt fails the same way for it.
func tapStats(n *conf.Interface) (driver.InterfaceStats, error) {
	var st driver.InterfaceStats
	if n.TargetDev == "" {
		return st, errQEMU(virerr.ErrInternalError, "Interface name not provided")
	}
	f, err := os.Open("/proc/net/dev")
	if err != nil {
		return st, virerr.New(virerr.FromQemu, virerr.ErrSystemError, "Could not open /proc/net/dev: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) != n.TargetDev {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) < 12 {
			break
		}
		num := func(i int) int64 { v, _ := strconv.ParseInt(fs[i], 10, 64); return v }
		rx := [4]int64{num(0), num(1), num(2), num(3)}
		tx := [4]int64{num(8), num(9), num(10), num(11)}
		if n.Type != "direct" {
			rx, tx = tx, rx
		}
		st = driver.InterfaceStats{RxBytes: rx[0], RxPackets: rx[1], RxErrs: rx[2], RxDrop: rx[3],
			TxBytes: tx[0], TxPackets: tx[1], TxErrs: tx[2], TxDrop: tx[3]}
		return st, nil
	}
	return st, errQEMU(virerr.ErrInternalError, "/proc/net/dev: Interface not found")
}

// balloonStatKeys are QEMU's guest-stats keys in the order libvirt reads
// them, with their tag and divisor (bytes to KiB).
var balloonStatKeys = []struct {
	key string
	tag int32
	div int64
}{
	{"stat-swap-in", driver.MemStatSwapIn, 1024},
	{"stat-swap-out", driver.MemStatSwapOut, 1024},
	{"stat-major-faults", driver.MemStatMajorFault, 1},
	{"stat-minor-faults", driver.MemStatMinorFault, 1},
	{"stat-free-memory", driver.MemStatUnused, 1024},
	{"stat-total-memory", driver.MemStatAvailable, 1024},
	{"stat-available-memory", driver.MemStatUsable, 1024},
	{"last-update", driver.MemStatLastUpdate, 1},
	{"stat-disk-caches", driver.MemStatDiskCaches, 1024},
	{"stat-htlb-pgalloc", driver.MemStatHugetlbAlloc, 1},
	{"stat-htlb-pgfail", driver.MemStatHugetlbFail, 1},
}

// memoryStats is qemuDomainMemoryStatsInternal: the balloon's actual size
// and the guest's own statistics (values never collected are left out),
// then QEMU's resident set size.
func (d *Driver) memoryStats(v *vm, live *conf.Domain, pid int) []driver.MemoryStat {
	var out []driver.MemoryStat
	if b := live.Devices.MemBalloon; b != nil && b.Model != "none" {
		s := d.sample(v)
		if s != nil && s.balloonKiB != nil {
			out = append(out, driver.MemoryStat{Tag: driver.MemStatActualBalloon, Val: *s.balloonKiB})
		}
		if s != nil && s.guestStats != nil {
			for _, k := range balloonStatKeys {
				val, ok := s.guestStats.Stats[k.key]
				if k.key == "last-update" {
					val, ok = s.guestStats.LastUpdate, true
				}
				if ok && val != -1 {
					out = append(out, driver.MemoryStat{Tag: k.tag, Val: uint64(val / k.div)})
				}
			}
		}
	}
	if rss, ok := procRSS(pid); ok {
		out = append(out, driver.MemoryStat{Tag: driver.MemStatRSS, Val: rss})
	}
	return out
}

func (c *conn) DomainMemoryStats(h driver.Domain, max uint32, flags uint32) ([]driver.MemoryStat, error) {
	if err := checkFlagsMask(flags, 0, "qemuDomainMemoryStats"); err != nil {
		return nil, err
	}
	v, live, err := c.runningLive(h)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	pid := 0
	if v.proc != nil {
		pid = v.proc.pid
	}
	v.mu.Unlock()
	out := c.d.memoryStats(v, live, pid)
	if uint32(len(out)) > max {
		out = out[:max]
	}
	return out, nil
}

// procRSS is the resident set of pid in KiB (/proc/PID/stat field 24).
func procRSS(pid int) (uint64, bool) {
	f, ok := procStatFields(pid, 0)
	if !ok || len(f) < 22 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[21], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()) / 1024, true
}

// procStatFields returns the fields of /proc/PID/stat (or of task TID
// when tid > 0) after the command name: index 0 is the state (field 3).
func procStatFields(pid, tid int) ([]string, bool) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	if tid > 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) + "/stat"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(s[i+1:]), true
}
