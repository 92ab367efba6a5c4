package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"govirt/client"
	"govirt/driver"
	"govirt/remote"
	"govirt/rpc/procs"
	"govirt/rpc/xdr"
)

// The migrate suite's contenders. Only one libvirtd runs on this host,
// so libvirtd -> libvirtd cannot be measured; mixed legs isolate each
// daemon's side instead: govirtd -> govirtd against libvirtd -> govirtd
// (same destination daemon: the difference is the source daemons') and
// against govirtd -> libvirtd (same source: the destination daemons').
// Every leg runs the same `virsh migrate` flags; the legs' order rotates
// from one round to the next, so no contender always runs first after a
// boot or last on a machine that has warmed up.

// migLeg is one contender and its per-round figures.
type migLeg struct {
	name     string // printed
	tag      string // part of the guest's name
	src, dst string // daemon URIs; empty for the floor
	res      []migResult
}

// migResult is one migration's figures. Prepare and transfer split the
// total: the start to the destination's STARTED (migrated) event (Begin
// and Prepare, the destination QEMU's start), then to the source's
// SUSPENDED (migrated) one (the memory's transfer); the pause and the
// rest (Finish's tail, Confirm, virsh's exit) follow.
type migResult struct {
	total, down, paused, prepare, transfer time.Duration
}

// med is the median of one figure over the rounds.
func (l *migLeg) med(f func(migResult) time.Duration) time.Duration {
	var v []time.Duration
	for _, r := range l.res {
		v = append(v, f(r))
	}
	return medianDur(v)
}

func figTotal(r migResult) time.Duration    { return r.total }
func figDown(r migResult) time.Duration     { return r.down }
func figPaused(r migResult) time.Duration   { return r.paused }
func figPrepare(r migResult) time.Duration  { return r.prepare }
func figTransfer(r migResult) time.Duration { return r.transfer }

// migFlags are the flags of every daemon leg. The guest has no disk, so
// libvirtd does not want --unsafe; the incoming port is the bench's
// (--migrateuri): the daemons and other work on this host share
// libvirt's default range.
func migFlags(xmlPath string, port int) []string {
	return []string{"migrate", "--live", "--xml", xmlPath, "--migrateuri", fmt.Sprintf("tcp://127.0.0.1:%d", port)}
}

func qemuURI(sock string) string { return "qemu+unix:///system?socket=" + sock }

// migLegs lists the contenders: govirtd -> govirtd, the mixed legs when
// libvirtd runs, and the floor.
func migLegs(gvA, gvB string, haveLibvirtd bool) []*migLeg {
	legs := []*migLeg{{name: "govirtd -> govirtd", tag: "gg", src: gvA, dst: gvB}}
	if haveLibvirtd {
		lv := qemuURI(*libvirtdSock)
		legs = append(legs,
			&migLeg{name: "libvirtd -> govirtd", tag: "lg", src: lv, dst: gvB},
			&migLeg{name: "govirtd -> libvirtd", tag: "gl", src: gvA, dst: lv})
	}
	return append(legs, &migLeg{name: "floor (QEMU by hand)", tag: "floor"})
}

// run measures one round of the leg.
func (l *migLeg) run(round int) error {
	name := fmt.Sprintf("%s-%s-r%d", migGuestBase, l.tag, round)
	var res migResult
	var err error
	if l.src == "" {
		res, err = floorMigration(name)
	} else {
		res, err = daemonMigration(l.src, l.dst, name)
	}
	if err != nil {
		return fmt.Errorf("%s: %v", l.name, err)
	}
	l.res = append(l.res, res)
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	fmt.Printf("  round %d %-22s total %9v  downtime %7v  paused %9v  prepare %9v  transfer %9v  (load %s)\n", round+1, l.name,
		ms(res.total), res.down, ms(res.paused), ms(res.prepare), ms(res.transfer), loadAvg())
	return nil
}

// migGuestBase prefixes every guest of the suite; an interrupted run's
// leftovers on libvirtd are removed by it at the next start.
const migGuestBase = "gvbench-mig"

