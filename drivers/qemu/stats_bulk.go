package qemu

import (
	"fmt"
	"govirt/internal/cgroup"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// virDomainStatsTypes groups and the flags of virConnectGetAllDomainStats.
const (
	statsState     = 1 << 0
	statsCPUTotal  = 1 << 1
	statsBalloon   = 1 << 2
	statsVcpu      = 1 << 3
	statsInterface = 1 << 4
	statsBlock     = 1 << 5
	statsPerf      = 1 << 6
	statsIOThread  = 1 << 7

	statsSupported = statsState | statsCPUTotal | statsBalloon | statsVcpu | statsInterface | statsBlock |
		statsPerf | statsIOThread | statsDirtyRate // dirtyrate.go

	statsListMask = 0xff      // the ListAll* filter bits
	statsNoWait   = 1 << 29   // VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
	statsBacking  = 1 << 30   // VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING
	statsEnforce  = 1 << 31   // VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS
	userHZ        = 1e9 / 100 // ns per clock tick (USER_HZ is 100 on Linux)
)

// GetAllDomainStats is qemuConnectGetAllDomainStats. Every guest's record
// is built concurrently; a guest whose monitor does not answer in time
// gets its host-side and cached groups only, so one stuck QEMU never
// holds up the others.
func (c *conn) GetAllDomainStats(doms []driver.Domain, stats uint32, flags uint32) ([]driver.DomainStats, error) {
	if err := checkFlagsMask(flags, statsListMask|statsNoWait|statsBacking|statsEnforce, "qemuConnectGetAllDomainStats"); err != nil {
		return nil, err
	}
	if stats == 0 {
		stats = statsSupported
	} else if flags&statsEnforce != 0 && stats&^statsSupported != 0 {
		return nil, virerr.New(virerr.FromQemu, virerr.ErrArgumentUnsupported,
			"Stats types bits 0x%x are not supported by this daemon", stats&^statsSupported)
	}
	listFlags := flags & statsListMask
	var vms []*vm
	if len(doms) > 0 {
		for _, h := range doms {
			// Guests that vanished meanwhile are skipped, as in libvirt.
			if v, err := c.d.doms.get(h); err == nil {
				vms = append(vms, v)
			}
		}
	} else {
		vms = c.d.doms.all()
	}
	var keep []*vm
	saved := c.d.managedSaves()
	for _, v := range vms {
		v.mu.Lock()
		facts := driver.ListFacts{Active: v.active(), Persistent: v.persistent, Autostart: v.autostart,
			State: v.state, ManagedSave: saved.has(v.name)}
		v.mu.Unlock()
		if listFlags == 0 || driver.MatchList(listFlags, facts) {
			keep = append(keep, v)
		}
	}
	out := make([]driver.DomainStats, len(keep))
	var wg sync.WaitGroup
	for i, v := range keep {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = c.d.domainStats(v, stats)
		}()
	}
	wg.Wait()
	return out, nil
}

