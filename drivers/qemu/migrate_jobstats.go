package qemu

import (
	"context"
	"strings"
	"time"

	"govirt/driver"
)

// domjobinfo of a migration (and of a save, which QEMU runs as a
// migration to a file), with the fields and order of libvirt 9.0's
// qemuDomainMigrationJobDataToParams, read from query-migrate as
// qemuMonitorJSONGetMigrationStatsReply reads it; the copied disks'
// figures come from the NBD mirrors' block jobs. Once a migration
// completed, its statistics stay for domjobinfo --completed, on the
// source (persistent guests, whose definition stays) and on the
// destination.

// virDomainGetJobStatsFlags.
const (
	jobStatsCompleted     = 1 << 0
	jobStatsKeepCompleted = 1 << 1
)

// virDomainJobType.
const (
	jobTypeNone      = 0
	jobTypeUnbounded = 2
	jobTypeCompleted = 3
)

// migStats is the part of query-migrate's reply libvirt reads.
type migStats struct {
	Status           string  `json:"status"`
	TotalTime        *uint64 `json:"total-time"`
	Downtime         *uint64 `json:"downtime"`
	ExpectedDowntime *uint64 `json:"expected-downtime"`
	SetupTime        *uint64 `json:"setup-time"`
	CPUThrottle      int32   `json:"cpu-throttle-percentage"`
	RAM              *struct {
		Transferred      uint64  `json:"transferred"`
		Remaining        uint64  `json:"remaining"`
		Total            uint64  `json:"total"`
		Duplicate        *uint64 `json:"duplicate"`
		Normal           uint64  `json:"normal"`
		NormalBytes      uint64  `json:"normal-bytes"`
		DirtyPagesRate   uint64  `json:"dirty-pages-rate"`
		PageSize         uint64  `json:"page-size"`
		DirtySyncCount   uint64  `json:"dirty-sync-count"`
		PostcopyRequests uint64  `json:"postcopy-requests"`
		Mbps             float64 `json:"mbps"`
	} `json:"ram"`
	Disk *struct {
		Transferred uint64  `json:"transferred"`
		Remaining   uint64  `json:"remaining"`
		Total       uint64  `json:"total"`
		Mbps        float64 `json:"mbps"`
	} `json:"disk"`
	XBZRLE *struct {
		CacheSize uint64 `json:"cache-size"`
		Bytes     uint64 `json:"bytes"`
		Pages     uint64 `json:"pages"`
		CacheMiss uint64 `json:"cache-miss"`
		Overflow  uint64 `json:"overflow"`
	} `json:"xbzrle-cache"`
}

// mirrorStats sums the storage migration's mirror jobs.
type mirrorStats struct{ total, transferred uint64 }

func fetchMigStats(ctx context.Context, mon monitor) (migStats, mirrorStats) {
	var st migStats
	var ms mirrorStats
	if mon == nil {
		return st, ms
	}
	_ = mon.Execute(ctx, "query-migrate", nil, &st)
	var jobs []struct {
		Device string `json:"device"`
		Len    uint64 `json:"len"`
		Offset uint64 `json:"offset"`
	}
	if mon.Execute(ctx, "query-block-jobs", nil, &jobs) == nil {
		for _, j := range jobs {
			if strings.HasPrefix(j.Device, mirrorJobPrefix) {
				ms.total += j.Len
				ms.transferred += j.Offset
			}
		}
	}
	return st, ms
}

