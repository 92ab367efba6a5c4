package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

// The bench keeps a registry of every guest it defines (by daemon URI and
// name) and every floor QEMU it spawns (by pid), so that an error or an
// interrupt still leaves the shared machine as it found it. Guests are
// registered before their define is sent and removed once undefined;
// cleanup goes through the daemon by name, and QEMU processes are only
// ever killed by the pid this process started, never by a name pattern:
// other QEMUs run on this machine.
var reg = struct {
	sync.Mutex
	stopping bool
	guests   map[guestKey]struct{}
	pids     map[int]*os.Process
	stops    []func()
}{guests: map[guestKey]struct{}{}, pids: map[int]*os.Process{}}

type guestKey struct{ uri, name string }

var errStopping = fmt.Errorf("bench is stopping")

// trackGuest registers a guest about to be defined; it fails once cleanup
// has begun so that no guest is created behind it.
func trackGuest(uri, name string) error {
	reg.Lock()
	defer reg.Unlock()
	if reg.stopping {
		return errStopping
	}
	reg.guests[guestKey{uri, name}] = struct{}{}
	return nil
}

func untrackGuest(uri, name string) {
	reg.Lock()
	delete(reg.guests, guestKey{uri, name})
	reg.Unlock()
}

// trackProcess registers a floor QEMU; it is killed (by pid) if the
// process is still registered at cleanup.
func trackProcess(p *os.Process) error {
	reg.Lock()
	defer reg.Unlock()
	if reg.stopping {
		p.Kill()
		return errStopping
	}
	reg.pids[p.Pid] = p
	return nil
}

func untrackProcess(p *os.Process) {
	reg.Lock()
	delete(reg.pids, p.Pid)
	reg.Unlock()
}

// removeGuest destroys (if running) and undefines a guest by name through
// its daemon. Errors are ignored: the guest may never have been defined.
func removeGuest(ctx context.Context, c *client.Client, name string) {
	var l remote.DomainLookupByNameRet
	if c.Call(ctx, procs.DomainLookupByName, remote.DomainLookupByNameArgs{Name: name}, &l) != nil {
		return
	}
	c.Call(ctx, procs.DomainDestroy, remote.DomainDestroyArgs{Dom: l.Dom}, nil)
	c.Call(ctx, procs.DomainUndefine, remote.DomainUndefineArgs{Dom: l.Dom}, nil)
}

// cleanupAll removes every registered guest and kills every registered
// floor QEMU; afterwards no new guest can be registered.
func cleanupAll() {
	// A stopped QEMU would hold up its guest's destroy.
	thawAll()
	reg.Lock()
	reg.stopping = true
	byURI := map[string][]string{}
	for k := range reg.guests {
		byURI[k.uri] = append(byURI[k.uri], k.name)
	}
	reg.guests = map[guestKey]struct{}{}
	procsLeft := reg.pids
	reg.pids = map[int]*os.Process{}
	reg.Unlock()
	for _, p := range procsLeft {
		p.Kill()
	}
	for uri, names := range byURI {
		fmt.Fprintf(os.Stderr, "bench: removing %d guests from %s\n", len(names), uri)
		c, err := client.Dial(uri)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: cleanup: %v; left behind: %v\n", err, names)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		parallelEach(len(names), 8, func(i int) error {
			removeGuest(ctx, c, names[i])
			return nil
		})
		cancel()
		c.Close()
	}
}

// onInterrupt makes SIGINT, SIGTERM and SIGHUP clean up, run the stop
// functions setStop registered (each govirtd's shutdown) and exit. It is
// installed first thing, so a signal while govirtd is being built is not
// lost. govirtd runs in its own process group, so a ^C on the terminal
// reaches only the bench and govirtd is still there to destroy its
// guests.
func onInterrupt() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	// Output piped into a reader that quit (| head) must not kill the
	// bench between starting guests and removing them.
	signal.Ignore(syscall.SIGPIPE)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "bench: %v: cleaning up\n", s)
		cleanupAll()
		reg.Lock()
		stops := reg.stops
		reg.Unlock()
		for _, stop := range stops {
			stop()
		}
		os.Exit(130)
	}()
}

// setStop registers what stops a govirtd after an interrupt's cleanup;
// every govirtd the bench started is stopped (the migrate suite runs two).
func setStop(stop func()) {
	reg.Lock()
	reg.stops = append(reg.stops, stop)
	reg.Unlock()
}

// parallelEach runs f(0..n-1) with at most width running at once and
// returns the first error.
func parallelEach(n, width int, f func(i int) error) error {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	return first
}

// dialClean connects to uri and removes the guests named base* that an
// interrupted earlier run of the suite left there.
func dialClean(ctx context.Context, uri, base string) (*client.Client, error) {
	c, err := client.Dial(uri)
	if err != nil {
		return nil, err
	}
	stale, err := staleGuests(ctx, c, base)
	if err != nil {
		c.Close()
		return nil, err
	}
	parallelEach(len(stale), 8, func(i int) error { removeGuest(ctx, c, stale[i]); return nil })
	return c, nil
}
