package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

var (
	frozenGuests  = flag.Int("frozen-guests", 10, "frozen: running guests besides the frozen one")
	frozenWindow  = flag.Duration("frozen-window", 10*time.Second, "frozen: how long reads are timed, calm and then frozen")
	frozenReaders = flag.Int("frozen-readers", 4, "frozen: connections reading at once")
)

// The frozen suite is issue 11's "SIGSTOP QEMU during a sync job: reads
// on all guests stay under 10 ms p99" as a number: one guest's QEMU is
// stopped (SIGSTOP) while a suspend waits on its monitor, and the reads
// a monitoring tool or virt-manager makes all the time (list of all
// guests, dominfo and dumpxml of each, the frozen one included) are timed
// through the Go client from -frozen-readers connections, first with
// nothing frozen (calm) and then frozen, for -frozen-window each. The
// integration test (TestFaultSigstop*) only checks that no read waits on
// the frozen monitor; the latency belongs here, where both daemons run
// the same reads on the same machine.

// readOps are the timed reads, in the order they are printed.
var readOps = []string{"list", "dominfo", "dumpxml"}

// frozenResult is one daemon's read latencies per op and phase.
type frozenResult struct {
	calm, frozen map[string][]time.Duration
	suspendErr   error         // the suspend's outcome, after SIGCONT
	suspendTook  time.Duration // from its call to its reply
}

// stopped holds the QEMUs the bench stopped, so that an error or an
// interrupt continues them (cleanupAll calls thawAll).
var stopped = struct {
	sync.Mutex
	pids map[int]bool
}{pids: map[int]bool{}}

func freeze(pid int) error {
	stopped.Lock()
	defer stopped.Unlock()
	stopped.pids[pid] = true
	return syscall.Kill(pid, syscall.SIGSTOP)
}

func thaw(pid int) {
	stopped.Lock()
	defer stopped.Unlock()
	syscall.Kill(pid, syscall.SIGCONT)
	delete(stopped.pids, pid)
}

// thawAll continues every QEMU the bench stopped.
func thawAll() {
	stopped.Lock()
	defer stopped.Unlock()
	for pid := range stopped.pids {
		syscall.Kill(pid, syscall.SIGCONT)
	}
	stopped.pids = map[int]bool{}
}

func benchFrozenSuite(sock string, haveLibvirtd bool) error {
	type daemon struct{ name, uri, prefix string }
	ds := []daemon{{"govirtd", "qemu+unix:///system?socket=" + sock, "gv"}}
	if haveLibvirtd {
		ds = append(ds, daemon{"libvirtd", "qemu+unix:///system?socket=" + *libvirtdSock, "lv"})
	}
	fmt.Printf("frozen: %d tiny guests running plus one whose QEMU is SIGSTOPped while a suspend waits on its monitor;\n", *frozenGuests)
	fmt.Printf("%d connections read (list --all, dominfo and dumpxml of every guest) for %v calm, then %v frozen\n",
		*frozenReaders, *frozenWindow, *frozenWindow)
	res := make([]frozenResult, len(ds))
	for i, d := range ds {
		r, err := frozenOne(d.name, d.uri, d.prefix)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		res[i] = r
	}
	printFrozen(res)
	return nil
}

func frozenOne(name, uri, prefix string) (frozenResult, error) {
	r := frozenResult{calm: map[string][]time.Duration{}, frozen: map[string][]time.Duration{}}
	ctx := context.Background()
	base := "frozen-" + prefix + "-"
	c, err := dialClean(ctx, uri, base)
	if err != nil {
		return r, err
	}
	defer c.Close()
	n := *frozenGuests + 1
	names := make([]string, n)
	doms := make([]remote.NonnullDomain, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s%d", base, i)
	}
	defer func() {
		parallelEach(n, 8, func(i int) error {
			removeGuest(ctx, c, names[i])
			untrackGuest(uri, names[i])
			return nil
		})
	}()
	err = parallelEach(n, 4, func(i int) error {
		if err := trackGuest(uri, names[i]); err != nil {
			return err
		}
		var def remote.DomainDefineXMLRet
		if err := c.Call(ctx, procs.DomainDefineXML, remote.DomainDefineXMLArgs{XML: scaleDomain(names[i])}, &def); err != nil {
			return fmt.Errorf("define %s: %w", names[i], err)
		}
		if err := c.Call(ctx, procs.DomainCreate, remote.DomainCreateArgs{Dom: def.Dom}, nil); err != nil {
			return fmt.Errorf("start %s: %w", names[i], err)
		}
		doms[i] = def.Dom
		return nil
	})
	if err != nil {
		return r, err
	}
	pid := qemuPidOf(names[0])
	if pid <= 0 {
		return r, fmt.Errorf("no QEMU process found for %s", names[0])
	}
	readers := make([]*client.Client, *frozenReaders)
	for i := range readers {
		if readers[i], err = client.Dial(uri); err != nil {
			return r, err
		}
		defer readers[i].Close()
	}
	waitIdle(daemonPidFor(name))
	if err := timeReads(readers, doms, *frozenWindow, r.calm); err != nil {
		return r, fmt.Errorf("calm reads: %w", err)
	}

	// The sync job on its own connection: a suspend that sends "stop" to
	// a QEMU that cannot answer, and holds the guest's job meanwhile.
	jc, err := client.Dial(uri)
	if err != nil {
		return r, err
	}
	defer jc.Close()
	if err := freeze(pid); err != nil {
		return r, fmt.Errorf("SIGSTOP %d: %w", pid, err)
	}
	defer thaw(pid)
	done := make(chan struct{})
	t0 := time.Now()
	go func() {
		defer close(done)
		r.suspendErr = jc.Call(ctx, procs.DomainSuspend, remote.DomainSuspendArgs{Dom: doms[0]}, nil)
		r.suspendTook = time.Since(t0)
	}()
	// Let the suspend reach the monitor before timing.
	time.Sleep(500 * time.Millisecond)
	rerr := timeReads(readers, doms, *frozenWindow, r.frozen)
	thaw(pid)
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return r, fmt.Errorf("the suspend did not return within 2 minutes of SIGCONT")
	}
	if rerr != nil {
		return r, fmt.Errorf("frozen reads: %w", rerr)
	}
	fmt.Fprintf(os.Stderr, "bench: %s: suspend of the frozen guest returned after %v: %v\n",
		name, r.suspendTook.Round(time.Millisecond), errOrOK(r.suspendErr))
	return r, nil
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func daemonPidFor(name string) int {
	if name == "govirtd" {
		return govirtdPID
	}
	return libvirtdPID()
}