// printMigrateReport prints the medians of each leg and the ratios:
// govirtd/libvirtd per side and each leg against the floor.
func printMigrateReport(legs []*migLeg) {
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	fmt.Printf("\nmedian of %d rounds (load average now %s)\n", *rounds, loadAvg())
	fmt.Printf("%-22s %10s %10s %10s %10s %10s\n", "leg", "total", "downtime", "paused", "prepare", "transfer")
	for _, l := range legs {
		fmt.Printf("%-22s %10v %10v %10v %10v %10v\n", l.name, ms(l.med(figTotal)), l.med(figDown), ms(l.med(figPaused)),
			ms(l.med(figPrepare)), ms(l.med(figTransfer)))
	}
	row := func(label string, a, b *migLeg) {
		fmt.Printf("%-52s", label)
		for _, f := range []func(migResult) time.Duration{figTotal, figDown, figPaused, figPrepare, figTransfer} {
			fmt.Printf(" %9.2fx", ratio(a.med(f), b.med(f)))
		}
		fmt.Println()
	}
	fmt.Printf("\n%-52s %10s %10s %10s %10s %10s\n", "ratio", "total", "downtime", "paused", "prepare", "transfer")
	gg, floor := legs[0], legs[len(legs)-1]
	if len(legs) == 4 {
		row("source side, gv->gv / lv->gv (govirtd/libvirtd)", gg, legs[1])
		row("destination side, gv->gv / gv->lv (govirtd/libvirtd)", gg, legs[2])
	} else {
		fmt.Println("(libvirtd not running: no govirtd/libvirtd ratios)")
	}
	for _, l := range legs[:len(legs)-1] {
		row(l.name+" / floor", l, floor)
	}
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// loadAvg is the host's 1-minute load average: the machine is shared,
// and the figures mean little without it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// pauseWatch times the guest's pause as the daemons report it (and the
// phases before it, from the destination's STARTED event): the
// source's SUSPENDED (migrated) lifecycle event to the destination's
// RESUMED (migrated) one, both taken when the bench receives them. This is
// what the guest's users see (its vCPUs stopped until they run again on
// the destination, the daemons' Finish included), where QEMU's downtime
// ends when the source has sent the last page.
type pauseWatch struct {
	mu                        sync.Mutex
	started, stopped, resumed time.Time
	conns                     []*client.Client
}

// watchPause registers lifecycle callbacks for name on both daemons;
// they are registered when it returns, so no event is missed.
func watchPause(srcURI, dstURI, name string) (*pauseWatch, error) {
	w := &pauseWatch{}
	for i, uri := range []string{srcURI, dstURI} {
		c, err := client.Dial(uri)
		if err != nil {
			w.close()
			return nil, err
		}
		w.conns = append(w.conns, c)
		dst := i == 1
		c.OnEvent(func(prog uint32, proc int32, body []byte) {
			now := time.Now()
			if proc != procs.DomainEventCallbackLifecycle {
				return
			}
			var m remote.DomainEventCallbackLifecycleMsg
			if xdr.Unmarshal(body, &m) != nil || m.Msg.Dom.Name != name {
				return
			}
			var at *time.Time
			switch e := [2]int32{m.Msg.Event, m.Msg.Detail}; {
			case !dst && e == [2]int32{driver.EventSuspended, driver.EventSuspendedMigrated}:
				at = &w.stopped
			case dst && e == [2]int32{driver.EventStarted, driver.EventStartedMigrated}:
				at = &w.started
			case dst && e == [2]int32{driver.EventResumed, driver.EventResumedMigrated}:
				at = &w.resumed
			default:
				return
			}
			w.mu.Lock()
			if at.IsZero() {
				*at = now
			}
			w.mu.Unlock()
		})
		var ret remote.ConnectDomainEventCallbackRegisterAnyRet
		if err := c.Call(context.Background(), procs.ConnectDomainEventCallbackRegisterAny,
			remote.ConnectDomainEventCallbackRegisterAnyArgs{EventID: 0}, &ret); err != nil {
			w.close()
			return nil, fmt.Errorf("lifecycle events of %s: %v", uri, err)
		}
	}
	return w, nil
}

// fill waits a little for the events (they may trail virsh's return)
// and sets the pause and the phases of res, begun at t0.
func (w *pauseWatch) fill(res *migResult, t0 time.Time) error {
	for i := 0; ; i++ {
		w.mu.Lock()
		p, s, r := w.started, w.stopped, w.resumed
		w.mu.Unlock()
		if !p.IsZero() && !s.IsZero() && !r.IsZero() {
			res.paused, res.prepare, res.transfer = r.Sub(s), p.Sub(t0), s.Sub(p)
			return nil
		}
		if i == 200 {
			return fmt.Errorf("missing started/suspended/resumed (migrated) events (at %v, %v, %v)", p, s, r)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (w *pauseWatch) close() {
	for _, c := range w.conns {
		c.Close()
	}
}
