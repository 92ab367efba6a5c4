package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"govirt/client"
	"govirt/conf"
	"govirt/drivers/qemu/caps"
	"govirt/drivers/qemu/command"
	"govirt/internal/cgroup"
	"govirt/qmp"
	"govirt/remote"
	"govirt/rpc/procs"
	"govirt/testguest"
)

const startRuns = 10

// benchDomain is the minimal guest: 64 MiB, no disk, VNC on
// loopback. KVM where it works, TCG otherwise, decided as for the
// integration tests (GOVIRT_TESTGUEST_ACCEL=kvm|tcg overrides), the same
// for every contender. A /dev/kvm that opens is not enough: without
// hardware virtualisation each idle KVM guest here burns a quarter of a
// core, and the series would measure that load rather than the daemons.
func benchDomain(name string) string {
	typ := "qemu"
	if testguest.KVMUsable() {
		typ = "kvm"
	}
	return fmt.Sprintf(`<domain type='%s'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os>
<devices><graphics type='vnc' listen='127.0.0.1' autoport='yes'/></devices></domain>`, typ, name)
}

// startMode is how a series of startRuns starts is run.
type startMode int

const (
	// seqIdle starts one guest at a time and stops it (untimed) before
	// the next: the latency of one start on an otherwise idle host.
	seqIdle startMode = iota
	// seqLoaded starts one at a time and keeps them all running until
	// the series ends, so later starts compete with earlier guests.
	seqLoaded
	// parallel starts all of them at once.
	parallel
)

var startModes = []struct {
	mode startMode
	name string
}{{seqIdle, "sequential"}, {seqLoaded, "seq, kept up"}, {parallel, "10 parallel"}}

func benchStartSuite(sock string, haveLibvirtd bool) error {
	type contender struct {
		name string
		run  func(startMode) ([]time.Duration, error)
	}
	cs := []contender{
		{"govirtd", func(m startMode) ([]time.Duration, error) {
			return daemonStarts("qemu+unix:///system?socket="+sock, "gv", m)
		}},
	}
	if haveLibvirtd {
		cs = append(cs, contender{"libvirtd", func(m startMode) ([]time.Duration, error) {
			return daemonStarts("qemu+unix:///system?socket="+*libvirtdSock, "lv", m)
		}})
	}
	cs = append(cs, contender{"floor", floorStarts})
	fmt.Printf("QEMU guest start latency, define to running (64 MiB, no disk, VNC, %s), median of %d starts x %d alternating rounds\n",
		accelName(), startRuns, *rounds)
	fmt.Printf("%-10s", "")
	for _, m := range startModes {
		fmt.Printf(" %14s", m.name)
	}
	fmt.Println()
	// One untimed start each first, so one-time costs (the daemon's first
	// capability probe) are not counted.
	for _, c := range cs {
		c.run(seqIdle)
	}
	// Rounds alternate between the contenders so that whatever else the
	// machine does weighs on each of them alike.
	samples := map[string][][]time.Duration{}
	for r := 0; r < *rounds; r++ {
		for _, c := range cs {
			if samples[c.name] == nil {
				samples[c.name] = make([][]time.Duration, len(startModes))
			}
			for i, m := range startModes {
				ds, err := c.run(m.mode)
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				samples[c.name][i] = append(samples[c.name][i], ds...)
			}
		}
	}
	res := map[string][]time.Duration{}
	for _, c := range cs {
		fmt.Printf("%-10s", c.name)
		for _, s := range samples[c.name] {
			res[c.name] = append(res[c.name], medianDur(s))
			fmt.Printf(" %14v", medianDur(s).Round(time.Millisecond))
		}
		fmt.Println()
	}
	printRatios := func(label string, a, b []time.Duration, target string) {
		fmt.Printf("%-18s", label)
		for i, m := range startModes {
			fmt.Printf(" %s %.2fx,", m.name, ratio(a[i], b[i]))
		}
		fmt.Printf(" (target %s)\n", target)
	}
	printRatios("govirtd/floor:", res["govirtd"], res["floor"], "<= 1.5x")
	if l, ok := res["libvirtd"]; ok {
		printRatios("govirtd/libvirtd:", res["govirtd"], l, "<= 0.25x")
	}
	return nil
}