// domainStats builds one guest's record.
func (d *Driver) domainStats(v *vm, groups uint32) driver.DomainStats {
	v.mu.Lock()
	h := v.handle()
	def := v.current()
	state, reason, active := v.state, v.reason, v.active()
	pid := 0
	if v.proc != nil {
		pid = v.proc.pid
	}
	v.mu.Unlock()
	var s *statsSample
	if active && groups&(statsBalloon|statsVcpu|statsBlock|statsIOThread|statsDirtyRate) != 0 {
		s = d.sample(v)
	}
	p := &paramList{}
	if groups&statsState != 0 {
		p.add("state.state", int32(state))
		p.add("state.reason", reason)
	}
	if groups&statsCPUTotal != 0 && active {
		if g := guestCgroup(v); g != nil && g.Has(cgroup.CPUAcct) {
			// qemuDomainGetStatsCpuCgroup: the group's accounting.
			if n, err := g.CPUAcctUsage(); err == nil {
				p.add("cpu.time", n)
			}
			if u, sy, err := g.CPUAcctStat(); err == nil {
				p.add("cpu.user", u)
				p.add("cpu.system", sy)
			}
		} else if f, ok := procStatFields(pid, 0); ok && len(f) > 12 {
			ut, _ := strconv.ParseUint(f[11], 10, 64)
			st, _ := strconv.ParseUint(f[12], 10, 64)
			p.add("cpu.time", (ut+st)*userHZ)
			p.add("cpu.user", ut*userHZ)
			p.add("cpu.system", st*userHZ)
		}
	}
	if groups&statsBalloon != 0 {
		d.balloonStats(p, v, def, active, pid)
	}
	if groups&statsVcpu != 0 {
		vcpuStats(p, def, active, pid, s)
	}
	if groups&statsInterface != 0 && active {
		p.add("net.count", uint32(len(def.Devices.Interfaces)))
		for i, n := range def.Devices.Interfaces {
			if n.TargetDev == "" {
				continue
			}
			p.add(fmt.Sprintf("net.%d.name", i), n.TargetDev)
			st, err := tapStats(n)
			if err != nil {
				continue
			}
			for _, f := range []struct {
				name string
				val  int64
			}{{"rx.bytes", st.RxBytes}, {"rx.pkts", st.RxPackets}, {"rx.errs", st.RxErrs}, {"rx.drop", st.RxDrop},
				{"tx.bytes", st.TxBytes}, {"tx.pkts", st.TxPackets}, {"tx.errs", st.TxErrs}, {"tx.drop", st.TxDrop}} {
				if f.val >= 0 {
					p.add(fmt.Sprintf("net.%d.%s", i, f.name), uint64(f.val))
				}
			}
		}
	}
	if groups&statsBlock != 0 {
		blockStats(p, def, active, s)
	}
	if groups&statsDirtyRate != 0 {
		dirtyRateStats(p, s)
	}
	if groups&statsPerf != 0 && active {
		p.list = append(p.list, v.perfRead()...)
	}
	if groups&statsIOThread != 0 && active && s != nil {
		ioThreadStats(p, s.iothreads)
	}
	return driver.DomainStats{Dom: h, Params: p.list}
}

type paramList struct{ list []driver.TypedParam }

func (p *paramList) add(field string, value any) {
	p.list = append(p.list, driver.TypedParam{Field: field, Value: value})
}

// balloonStatNames are the names qemuDomainGetStatsBalloon gives the
// memory stat tags.
var balloonStatNames = map[int32]string{
	driver.MemStatSwapIn: "swap_in", driver.MemStatSwapOut: "swap_out", driver.MemStatMajorFault: "major_fault",
	driver.MemStatMinorFault: "minor_fault", driver.MemStatUnused: "unused", driver.MemStatAvailable: "available",
	driver.MemStatRSS: "rss", driver.MemStatLastUpdate: "last-update", driver.MemStatUsable: "usable",
	driver.MemStatDiskCaches: "disk_caches", driver.MemStatHugetlbAlloc: "hugetlb_pgalloc", driver.MemStatHugetlbFail: "hugetlb_pgfail",
}

func (d *Driver) balloonStats(p *paramList, v *vm, def *conf.Domain, active bool, pid int) {
	cur := def.CurrentMemory
	if b := def.Devices.MemBalloon; b == nil || b.Model == "none" || cur == 0 {
		cur = def.Memory
	}
	p.add("balloon.current", cur)
	p.add("balloon.maximum", def.Memory)
	if !active {
		return
	}
	for _, m := range d.memoryStats(v, def, pid) {
		if name, ok := balloonStatNames[m.Tag]; ok {
			p.add("balloon."+name, m.Val)
		}
	}
}

// vcpuInfo is one vCPU thread's host view (qemuDomainHelperGetVcpus).
type vcpuInfo struct {
	number       int
	tid          int
	time         uint64 // ns
	cpu          int32  // host CPU it last ran on
	wait, delay  uint64 // ns
	haveThreadID bool
}