// timeReads runs the reads from every reader connection until the window
// ends and appends each call's latency to out[op]. Each reader walks the
// guests from its own offset, so the frozen guest is read all the time.
func timeReads(readers []*client.Client, doms []remote.NonnullDomain, window time.Duration, out map[string][]time.Duration) error {
	ctx := context.Background()
	end := time.Now().Add(window)
	var mu sync.Mutex
	return parallelEach(len(readers), len(readers), func(k int) error {
		c := readers[k]
		local := map[string][]time.Duration{}
		defer func() {
			mu.Lock()
			for op, ds := range local {
				out[op] = append(out[op], ds...)
			}
			mu.Unlock()
		}()
		first := false // the call is on doms[0] (the frozen or hung guest)
		timed := func(op string, f func() error) error {
			t0 := time.Now()
			err := f()
			d := time.Since(t0)
			local[op] = append(local[op], d)
			if first && op != "list" {
				// Also kept apart, under "OP@0" (the agent suite prints them).
				local[op+"@0"] = append(local[op+"@0"], d)
			}
			return err
		}
		for i := k; time.Now().Before(end); i++ {
			if err := timed("list", func() error {
				var l remote.ConnectListAllDomainsRet
				return c.Call(ctx, procs.ConnectListAllDomains, remote.ConnectListAllDomainsArgs{NeedResults: 1}, &l)
			}); err != nil {
				return fmt.Errorf("list: %w", err)
			}
			d := doms[i%len(doms)]
			first = i%len(doms) == 0
			if err := timed("dominfo", func() error {
				var ret remote.DomainGetInfoRet
				return c.Call(ctx, procs.DomainGetInfo, remote.DomainGetInfoArgs{Dom: d}, &ret)
			}); err != nil {
				return fmt.Errorf("dominfo %s: %w", d.Name, err)
			}
			if err := timed("dumpxml", func() error {
				var ret remote.DomainGetXMLDescRet
				return c.Call(ctx, procs.DomainGetXMLDesc, remote.DomainGetXMLDescArgs{Dom: d}, &ret)
			}); err != nil {
				return fmt.Errorf("dumpxml %s: %w", d.Name, err)
			}
		}
		return nil
	})
}

// qemuPidOf finds the QEMU process of guest name by its command line
// (both daemons pass -name guest=NAME,...). The names are the bench's
// own, so no other QEMU on the machine matches.
func qemuPidOf(name string) int {
	ents, _ := os.ReadDir("/proc")
	want := []byte("guest=" + name)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := bytes.Split(data, []byte{0})
		for i := 0; i+1 < len(args); i++ {
			if string(args[i]) != "-name" {
				continue
			}
			a := args[i+1]
			if bytes.Equal(a, want) || bytes.HasPrefix(a, append(append([]byte{}, want...), ',')) {
				return pid
			}
		}
	}
	return 0
}

// quantile is the q-quantile (0..1) of ds by nearest rank.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func printFrozen(res []frozenResult) {
	fmt.Printf("%-18s %7s %25s %25s %8s %8s\n", "read (ms)", "calls", "govirtd p50/p99/max", "libvirtd p50/p99/max", "p99", "target")
	met := true
	for _, phase := range []string{"calm", "frozen"} {
		for _, op := range readOps {
			var series [][]time.Duration
			for _, r := range res {
				if phase == "frozen" {
					series = append(series, r.frozen[op])
				} else {
					series = append(series, r.calm[op])
				}
			}
			if !printLatencyRow(phase+" "+op, 18, series, phase == "frozen") {
				met = false
			}
		}
	}
	for i, r := range res {
		name := []string{"govirtd", "libvirtd"}[i]
		fmt.Printf("%s: the suspend of the frozen guest returned after %v (SIGCONT at the end of the window): %s\n",
			name, r.suspendTook.Round(time.Millisecond), errOrOK(r.suspendErr))
	}
	if met {
		fmt.Println("govirtd: every read p99 under 10 ms with a guest frozen")
	}
}
