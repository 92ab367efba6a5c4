package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
	"govirt/testguest"
)

var (
	agentOthers  = flag.Int("agent-guests", 5, "agent: tiny guests running besides the one whose agent hangs")
	agentWindow  = flag.Duration("agent-window", 30*time.Second, "agent: how long reads are timed, calm and then with the agent hung")
	agentReaders = flag.Int("agent-readers", 2, "agent: connections reading at once")
	agentTimeout = flag.Int("agent-timeout", 5, "agent: guest-agent-timeout (s) set on the hung guest")
)

// The agent suite is issue 15's "a guest whose agent hangs never blocks
// other calls on that guest beyond the agent timeout, nor any call on
// other guests; other calls answer in under 10 ms" as a number. For each
// daemon in turn: the test guest (testguest/, with qemu-ga) boots with
// its agent channel and a serial console next to -agent-guests tiny
// guests; once its agent answers, the bench stops qemu-ga inside the
// guest (`gv-agent pause`: SIGSTOP, the port stays open and nothing
// reads it, as a hung agent). One connection then calls domtime
// (DOMAIN_GET_TIME, an agent call) on it over and over, each call ending
// with the agent timeout, while -agent-readers connections time
// `list --all` and dominfo and dumpxml of every guest, the hung one
// included, for -agent-window, after as long a window with the agent
// answering (calm). The hung agent is continued at the end and on error
// (an interrupt destroys the guest anyway).

// agentResult is one daemon's read latencies and what the agent calls
// on the hung guest did.
type agentResult struct {
	calm, hung map[string][]time.Duration
	agentCalls []time.Duration // the agent calls on the hung guest
	agentErr   string          // the first one's error
}

func benchAgentSuite(sock string, haveLibvirtd bool) error {
	type daemon struct{ name, uri, prefix string }
	ds := []daemon{{"govirtd", "qemu+unix:///system?socket=" + sock, "gv"}}
	if haveLibvirtd {
		ds = append(ds, daemon{"libvirtd", "qemu+unix:///system?socket=" + *libvirtdSock, "lv"})
	}
	if err := exec.Command("sh", "testguest/build.sh").Run(); err != nil {
		return fmt.Errorf("testguest/build.sh: %v", err)
	}
	fmt.Printf("agent: the test guest with qemu-ga, whose agent is then SIGSTOPped inside, and %d tiny guests;\n", *agentOthers)
	fmt.Printf("one connection calls domtime on it (agent timeout %d s) while %d connections read (list --all, dominfo and dumpxml of every guest)\nfor %v with the agent answering, then %v with it hung\n",
		*agentTimeout, *agentReaders, *agentWindow, *agentWindow)
	res := make([]agentResult, len(ds))
	for i, d := range ds {
		r, err := agentOne(d.name, d.uri, d.prefix)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		res[i] = r
	}
	printAgent(res)
	return nil
}

