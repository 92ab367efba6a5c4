package integration

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

// daemonGoroutines reads the goroutine count govirtd serves on its
// GOVIRT_DEBUG_SOCKET.
func daemonGoroutines(t *testing.T, sock string) int {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("debug socket: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "goroutines\n")
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	f := strings.Fields(string(buf[:n]))
	if len(f) != 2 || f[0] != "goroutines" {
		t.Fatalf("debug socket said %q", buf[:n])
	}
	v, _ := strconv.Atoi(f[1])
	return v
}

// stressCall is one random operation of a stress client on dom.
func stressCall(ctx context.Context, c *client.Client, rng *rand.Rand, dom remote.NonnullDomain, transient map[string]string) (string, error) {
	switch rng.Intn(11) {
	case 9:
		// Transient guests created and destroyed concurrently: the
		// orphaned-QEMU race of issue 11.
		name := fmt.Sprintf("stx%d", rng.Intn(len(transient)))
		return "createxml", c.Call(ctx, procs.DomainCreateXML, &remote.DomainCreateXMLArgs{XMLDesc: transient[name]}, &remote.DomainCreateXMLRet{})
	case 10:
		name := fmt.Sprintf("stx%d", rng.Intn(len(transient)))
		var ret remote.DomainLookupByNameRet
		if err := c.Call(ctx, procs.DomainLookupByName, &remote.DomainLookupByNameArgs{Name: name}, &ret); err != nil {
			return "destroy-transient", err
		}
		return "destroy-transient", c.Call(ctx, procs.DomainDestroy, &remote.DomainDestroyArgs{Dom: ret.Dom}, nil)
	case 0:
		return "start", c.Call(ctx, procs.DomainCreate, &remote.DomainCreateArgs{Dom: dom}, nil)
	case 1:
		return "destroy", c.Call(ctx, procs.DomainDestroy, &remote.DomainDestroyArgs{Dom: dom}, nil)
	case 2:
		return "suspend", c.Call(ctx, procs.DomainSuspend, &remote.DomainSuspendArgs{Dom: dom}, nil)
	case 3:
		return "resume", c.Call(ctx, procs.DomainResume, &remote.DomainResumeArgs{Dom: dom}, nil)
	case 4:
		return "setmem", c.Call(ctx, procs.DomainSetMemoryFlags, &remote.DomainSetMemoryFlagsArgs{Dom: dom, Memory: 96 << 10, Flags: 1}, nil)
	case 5:
		// Redefine what the daemon has (VIR_DOMAIN_XML_INACTIVE).
		var x remote.DomainGetXMLDescRet
		if err := c.Call(ctx, procs.DomainGetXMLDesc, &remote.DomainGetXMLDescArgs{Dom: dom, Flags: 2}, &x); err != nil {
			return "define", err
		}
		return "define", c.Call(ctx, procs.DomainDefineXML, &remote.DomainDefineXMLArgs{XML: x.XML}, &remote.DomainDefineXMLRet{})
	case 6:
		return "dominfo", c.Call(ctx, procs.DomainGetInfo, &remote.DomainGetInfoArgs{Dom: dom}, &remote.DomainGetInfoRet{})
	case 7:
		return "dumpxml", c.Call(ctx, procs.DomainGetXMLDesc, &remote.DomainGetXMLDescArgs{Dom: dom}, &remote.DomainGetXMLDescRet{})
	default:
		return "list", c.Call(ctx, procs.ConnectListAllDomains, &remote.ConnectListAllDomainsArgs{NeedResults: 1}, &remote.ConnectListAllDomainsRet{})
	}
}

// TestFaultStressRace runs the -race daemon under many clients of mixed
// operations on many guests: no race report, no call over 35 s, and
// afterwards, with every guest destroyed, no QEMU left and no more
// goroutines in the daemon than before.
func TestFaultStressRace(t *testing.T) {
	sc := faultScaleFromEnv(t)
	rng := faultRand(t)
	dbgDir, err := os.MkdirTemp("", "gvd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dbgDir) })
	dbg := filepath.Join(dbgDir, "debug.sock")
	d := startDaemonEnv(t, []string{"GOVIRT_DEBUG_SOCKET=" + dbg})
	t.Cleanup(func() { killOwnQEMUs(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	var names []string
	for i := 0; i < sc.stressGuests; i++ {
		g := fmt.Sprintf("st%d", i)
		faultDiskGuest(t, d, dir, g)
		names = append(names, g)
	}
	transient := map[string]string{}
	for i := 0; i < 2; i++ {
		g := fmt.Sprintf("stx%d", i)
		transient[g] = testGuestXML(t, g, "", "")
	}
	time.Sleep(time.Second)
	before := daemonGoroutines(t, dbg)

	var (
		mu      sync.Mutex
		slow    []string
		calls   int
		byOp    = map[string]int{}
		wg      sync.WaitGroup
		clients []*client.Client
	)
	for i := 0; i < sc.clients; i++ {
		c, err := client.DialOptions(context.Background(), "qemu+unix:///system?socket="+d.Socket, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		var doms []remote.NonnullDomain
		for _, n := range names {
			doms = append(doms, lookupDom(t, c, n))
		}
		crng := rand.New(rand.NewSource(rng.Int63()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for end := time.Now().Add(sc.stressDuration); time.Now().Before(end); {
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				start := time.Now()
				op, err := stressCall(ctx, c, crng, doms[crng.Intn(len(doms))], transient)
				el := time.Since(start)
				cancel()
				mu.Lock()
				calls++
				byOp[op]++
				if el > 35*time.Second {
					slow = append(slow, fmt.Sprintf("%s took %v (err %v)", op, el, err))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, c := range clients {
		c.Close()
	}
	t.Logf("%d calls by %d clients on %d guests in %v: %v", calls, sc.clients, len(names), sc.stressDuration, byOp)
	var bad []string
	bad = append(bad, slow...)
	for _, g := range append(append([]string(nil), names...), "stx0", "stx1") {
		if out, rc := runVirsh(uri, 120*time.Second, "domstate", g); rc == 0 && strings.TrimSpace(out) != "shut off" {
			if o, rc := runVirsh(uri, 120*time.Second, "destroy", g); rc != 0 {
				bad = append(bad, fmt.Sprintf("destroy %s afterwards: %s", g, strings.TrimSpace(o)))
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(qemuOf(d)) > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if left := qemuOf(d); len(left) > 0 {
		bad = append(bad, fmt.Sprintf("QEMU left after destroying every guest: %v (list: %v)", left, listStates(t, d)))
	}
	// Goroutines of closed connections and stopped guests wind down
	// asynchronously: allow them time, and a little slack.
	after := daemonGoroutines(t, dbg)
	for deadline := time.Now().Add(30 * time.Second); after > before+2 && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		after = daemonGoroutines(t, dbg)
	}
	t.Logf("daemon goroutines: %d before, %d after", before, after)
	if after > before+2 {
		bad = append(bad, fmt.Sprintf("daemon goroutines %d before, %d after (leak)", before, after))
	}
	if races := raceReports(d.Log()); len(races) > 0 {
		// The status writer formats the live definition after dropping
		// the guest's lock (issue 11, "status writes out of order"):
		// those reports are that known defect; any other is a failure.
		known := true
		for _, r := range races {
			if !strings.Contains(r, "drivers/qemu.(*Driver).saveStatus") {
				known = false
			}
		}
		if !known || jobModelFixed {
			t.Errorf("race report from govirtd:\n%s", d.Log())
		} else {
			d.racesReported = true
			t.Logf("race reports (%d):\n%s", len(races), strings.Join(races, "\n"))
			bad = append(bad, fmt.Sprintf("%d race reports, all between saveStatus formatting the live XML after unlocking and a writer of it (first: %s)",
				len(races), raceSummary(races[0])))
		}
	}
	if len(bad) > 0 {
		t.Logf("daemon log tail:\n%s", tail(d.Log(), 3000))
		knownDefect(t, "stress: %s", strings.Join(bad, "; "))
	}
}

// raceReports splits the race detector's reports out of a daemon log.
func raceReports(log string) []string {
	var res []string
	parts := strings.Split(log, "WARNING: DATA RACE")
	for _, p := range parts[1:] {
		if i := strings.Index(p, "=================="); i >= 0 {
			p = p[:i]
		}
		res = append(res, p)
	}
	return res
}

// raceSummary names the functions of a race report's first two stacks.
func raceSummary(r string) string {
	var fns []string
	lines := strings.Split(r, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if (strings.HasPrefix(l, "Write at") || strings.HasPrefix(l, "Read at") || strings.HasPrefix(l, "Previous")) && i+1 < len(lines) {
			fns = append(fns, strings.TrimSpace(lines[i+1]))
		}
	}
	return strings.Join(fns, " vs ")
}