// vcpuInfos reads each vCPU thread's times from /proc, the thread ids
// coming from the sample's query-cpus-fast. It is also what
// virDomainGetVcpus (virsh vcpuinfo) needs.
func vcpuInfos(pid int, s *statsSample, n int) []vcpuInfo {
	out := make([]vcpuInfo, n)
	for i := range out {
		out[i].number = i
		out[i].cpu = -1
	}
	if s == nil {
		return out
	}
	for _, c := range s.vcpus {
		if c.CPUIndex < 0 || c.CPUIndex >= n {
			continue
		}
		vi := &out[c.CPUIndex]
		vi.tid, vi.haveThreadID = c.ThreadID, true
		if f, ok := procStatFields(pid, c.ThreadID); ok && len(f) > 36 {
			ut, _ := strconv.ParseUint(f[11], 10, 64)
			st, _ := strconv.ParseUint(f[12], 10, 64)
			vi.time = (ut + st) * userHZ
			if cpu, err := strconv.Atoi(f[36]); err == nil {
				vi.cpu = int32(cpu)
			}
		}
		base := "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(c.ThreadID)
		if data, err := os.ReadFile(base + "/schedstat"); err == nil {
			if f := strings.Fields(string(data)); len(f) > 1 {
				vi.delay, _ = strconv.ParseUint(f[1], 10, 64)
			}
		}
		if data, err := os.ReadFile(base + "/sched"); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				k, val, ok := strings.Cut(line, ":")
				if ok && strings.HasSuffix(strings.TrimSpace(k), "wait_sum") {
					ms, _ := strconv.ParseFloat(strings.TrimSpace(val), 64)
					vi.wait = uint64(ms * 1e6)
				}
			}
		}
	}
	return out
}

func vcpuStats(p *paramList, def *conf.Domain, active bool, pid int, s *statsSample) {
	cur := def.CurrentVCPUs
	if cur == 0 {
		cur = def.VCPUs
	}
	p.add("vcpu.current", uint32(cur))
	p.add("vcpu.maximum", uint32(def.VCPUs))
	if !active {
		return
	}
	for _, vi := range vcpuInfos(pid, s, int(cur)) {
		p.add(fmt.Sprintf("vcpu.%d.state", vi.number), int32(1)) // VIR_VCPU_RUNNING
		p.add(fmt.Sprintf("vcpu.%d.time", vi.number), vi.time)
		p.add(fmt.Sprintf("vcpu.%d.wait", vi.number), vi.wait)
		p.add(fmt.Sprintf("vcpu.%d.delay", vi.number), vi.delay)
	}
}

// blockStats is qemuDomainGetStatsBlock for the top image of each disk.
func blockStats(p *paramList, def *conf.Domain, active bool, s *statsSample) {
	p.add("block.count", uint32(len(def.Devices.Disks)))
	for i, disk := range def.Devices.Disks {
		pre := fmt.Sprintf("block.%d.", i)
		p.add(pre+"name", disk.TargetDev)
		src := &disk.Source
		local := src.Type == "file" || src.Type == "block" || src.Type == "dir"
		if local && src.Path != "" {
			p.add(pre+"path", src.Path)
		}
		if !active {
			fileSizes(p, pre, src)
			continue
		}
		if e := s.frontend(disk.Alias); e != nil {
			st := e.Stats
			for _, f := range []struct {
				name string
				val  int64
			}{{"rd.reqs", st.RdOps}, {"rd.bytes", st.RdBytes}, {"rd.times", st.RdTotalTimeNs},
				{"wr.reqs", st.WrOps}, {"wr.bytes", st.WrBytes}, {"wr.times", st.WrTotalTimeNs},
				{"fl.reqs", st.FlushOps}, {"fl.times", st.FlushTotalTimeNs}} {
				p.add(pre+f.name, uint64(f.val))
			}
		}
		st, nn := s.node(src.NodeNameFormat)
		if st == nil && nn == nil {
			continue
		}
		var alloc uint64
		if st != nil {
			alloc = st.Stats.WrHighestOffset
		}
		p.add(pre+"allocation", alloc)
		if nn != nil && nn.Image.VirtualSize != 0 {
			p.add(pre+"capacity", nn.Image.VirtualSize)
		}
		if nn != nil && nn.Image.ActualSize != 0 {
			p.add(pre+"physical", nn.Image.ActualSize)
		} else if fi, err := os.Stat(src.Path); err == nil && src.Path != "" {
			p.add(pre+"physical", uint64(fi.Size()))
		}
	}
}

// fileSizes is the offline fallback (qemuDomainGetStatsOneBlockFallback)
// for raw images, whose sizes the file itself tells.
func fileSizes(p *paramList, pre string, src *conf.DiskSource) {
	if src.Path == "" || src.Type != "file" || (src.Format != "" && src.Format != "raw") {
		return
	}
	var st syscall.Stat_t
	if syscall.Stat(src.Path, &st) != nil {
		return
	}
	if a := uint64(st.Blocks) * 512; a != 0 {
		p.add(pre+"allocation", a)
	}
	if st.Size != 0 {
		p.add(pre+"capacity", uint64(st.Size))
		p.add(pre+"physical", uint64(st.Size))
	}
}