// agentGuestXML is the test guest with its agent channel and a serial
// console on sock.
func agentGuestXML(name, sock string) string {
	dir := testguest.Dir()
	typ := "qemu"
	if testguest.KVMUsable() {
		typ = "kvm"
	}
	return fmt.Sprintf(`<domain type='%s'><name>%s</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type><kernel>%s</kernel><initrd>%s</initrd><cmdline>%s</cmdline></os>
<features><acpi/></features>
<devices><serial type='unix'><source mode='bind' path='%s'/><target port='0'/></serial>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>`,
		typ, name, filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img"), testguest.Cmdline, sock)
}

var agentResultLine = regexp.MustCompile(`@@R=(.*)$`)

// guestSh runs cmd in the guest's shell on its console and returns its
// output on one line.
func guestSh(con *testguest.Console, cmd string) (string, error) {
	con.Send(`echo "@@""R=$(` + cmd + ` 2>&1 | tr '\n' ' ')"`)
	m, err := con.ExpectRegexp(agentResultLine, 30*time.Second)
	if err != nil {
		return "", fmt.Errorf("guest %q: %v", cmd, err)
	}
	return strings.TrimSpace(m[1]), nil
}

// paused holds the consoles of guests whose agent the bench paused, so
// that an error or an interrupt continues them (cleanupAll).
var paused = struct {
	sync.Mutex
	cons map[*testguest.Console]bool
}{cons: map[*testguest.Console]bool{}}

func contAllAgents() {
	paused.Lock()
	defer paused.Unlock()
	for con := range paused.cons {
		guestSh(con, "gv-agent cont")
	}
	paused.cons = map[*testguest.Console]bool{}
}

func agentOne(name, uri, prefix string) (agentResult, error) {
	r := agentResult{calm: map[string][]time.Duration{}, hung: map[string][]time.Duration{}}
	ctx := context.Background()
	base := "agent-" + prefix + "-"
	c, err := dialClean(ctx, uri, base)
	if err != nil {
		return r, err
	}
	defer c.Close()
	tmp, err := os.MkdirTemp("", "gvagent")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	os.Chmod(tmp, 0o755)
	sock := filepath.Join(tmp, "console")
	n := *agentOthers + 1
	names := make([]string, n)
	doms := make([]remote.NonnullDomain, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s%d", base, i)
	}
	defer func() {
		contAllAgents()
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
		xml := scaleDomain(names[i])
		if i == 0 {
			xml = agentGuestXML(names[i], sock)
		}
		var def remote.DomainDefineXMLRet
		if err := c.Call(ctx, procs.DomainDefineXML, remote.DomainDefineXMLArgs{XML: xml}, &def); err != nil {
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
	cc, err := net.Dial("unix", sock)
	if err != nil {
		return r, fmt.Errorf("console: %w", err)
	}
	defer cc.Close()
	con := testguest.NewConsole(cc, cc)
	if _, err := con.Expect(testguest.ReadyMarker, 3*testguest.BootTimeout()); err != nil {
		return r, fmt.Errorf("%s did not boot: %v", names[0], err)
	}
	// The agent answers (a busy TCG guest may miss the first syncs).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var t remote.DomainGetTimeRet
		err := c.Call(ctx, procs.DomainGetTime, remote.DomainGetTimeArgs{Dom: doms[0]}, &t)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("the agent of %s never answered: %v", names[0], err)
		}
		time.Sleep(time.Second)
	}
	if err := c.Call(ctx, procs.DomainAgentSetResponseTimeout, remote.DomainAgentSetResponseTimeoutArgs{Dom: doms[0], Timeout: int32(*agentTimeout)}, nil); err != nil {
		return r, fmt.Errorf("guest-agent-timeout: %w", err)
	}
	readers := make([]*client.Client, *agentReaders)
	for i := range readers {
		if readers[i], err = client.Dial(uri); err != nil {
			return r, err
		}
		defer readers[i].Close()
	}
	waitIdle(daemonPidFor(name))
	if err := timeReads(readers, doms, *agentWindow, r.calm); err != nil {
		return r, fmt.Errorf("calm reads: %w", err)
	}

	paused.Lock()
	paused.cons[con] = true
	paused.Unlock()
	if out, err := guestSh(con, "gv-agent pause"); err != nil || !strings.Contains(out, "GV-AGENT paused") {
		return r, fmt.Errorf("gv-agent pause: %q %v", out, err)
	}
	// The agent calls on their own connection, one after the other.
	ac, err := client.Dial(uri)
	if err != nil {
		return r, err
	}
	defer ac.Close()
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			t0 := time.Now()
			var t remote.DomainGetTimeRet
			err := ac.Call(ctx, procs.DomainGetTime, remote.DomainGetTimeArgs{Dom: doms[0]}, &t)
			r.agentCalls = append(r.agentCalls, time.Since(t0))
			if err != nil && r.agentErr == "" {
				r.agentErr = err.Error()
			} else if err == nil && r.agentErr == "" {
				r.agentErr = "answered (not hung)"
			}
		}
	}()
	// Let the first agent call reach the agent before timing.
	time.Sleep(500 * time.Millisecond)
	rerr := timeReads(readers, doms, *agentWindow, r.hung)
	stop.Store(true)
	select {
	case <-done:
	case <-time.After(time.Duration(*agentTimeout)*time.Second + time.Minute):
		return r, fmt.Errorf("the agent call did not return within a minute of its timeout")
	}
	contAllAgents()
	if rerr != nil {
		return r, fmt.Errorf("reads with the agent hung: %w", rerr)
	}
	fmt.Fprintf(os.Stderr, "bench: %s: %d agent calls on the hung guest, median %v: %s\n",
		name, len(r.agentCalls), medianDur(r.agentCalls).Round(time.Millisecond), r.agentErr)
	return r, nil
}

func printAgent(res []agentResult) {
	fmt.Printf("%-26s %7s %25s %25s %8s %8s\n", "read (ms)", "calls", "govirtd p50/p99/max", "libvirtd p50/p99/max", "p99", "target")
	met := true
	// Each read over all guests, then on the hung guest alone.
	ops := append(append([]string{}, readOps...), "dominfo@0", "dumpxml@0")
	label := func(op string) string { return strings.Replace(op, "@0", " (that guest)", 1) }
	for _, phase := range []string{"calm", "hung"} {
		for _, op := range ops {
			var series [][]time.Duration
			for _, r := range res {
				if phase == "hung" {
					series = append(series, r.hung[op])
				} else {
					series = append(series, r.calm[op])
				}
			}
			if !printLatencyRow(phase+" "+label(op), 26, series, phase == "hung") {
				met = false
			}
		}
	}
	for i, r := range res {
		name := []string{"govirtd", "libvirtd"}[i]
		fmt.Printf("%s: %d agent calls on the hung guest, median %v: %s\n", name, len(r.agentCalls),
			medianDur(r.agentCalls).Round(time.Millisecond), r.agentErr)
	}
	if met {
		fmt.Println("govirtd: every read p99 under 10 ms with a guest's agent hung")
	}
}