func accelName() string {
	if testguest.KVMUsable() {
		return "KVM"
	}
	return "TCG"
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func medianDur(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// daemonStarts defines and starts startRuns guests through a daemon, one
// after another or all at once, timing define+create for each; the guests
// are destroyed and undefined afterwards (not timed).
func daemonStarts(uri, prefix string, mode startMode) ([]time.Duration, error) {
	return daemonStartsN(uri, "bench-"+prefix, mode, startRuns, benchDomain, startOpts{})
}

// startOpts vary how daemonStartsN starts its guests.
type startOpts struct {
	// connPerStart gives each start its own connection, opened before
	// the clock starts: on one connection a daemon runs at most
	// max_client_requests (5) calls at once, so parallel starts beyond
	// that would measure the queue rather than the starts.
	connPerStart bool
	// startOnly defines the guests before the clock starts and times the
	// start alone (DOMAIN_CREATE_WITH_FLAGS).
	startOnly bool
	// onStarts, when set, is called right before the first timed start
	// (true) and right after the last one ended (false).
	onStarts func(begin bool)
}

// daemonStartsN is daemonStarts for n guests named prefix-0..n-1 with the
// XML xmlFor returns for a name.
func daemonStartsN(uri, prefix string, mode startMode, n int, xmlFor func(string) string, o startOpts) ([]time.Duration, error) {
	c, err := client.Dial(uri)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	conns := make([]*client.Client, n)
	for i := range conns {
		conns[i] = c
		if o.connPerStart {
			if conns[i], err = client.Dial(uri); err != nil {
				return nil, err
			}
			defer conns[i].Close()
		}
	}
	ctx := context.Background()
	out := make([]time.Duration, n)
	doms := make([]remote.NonnullDomain, n)
	names := make([]string, n)
	defer func() {
		for i, d := range doms {
			if d.Name != "" {
				c.Call(ctx, procs.DomainDestroy, remote.DomainDestroyArgs{Dom: d}, nil)
				c.Call(ctx, procs.DomainUndefine, remote.DomainUndefineArgs{Dom: d}, nil)
			} else if names[i] != "" {
				// Define may have worked and create failed.
				removeGuest(ctx, c, names[i])
			}
			if names[i] != "" {
				untrackGuest(uri, names[i])
			}
		}
	}()
	defs := make([]remote.NonnullDomain, n)
	define := func(i int) error {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if err := trackGuest(uri, name); err != nil {
			return err
		}
		names[i] = name
		var def remote.DomainDefineXMLRet
		if err := conns[i].Call(ctx, procs.DomainDefineXML, remote.DomainDefineXMLArgs{XML: xmlFor(name)}, &def); err != nil {
			return err
		}
		defs[i] = def.Dom
		return nil
	}
	if o.startOnly {
		for i := 0; i < n; i++ {
			if err := define(i); err != nil {
				return nil, err
			}
		}
	}
	one := func(i int) error {
		c := conns[i]
		t0 := time.Now()
		if !o.startOnly {
			if err := define(i); err != nil {
				return err
			}
		}
		var cr remote.DomainCreateWithFlagsRet
		if err := c.Call(ctx, procs.DomainCreateWithFlags, remote.DomainCreateWithFlagsArgs{Dom: defs[i]}, &cr); err != nil {
			return err
		}
		out[i] = time.Since(t0)
		doms[i] = cr.Dom
		if mode == seqIdle {
			c.Call(ctx, procs.DomainDestroy, remote.DomainDestroyArgs{Dom: cr.Dom}, nil)
		}
		return nil
	}
	var firstErr error
	if o.onStarts != nil {
		o.onStarts(true)
		defer o.onStarts(false)
	}
	if mode == parallel {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if err := one(i); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
	} else {
		for i := 0; i < n && firstErr == nil; i++ {
			firstErr = one(i)
		}
	}
	return out, firstErr
}

// floorStarts is the bare floor: the same QEMU command line govirtd would
// build, spawned by hand, QMP negotiated, cont.
func floorStarts(mode startMode) ([]time.Duration, error) {
	return floorStartsN(mode, startRuns, benchDomain)
}

// floorStartsN is floorStarts for n QEMUs built from xmlFor's XML, each
// left in the bench's own cgroup.
func floorStartsN(mode startMode, n int, xmlFor func(string) string) ([]time.Duration, error) {
	return floorStartsIn(mode, n, xmlFor, "")
}

// floorStartsIn is floorStartsN with each QEMU moved, right after its
// spawn, into a group of its own below the cgroup partition (when not
// ""), as a daemon places its guests (see floorGroup).
func floorStartsIn(mode startMode, n int, xmlFor func(string) string, partition string) ([]time.Duration, error) {
	dir, err := os.MkdirTemp("", "gvfloor")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	qc, err := (&caps.Cache{Dir: dir}).Get(context.Background(), "/usr/bin/qemu-system-x86_64")
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, n)
	// Like the daemons' guests, every floor QEMU keeps running until the
	// series ends, so all contenders start guests next to the same load.
	var mu sync.Mutex
	var running []*exec.Cmd
	var groups []*cgroup.Group
	defer func() {
		for _, c := range running {
			c.Process.Kill()
			c.Wait()
			untrackProcess(c.Process)
		}
		for _, g := range groups {
			g.Remove()
		}
	}()
	one := func(i int) error {
		def, err := conf.ParseDomain([]byte(xmlFor(fmt.Sprintf("floor%d", i))), 0)
		if err != nil {
			return err
		}
		gdir := filepath.Join(dir, fmt.Sprint(i))
		os.MkdirAll(gdir, 0o700)
		mon := filepath.Join(gdir, "mon.sock")
		cl, err := command.Build(def, qc, command.Paths{Name: def.Name, DomainDir: gdir, MonitorSocket: mon, MonitorFD: 3})
		if err != nil {
			return err
		}
		t0 := time.Now()
		// As govirtd does: QEMU inherits a socket already listening.
		lf, err := qmp.Listen(mon)
		if err != nil {
			return err
		}
		hf, err := command.OpenHostFiles(cl.Files, 4)
		if err != nil {
			lf.Close()
			return err
		}
		cmd := exec.Command(cl.Argv[0], cl.Argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		cmd.ExtraFiles = append([]*os.File{lf}, hf...)
		err = cmd.Start()
		lf.Close()
		for _, f := range hf {
			f.Close()
		}
		if err != nil {
			return err
		}
		mu.Lock()
		running = append(running, cmd)
		mu.Unlock()
		if err := trackProcess(cmd.Process); err != nil {
			return err
		}
		if partition != "" {
			g, err := floorGroup(partition, cmd.Process.Pid)
			if err != nil {
				return err
			}
			mu.Lock()
			groups = append(groups, g)
			mu.Unlock()
		}
		// Generous: on a loaded host a QEMU starting in the guests'
		// cgroup partition can wait longer than a daemon's 30 s for the
		// CPU, and a slow floor is still a measurement.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var m *qmp.Monitor
		for {
			if m, err = qmp.Dial(ctx, mon, qmp.Options{}); err == nil {
				break
			}
			if ctx.Err() != nil {
				return err
			}
			time.Sleep(2 * time.Millisecond)
		}
		defer m.Close()
		if err := m.Execute(ctx, "cont", nil, nil); err != nil {
			return err
		}
		out[i] = time.Since(t0)
		if mode == seqIdle {
			cmd.Process.Kill()
			cmd.Wait()
		}
		return nil
	}
	if mode != parallel {
		for i := 0; i < n; i++ {
			if err := one(i); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); errs <- one(i) }(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// floorGroup moves a floor QEMU into a group of its own below partition,
// as both daemons place a guest's QEMU right after spawning it. On a
// cgroup v1 host with the cpu controller this matters more than any
// daemon overhead: the partition is one scheduling entity beside each
// task of the root group, so a QEMU starting there shares its CPU with
// every running guest, while one left in the root group competes with
// the whole partition as an equal.
func floorGroup(partition string, pid int) (*cgroup.Group, error) {
	floorHostOnce.Do(func() {
		floorHost, floorHostErr = cgroup.Detect()
		if floorHostErr == nil && !floorHost.Available() {
			floorHostErr = fmt.Errorf("no cgroup controller mounted")
		}
	})
	if floorHostErr != nil {
		return nil, fmt.Errorf("floor cgroup: %w", floorHostErr)
	}
	g, err := floorHost.NewMachine(partition, cgroup.MachineName("floor", pid, "bench"), "bench")
	if err != nil {
		return nil, fmt.Errorf("floor cgroup: %w", err)
	}
	if err := g.AddProcess(pid); err != nil {
		g.Remove()
		return nil, fmt.Errorf("floor cgroup: %w", err)
	}
	return g, nil
}

var (
	floorHostOnce sync.Once
	floorHost     *cgroup.Host
	floorHostErr  error
)
