package main

import (
	"context"
	"crypto/sha1"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

var (
	scaleGuests   = flag.Int("guests", 200, "scale: tiny guests kept running per daemon")
	scaleIdle     = flag.Duration("idle", 60*time.Second, "scale: window over which the daemon's idle CPU is measured")
	scaleParallel = flag.Int("parallel-starts", 20, "scale: guests started at once, against as many bare QEMUs at once")
	scaleVirsh    = flag.Int("virsh-runs", 5, "scale: timed runs of each virsh command per round (median over all)")
	scaleStatsGap = flag.Duration("stats-gap", 2*time.Second, "scale: pause before each timed virsh domstats, longer than govirtd's 1 s stats cache")
	scaleWidth    = flag.Int("scale-start-width", 4, "scale: how many of the N guests are brought up at once (untimed)")
	floorCgroup   = flag.String("floor-cgroup", "/machine", "scale: cgroup partition the second floor's QEMUs are placed in, as the daemons place guests (\"\": no second floor)")
)

// scaleDomain is the scale suite's tiny guest: TCG whatever the host
// offers (200 KVM guests would measure the host, not the daemons), 32 MiB,
// no disk, no display. The uuid is derived from the name, so guests of
// the two daemons differ and a guest an interrupted run left behind is
// redefined in place rather than clashing.
func scaleDomain(name string) string {
	h := sha1.Sum([]byte("govirt-scale/" + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	uuid := fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	return fmt.Sprintf(`<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory unit='MiB'>32</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>`, name, uuid)
}

// scaleResult is what one daemon measured with its N guests running.
type scaleResult struct {
	rssKiB     int
	idleTicks  int64 // utime+stime over the idle window, clock ticks
	idleRunNs  int64 // the same from the threads' schedstat, in ns
	idleWindow time.Duration
	list       time.Duration // median `virsh list --all`
	listed     int
	stats      time.Duration // median `virsh domstats`
	statted    int
	parMedian  time.Duration // 20 parallel starts: median per start
	parAll     time.Duration // and until the last of them ran
	floorMed   time.Duration // the floor, next to the same N guests
	floorAll   time.Duration
	cgMed      time.Duration // the floor with each QEMU in its own group of -floor-cgroup
	cgAll      time.Duration
	parCPU     time.Duration // the daemon's own CPU (utime+stime) over one round of parallel starts
}

// benchScaleSuite brings up N tiny guests on one daemon at a time (the
// machine cannot hold both daemons' N at once with room to spare), and
// with them running measures the daemon's RSS, its idle CPU, `virsh list
// --all`, `virsh domstats` of all guests, and -parallel-starts starts at
// once against as many bare QEMUs started at once next to the same N
// guests. The guests are destroyed and undefined before the next daemon.
func benchScaleSuite(sock string, haveLibvirtd bool) error {
	type daemon struct {
		name, uri, prefix string
		pid               func() int
	}
	ds := []daemon{{"govirtd", "qemu+unix:///system?socket=" + sock, "gv", func() int { return govirtdPID }}}
	if haveLibvirtd {
		ds = append(ds, daemon{"libvirtd", "qemu+unix:///system?socket=" + *libvirtdSock, "lv", libvirtdPID})
	}
	n := *scaleGuests
	fmt.Printf("scale: %d tiny guests running (TCG, 32 MiB, no disk), one daemon's guests at a time;\n", n)
	fmt.Printf("idle CPU over %v; virsh timings median of %d runs; %d parallel starts, %d round(s) alternating with the floor\n",
		*scaleIdle, *scaleVirsh**rounds, *scaleParallel, *rounds)
	res := make([]scaleResult, len(ds))
	for i, d := range ds {
		r, err := scaleOne(d.name, d.uri, d.prefix, d.pid())
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		res[i] = r
		// Each daemon's numbers as soon as they are known, so that a
		// later failure does not lose them.
		fmt.Fprintf(os.Stderr, "bench: %s: %+v\n", d.name, r)
	}
	printScale(ds[0].name, res, n)
	return nil
}

// scaleOne measures one daemon; its guests are scale-PREFIX-i and, for
// the parallel starts, scalep-PREFIX-i.
func scaleOne(name, uri, prefix string, pid int) (scaleResult, error) {
	var r scaleResult
	if pid <= 0 {
		return r, fmt.Errorf("no pid")
	}
	c, err := client.Dial(uri)
	if err != nil {
		return r, err
	}
	defer c.Close()
	ctx := context.Background()
	n := *scaleGuests
	stale, err := staleGuests(ctx, c, "scale-"+prefix+"-", "scalep-"+prefix+"-")
	if err != nil {
		return r, err
	}
	if len(stale) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %s: removing %d guests an earlier run left behind\n", name, len(stale))
		parallelEach(len(stale), 8, func(i int) error { removeGuest(ctx, c, stale[i]); return nil })
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("scale-%s-%d", prefix, i)
	}
	// Whatever happens next, the guests go again (interrupts are handled
	// by the registry).
	defer func() {
		t0 := time.Now()
		parallelEach(n, 8, func(i int) error {
			removeGuest(ctx, c, names[i])
			untrackGuest(uri, names[i])
			return nil
		})
		fmt.Fprintf(os.Stderr, "bench: %s: %d guests removed in %v\n", name, n, time.Since(t0).Round(time.Millisecond))
	}()
	t0 := time.Now()
	err = parallelEach(n, *scaleWidth, func(i int) error {
		if err := trackGuest(uri, names[i]); err != nil {
			return err
		}
		var def remote.DomainDefineXMLRet
		if err := c.Call(ctx, procs.DomainDefineXML, remote.DomainDefineXMLArgs{XML: scaleDomain(names[i])}, &def); err != nil {
			return fmt.Errorf("define %s: %w", names[i], err)
		}
		var cr remote.DomainCreateWithFlagsRet
		if err := c.Call(ctx, procs.DomainCreateWithFlags, remote.DomainCreateWithFlagsArgs{Dom: def.Dom}, &cr); err != nil {
			return fmt.Errorf("start %s: %w", names[i], err)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "bench: %s: %d guests running after %v\n", name, n, time.Since(t0).Round(time.Millisecond))

	// Work the daemon defers after the starts is not idle time.
	waitIdle(pid)
	c0, s0 := procCPU(pid), runNs(pid)
	w0 := time.Now()
	time.Sleep(*scaleIdle)
	c1, s1 := procCPU(pid), runNs(pid)
	if pid == govirtdPID {
		// After the window, so that writing it is not counted as idle.
		profileSignal(pid, "GOVIRT_MEMPROFILE", syscall.SIGUSR2)
	}
	r.idleWindow = time.Since(w0)
	if c0 < 0 || c1 < 0 {
		return r, fmt.Errorf("cannot read /proc/%d/stat", pid)
	}
	r.idleTicks, r.idleRunNs = c1-c0, s1-s0
	if r.rssKiB, err = vmRSS(pid); err != nil {
		return r, err
	}

	var lists, stats []time.Duration
	for k := 0; k < *scaleVirsh**rounds; k++ {
		d, cnt, err := timeVirsh(uri, " running", "list", "--all")
		if err != nil {
			return r, err
		}
		lists, r.listed = append(lists, d), cnt
		// govirtd keeps what it read from each QEMU for a second; a
		// monitoring tool polling every few seconds never sees that
		// cache, so neither does the measurement.
		time.Sleep(*scaleStatsGap)
		d, cnt, err = timeVirsh(uri, "Domain: ", "domstats")
		for retry := 0; err != nil && retry < 2; retry++ {
			// The daemon is shared: another user's guest stopping in the
			// middle of the call fails it ("Unable to read from monitor")
			// without saying anything about the bench's guests.
			fmt.Fprintf(os.Stderr, "bench: %s: %v; once more\n", name, err)
			time.Sleep(*scaleStatsGap)
			d, cnt, err = timeVirsh(uri, "Domain: ", "domstats")
		}
		if err != nil {
			return r, err
		}
		stats, r.statted = append(stats, d), cnt
	}
	r.list, r.stats = medianDur(lists), medianDur(stats)

	var pm, pa, fm, fa, gm, ga, pc []time.Duration
	var cpu0 int64
	for k := 0; k < *rounds; k++ {
		if k == 0 && pid == govirtdPID {
			profileSignal(pid, "GOVIRT_TRACE", syscall.SIGUSR1)
		}
		o := startOpts{connPerStart: true, startOnly: true, onStarts: func(begin bool) {
			if begin {
				cpu0 = procCPU(pid)
			} else {
				// utime+stime, not the threads' schedstat: a start
				// runs its spawn on a thread that exits with it, and
				// /proc/PID/stat keeps the time of exited threads.
				pc = append(pc, time.Duration(procCPU(pid)-cpu0)*10*time.Millisecond)
			}
		}}
		ds, err := daemonStartsN(uri, "scalep-"+prefix, parallel, *scaleParallel, scaleDomain, o)
		if err != nil {
			return r, fmt.Errorf("parallel starts: %w", err)
		}
		if k == 0 && pid == govirtdPID {
			profileSignal(pid, "GOVIRT_TRACE", syscall.SIGUSR1)
		}
		pm, pa = append(pm, medianDur(ds)), append(pa, maxDur(ds))
		fs, err := floorStartsN(parallel, *scaleParallel, scaleDomain)
		if err != nil {
			return r, fmt.Errorf("floor: %w", err)
		}
		fm, fa = append(fm, medianDur(fs)), append(fa, maxDur(fs))
		if *floorCgroup != "" && os.Geteuid() == 0 {
			gs, err := floorStartsIn(parallel, *scaleParallel, scaleDomain, *floorCgroup)
			if err != nil {
				return r, fmt.Errorf("floor in %s: %w", *floorCgroup, err)
			}
			gm, ga = append(gm, medianDur(gs)), append(ga, maxDur(gs))
		}
	}
	r.parMedian, r.parAll, r.floorMed, r.floorAll = medianDur(pm), medianDur(pa), medianDur(fm), medianDur(fa)
	r.parCPU = medianDur(pc)
	if len(gm) > 0 {
		r.cgMed, r.cgAll = medianDur(gm), medianDur(ga)
	}
	return r, nil
}

// profileSignal asks govirtd for a heap profile (SIGUSR2) or starts/stops
// its execution trace (SIGUSR1) when the bench runs with the variable
// that turns that on in govirtd's environment (cmd/govirtd/profile.go).
func profileSignal(pid int, env string, sig syscall.Signal) {
	if os.Getenv(env) == "" {
		return
	}
	syscall.Kill(pid, sig)
	// The heap profile runs a GC first; let it finish before measuring on.
	time.Sleep(500 * time.Millisecond)
}

// staleGuests lists the guests whose names start with one of prefixes.
func staleGuests(ctx context.Context, c *client.Client, prefixes ...string) ([]string, error) {
	var l remote.ConnectListAllDomainsRet
	if err := c.Call(ctx, procs.ConnectListAllDomains, remote.ConnectListAllDomainsArgs{NeedResults: 1}, &l); err != nil {
		return nil, err
	}
	var out []string
	for _, d := range l.Domains {
		for _, p := range prefixes {
			if strings.HasPrefix(d.Name, p) {
				out = append(out, d.Name)
				break
			}
		}
	}
	return out, nil
}

// timeVirsh runs virsh against uri and returns its wall time and how many
// output lines contain count.
func timeVirsh(uri, count string, args ...string) (time.Duration, int, error) {
	t0 := time.Now()
	out, err := exec.Command("virsh", append([]string{"-c", uri}, args...)...).Output()
	d := time.Since(t0)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return 0, 0, fmt.Errorf("virsh %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return 0, 0, err
	}
	return d, strings.Count(string(out), count), nil
}

// runNs sums the time on CPU of pid's threads from their schedstat, in
// ns: utime+stime counts 10 ms ticks, too coarse for a daemon that idles
// well over a short window. Threads that exit in between are not counted.
func runNs(pid int) int64 {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var sum int64
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(data)); len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			sum += n
		}
	}
	return sum
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// printScale prints both daemons' numbers, the ratios and the issue's
// targets; res[0] is govirtd, res[1] (if any) libvirtd.
func printScale(first string, res []scaleResult, n int) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
	// clock ticks are 10 ms on Linux (USER_HZ = 100).
	cpu := func(r scaleResult) string {
		return fmt.Sprintf("%d ms (%.2f%%)", r.idleTicks*10, float64(r.idleTicks*10)/float64(r.idleWindow.Milliseconds())*100)
	}
	fmt.Printf("%-30s %16s %16s %8s %8s\n", "", "govirtd", "libvirtd", "ratio", "target")
	met := true
	row := func(label, g, l string, gv, lv, target float64) {
		rs, mark := "n/a", ""
		if len(res) > 1 && lv > 0 {
			ratio := gv / lv
			rs = fmt.Sprintf("%.2fx", ratio)
			if target > 0 && ratio > target {
				mark, met = " missed", false
			}
		} else if len(res) > 1 && target > 0 && gv > 0 {
			mark, met = " missed (libvirtd 0)", false
		}
		ts := ""
		if target > 0 {
			ts = fmt.Sprintf("<= %.1fx", target)
		}
		fmt.Printf("%-30s %16s %16s %8s %8s%s\n", label, g, l, rs, ts, mark)
	}
	g, l := res[0], scaleResult{}
	lstr := func(s string) string {
		if len(res) > 1 {
			return s
		}
		return "n/a"
	}
	if len(res) > 1 {
		l = res[1]
	}
	row("daemon RSS", fmt.Sprintf("%.1f MiB", float64(g.rssKiB)/1024), lstr(fmt.Sprintf("%.1f MiB", float64(l.rssKiB)/1024)),
		float64(g.rssKiB), float64(l.rssKiB), 0.5)
	// The target is on the threads' schedstat (ns on CPU): a daemon
	// idling well uses a few 10 ms ticks over the window, so tick counts
	// are printed for reference only.
	sched := func(r scaleResult) string { return fmt.Sprintf("%.1f ms", float64(r.idleRunNs)/1e6) }
	row(fmt.Sprintf("idle CPU over %v (schedstat)", g.idleWindow.Round(time.Second)), sched(g), lstr(sched(l)),
		float64(g.idleRunNs)/g.idleWindow.Seconds(), float64(l.idleRunNs)/max(l.idleWindow.Seconds(), 1e-9), 0.5)
	row("  same in ticks (utime+stime)", cpu(g), lstr(cpu(l)), float64(g.idleTicks), float64(l.idleTicks), 0)
	row("virsh list --all", ms(g.list), lstr(ms(l.list)), float64(g.list), float64(l.list), 0)
	row(fmt.Sprintf("virsh domstats (all %d)", n), ms(g.stats), lstr(ms(l.stats)), float64(g.stats), float64(l.stats), 0.3)
	fmt.Printf("%d parallel starts next to the %d guests, against as many bare QEMUs next to the same guests:\n", *scaleParallel, n)
	fmt.Printf("%-30s %16s %16s %8s %8s\n", "", "daemon", "floor", "ratio", "target")
	type line struct {
		what   string
		d, f   time.Duration
		target bool
	}
	for i, r := range res {
		name := first
		if i == 1 {
			name = "libvirtd"
		}
		// The target is against the floor placed as the daemons place
		// their guests (-floor-cgroup, see floorGroup): on a cgroup v1
		// host that placement alone decides most of the latency under
		// load, and no daemon keeping libvirt's layout can avoid it. The
		// floor left in the bench's own cgroup is printed beside it.
		lines := []line{{"median start", r.parMedian, r.floorMed, true}, {"all running", r.parAll, r.floorAll, true}}
		if r.cgMed > 0 {
			lines = []line{{"median start", r.parMedian, r.cgMed, true}, {"all running", r.parAll, r.cgAll, true},
				{"  median, bare floor", r.parMedian, r.floorMed, false}, {"  all, bare floor", r.parAll, r.floorAll, false}}
		}
		for _, v := range lines {
			ratio := ratio(v.d, v.f)
			ts, mark := "", ""
			if i == 0 && v.target {
				ts = "<= 1.2x"
				if ratio > 1.2 {
					mark, met = " missed", false
				}
			}
			fmt.Printf("%-30s %16s %16s %7.2fx %8s%s\n", name+" "+v.what, ms(v.d), ms(v.f), ratio, ts, mark)
		}
		if r.parCPU > 0 {
			fmt.Printf("%-30s %16s\n", name+" CPU per start", ms(r.parCPU/time.Duration(*scaleParallel)))
		}
	}
	if res[0].cgMed > 0 {
		fmt.Printf("floor: each QEMU in a group of its own below %s as the daemons' guests; bare floor: left in the bench's cgroup\n", *floorCgroup)
	}
	if g.listed != n || (len(res) > 1 && l.listed != n) || g.statted != n || (len(res) > 1 && l.statted != n) {
		fmt.Printf("note: virsh listed %d/%d running and domstats reported %d/%d guests (govirtd/libvirtd), not %d each: other guests on the daemon?\n",
			g.listed, l.listed, g.statted, l.statted, n)
	}
	if len(res) > 1 && met {
		fmt.Println("all targets met")
	}
}