// migJobParams is qemuDomainMigrationJobDataToParams; memOnly is a save
// (libvirt's SAVEDUMP statistics: no disk or compression figures).
func migJobParams(op int32, elapsed uint64, st migStats, ms mirrorStats, memOnly bool) []driver.TypedParam {
	var p []driver.TypedParam
	add := func(name string, v any) { p = append(p, driver.TypedParam{Field: name, Value: v}) }
	add("operation", op)
	add("time_elapsed", elapsed)
	switch {
	case st.Status == "completed" && st.Downtime != nil:
		add("downtime", *st.Downtime)
	case st.Status != "completed" && st.ExpectedDowntime != nil:
		add("downtime", *st.ExpectedDowntime)
	}
	if st.SetupTime != nil {
		add("setup_time", *st.SetupTime)
	}
	var ramTotal, ramDone, ramLeft uint64
	if st.RAM != nil {
		ramTotal, ramDone, ramLeft = st.RAM.Total, st.RAM.Transferred, st.RAM.Remaining
	}
	var diskTotal, diskDone, diskLeft uint64
	if st.Disk != nil {
		diskTotal, diskDone, diskLeft = st.Disk.Total, st.Disk.Transferred, st.Disk.Remaining
	}
	mirrorLeft := ms.total - ms.transferred
	add("data_total", ramTotal+diskTotal+ms.total)
	add("data_processed", ramDone+diskDone+ms.transferred)
	add("data_remaining", ramLeft+diskLeft+mirrorLeft)
	add("memory_total", ramTotal)
	add("memory_processed", ramDone)
	add("memory_remaining", ramLeft)
	if r := st.RAM; r != nil {
		if r.Mbps > 0 {
			add("memory_bps", uint64(r.Mbps*(1000*1000/8)))
		}
		if r.Duplicate != nil {
			add("memory_constant", *r.Duplicate)
			add("memory_normal", r.Normal)
			add("memory_normal_bytes", r.NormalBytes)
		}
	}
	var dirty, iter, reqs, page uint64
	if r := st.RAM; r != nil {
		dirty, iter, reqs, page = r.DirtyPagesRate, r.DirtySyncCount, r.PostcopyRequests, r.PageSize
	}
	add("memory_dirty_rate", dirty)
	add("memory_iteration", iter)
	add("memory_postcopy_requests", reqs)
	if page > 0 {
		add("memory_page_size", page)
	}
	if memOnly {
		return p
	}
	add("disk_total", diskTotal+ms.total)
	add("disk_processed", diskDone+ms.transferred)
	add("disk_remaining", diskLeft+mirrorLeft)
	if st.Disk != nil && st.Disk.Mbps > 0 {
		add("disk_bps", uint64(st.Disk.Mbps*(1000*1000/8)))
	}
	if x := st.XBZRLE; x != nil {
		add("compression_cache", x.CacheSize)
		add("compression_bytes", x.Bytes)
		add("compression_pages", x.Pages)
		add("compression_cache_misses", x.CacheMiss)
		add("compression_overflow", x.Overflow)
	}
	if st.CPUThrottle != 0 {
		add("auto_converge_throttle", st.CPUThrottle)
	}
	return p
}

// migrationJobStats answers domjobinfo for a running migration or save.
func migrationJobStats(mon monitor, k asyncKind, started time.Time) []driver.TypedParam {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, ms := fetchMigStats(ctx, mon)
	return migJobParams(jobOperation(k), uint64(time.Since(started).Milliseconds()), st, ms, k == asyncSave)
}

// completedJob is a finished migration's statistics.
type completedJob struct {
	params []driver.TypedParam
}

// recordCompleted keeps the statistics of v's migration, which just
// completed, for domjobinfo --completed.
func (d *Driver) recordCompleted(v *vm, mon monitor, k asyncKind) {
	d.keepCompleted(v, d.completedParams(v, mon, k))
}

// completedParams are the figures of v's migration, which just completed.
func (d *Driver) completedParams(v *vm, mon monitor, k asyncKind) []driver.TypedParam {
	_, _, _, started := v.job.asyncInfo()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	elapsed := uint64(time.Since(started).Milliseconds())
	if k == asyncMigrationIn {
		// QEMU's incoming side has no figures; they come from the
		// source's cookie (its <statistics>) when it sent them.
		return []driver.TypedParam{{Field: "operation", Value: jobOperation(k)}, {Field: "time_elapsed", Value: elapsed}}
	}
	st, ms := fetchMigStats(ctx, mon)
	return migJobParams(jobOperation(k), elapsed, st, ms, false)
}

func (d *Driver) keepCompleted(v *vm, p []driver.TypedParam) {
	v.mu.Lock()
	v.ext.jobDone = &completedJob{params: p}
	v.mu.Unlock()
}

// completedJobStats is domjobinfo --completed: the last completed job's
// statistics, forgotten once read unless --keep-completed.
func (c *conn) completedJobStats(h driver.Domain, flags uint32) (int32, []driver.TypedParam, error) {
	v, err := c.d.doms.get(h)
	if err != nil {
		return 0, nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	j := v.ext.jobDone
	if j == nil {
		return jobTypeNone, nil, nil
	}
	if flags&jobStatsKeepCompleted == 0 {
		v.ext.jobDone = nil
	}
	return jobTypeCompleted, append([]driver.TypedParam(nil), j.params...), nil
}
