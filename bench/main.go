// Command bench measures govirtd against Debian's libvirtd 9.0 in the same
// run and prints ratios.
//
//	go run ./bench [-suite calls,start,rss,storage,cpu] [-libvirtd-socket PATH] [-duration 2s] [-domains 1000]
//	go run ./bench -suite scale [-guests 200] [-idle 60s] [-rounds 3] [-virsh-runs 5] [-stats-gap 2s] [-parallel-starts 20] [-floor-cgroup /machine]
//
// Suites:
//   - calls: round-trip calls/s on the test driver, 1 and 16 clients.
//   - start: QEMU guest start latency (define to running), sequential and
//     parallel, against libvirtd and against the floor (QEMU by hand).
//   - rss: daemon memory with 1,000 defined QEMU domains.
//   - storage: a 1 GiB vol-upload and a 1 GiB blockcopy.
//   - cpu: the daemon's CPU (utime+stime) per DOMAIN_GET_INFO and per
//     CONNECT_LIST_ALL_DOMAINS with 1,000 domains, test and QEMU drivers,
//     driven by one C client built against libvirt's client library
//     (bench/cpuclient; gcc and libvirt-dev are installed when missing).
//   - scale (not in the default set: it runs 200 guests): -guests tiny
//     guests (TCG, 32 MiB, no disk; the same XML for both daemons, names
//     and uuids per daemon) running on one daemon at a time, brought up
//     -scale-start-width at a time and removed before the other daemon's.
//     With them running: the daemon's VmRSS, its idle CPU (utime+stime,
//     and the threads' schedstat) over -idle, the median wall time of
//     `virsh list --all` and of `virsh domstats` (all guests) over
//     -virsh-runs x -rounds runs (each domstats after -stats-gap, so that
//     govirtd's 1 s stats cache never answers it), and -parallel-starts guests started at
//     once (defined beforehand, a connection each) against as many bare
//     QEMUs started at once next to the same guests, each moved into a
//     cgroup of its own below -floor-cgroup (/machine) as the daemons
//     place guests (the floor left in the bench's cgroup is printed
//     too), over -rounds rounds, with the daemon's CPU per start.
//     Targets: RSS and idle CPU (schedstat) <= 0.5x libvirtd's,
//     domstats <= 0.3x, parallel starts <= 1.2x the floor. A short run:
//     -guests 10 -idle 10s -rounds 1.
//   - agent (not in the default set: it boots the test guest): the test
//     guest's qemu-ga is SIGSTOPped inside while one connection calls
//     domtime on it; p50/p99/max of list --all, dominfo and dumpxml
//     (all guests, and the hung one alone) with the agent answering and
//     hung, govirtd against libvirtd; target: p99 <= 10 ms while hung.
//
// Every guest the bench defines and every floor QEMU it spawns is
// registered and removed on error and on SIGINT/SIGTERM (guests through
// their daemon by name, QEMUs by the pid the bench started; govirtd runs
// in its own process group so that a ^C leaves it up for that).
//
// libvirtd is started with ../shared/tools/libvirtd-baseline.sh when its
// socket is absent and the script is there (root only); without it the
// govirtd numbers are printed alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"govirt/client"
	"govirt/remote"
)

var (
	libvirtdSock = flag.String("libvirtd-socket", "/var/run/libvirt/libvirt-sock", "libvirtd's socket")
	duration     = flag.Duration("duration", 2*time.Second, "how long each measurement runs")
	rounds       = flag.Int("rounds", 3, "alternating rounds per measurement; the median is reported")
	ndomains     = flag.Int("domains", 1000, "domains defined for LIST_ALL_DOMAINS")
	baseline     = flag.String("baseline-script", "../shared/tools/libvirtd-baseline.sh", "script that starts libvirtd")
	govirtdLog   = flag.String("govirtd-log-level", "error", "govirtd's --log-level (its log goes to stderr)")
	govirtdBin   = flag.String("govirtd-binary", "", "run this govirtd instead of building one from the tree (before/after comparisons)")
	suites       = flag.String("suite", "calls,start,rss,storage,cpu", "comma-separated suites to run")
)

func main() {
	flag.Parse()
	onInterrupt()
	sock, stop, err := startGovirtd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer stop()
	haveLibvirtd := ensureLibvirtd()
	for _, suite := range strings.Split(*suites, ",") {
		var err error
		switch suite {
		case "calls":
			err = benchCallsSuite(sock, haveLibvirtd)
		case "start":
			err = benchStartSuite(sock, haveLibvirtd)
		case "rss":
			err = benchRSSSuite(sock, haveLibvirtd)
		case "storage":
			err = benchStorageSuite(sock, haveLibvirtd)
		case "cpu":
			err = benchCPUSuite(sock, haveLibvirtd)
		case "scale":
			err = benchScaleSuite(sock, haveLibvirtd)
		case "frozen":
			err = benchFrozenSuite(sock, haveLibvirtd)
		case "agent":
			err = benchAgentSuite(sock, haveLibvirtd)
		case "migrate":
			err = benchMigrateSuite(sock, haveLibvirtd) // migrate.go
		default:
			err = fmt.Errorf("unknown suite %q", suite)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", suite, err)
			cleanupAll()
			stop()
			os.Exit(1)
		}
		fmt.Println()
	}
}

func benchCallsSuite(sock string, haveLibvirtd bool) error {
	targets := []*target{{name: "govirtd", sock: sock}}
	if haveLibvirtd {
		targets = append(targets, &target{name: "libvirtd", sock: *libvirtdSock})
	}
	for _, t := range targets {
		if err := t.prepare(); err != nil {
			return fmt.Errorf("%s: %v", t.name, err)
		}
		defer t.keeper.Close()
	}

	fmt.Printf("test driver, %d domains defined; median of %d alternating rounds of %v\n", *ndomains, *rounds, *duration)
	fmt.Printf("%-28s %8s %14s %14s %8s\n", "call", "clients", "govirtd/s", "libvirtd/s", "ratio")
	for _, bc := range benchCalls {
		for _, clients := range []int{1, 16} {
			results := make([][]float64, len(targets))
			for r := 0; r < *rounds; r++ {
				for i, t := range targets {
					v, err := t.measure(bc, clients)
					if err != nil {
						return fmt.Errorf("%s: %v", t.name, err)
					}
					results[i] = append(results[i], v)
				}
			}
			g, l, ratio := median(results[0]), 0.0, "n/a"
			if len(targets) > 1 {
				l = median(results[1])
				ratio = fmt.Sprintf("%.2fx", g/l)
			}
			fmt.Printf("%-28s %8d %14.0f %14.0f %8s\n", bc.name, clients, g, l, ratio)
		}
	}
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// target is one daemon under measurement. The keeper connection holds the
// test driver's state (it resets when the last connection closes).
type target struct {
	name   string
	sock   string
	keeper *client.Client
	dom    remote.NonnullDomain
}

func (t *target) uri() string { return "test+unix:///default?socket=" + t.sock }

func (t *target) prepare() error {
	var err error
	if t.keeper, err = client.Dial(t.uri()); err != nil {
		return err
	}
	ctx := context.Background()
	if err := defineDomains(ctx, t.keeper, *ndomains); err != nil {
		return err
	}
	var lookup remote.DomainLookupByNameRet
	if err := t.keeper.Call(ctx, 23, remote.DomainLookupByNameArgs{Name: "test"}, &lookup); err != nil {
		return err
	}
	t.dom = lookup.Dom
	return nil
}

// benchCall is one measured procedure; prepare runs once per client.
type benchCall struct {
	name string
	call func(ctx context.Context, c *client.Client, dom remote.NonnullDomain) error
}

var benchCalls = []benchCall{
	{"DOMAIN_GET_INFO", func(ctx context.Context, c *client.Client, dom remote.NonnullDomain) error {
		var ret remote.DomainGetInfoRet
		return c.Call(ctx, 16, remote.DomainGetInfoArgs{Dom: dom}, &ret)
	}},
	{"DOMAIN_LOOKUP_BY_NAME", func(ctx context.Context, c *client.Client, dom remote.NonnullDomain) error {
		var ret remote.DomainLookupByNameRet
		return c.Call(ctx, 23, remote.DomainLookupByNameArgs{Name: "test"}, &ret)
	}},
	{"CONNECT_LIST_ALL_DOMAINS", func(ctx context.Context, c *client.Client, dom remote.NonnullDomain) error {
		var ret remote.ConnectListAllDomainsRet
		return c.Call(ctx, 273, remote.ConnectListAllDomainsArgs{NeedResults: 1}, &ret)
	}},
}

// measure runs bc from clients concurrent connections for the duration
// and returns calls per second.
func (t *target) measure(bc benchCall, clients int) (float64, error) {
	ctx := context.Background()
	conns := make([]*client.Client, clients)
	for i := range conns {
		var err error
		if conns[i], err = client.Dial(t.uri()); err != nil {
			return 0, err
		}
		defer conns[i].Close()
	}
	var total atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func(c *client.Client) {
			defer wg.Done()
			n := int64(0)
			for time.Now().Before(deadline) {
				if err := bc.call(ctx, c, t.dom); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n++
			}
			total.Add(n)
		}(c)
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return 0, e.(error)
	}
	return float64(total.Load()) / time.Since(start).Seconds(), nil
}

func defineDomains(ctx context.Context, c *client.Client, n int) error {
	for i := 0; i < n; i++ {
		xml := fmt.Sprintf("<domain type='test'><name>bench%d</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>", i)
		var ret remote.DomainDefineXMLRet
		if err := c.Call(ctx, 11, remote.DomainDefineXMLArgs{XML: xml}, &ret); err != nil {
			return fmt.Errorf("defining domain %d: %w", i, err)
		}
	}
	return nil
}

// startGovirtd builds and starts govirtd on a temporary socket.
func startGovirtd() (string, func(), error) {
	dir, err := os.MkdirTemp("", "gvbench")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "govirtd")
	if *govirtdBin != "" {
		bin = *govirtdBin
	} else if out, err := exec.Command("go", "build", "-o", bin, "govirt/cmd/govirtd").CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("build: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "sock")
	cmd := exec.Command(bin, "--state-dir", filepath.Join(dir, "state"), "--run-dir", filepath.Join(dir, "run"),
		"--socket", sock, "--socket-ro", sock+"-ro", "--log-level", *govirtdLog)
	cmd.Stderr = os.Stderr
	// Its own process group: a ^C on the terminal must not stop govirtd
	// before the bench has destroyed the guests through it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	govirtdPID = cmd.Process.Pid
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
			os.RemoveAll(dir)
		})
	}
	setStop(stop)
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock, stop, nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("govirtd did not start")
}

// ensureLibvirtd reports whether libvirtd answers, starting the baseline
// when possible.
func ensureLibvirtd() bool {
	if c, err := net.Dial("unix", *libvirtdSock); err == nil {
		c.Close()
		return true
	}
	if _, err := os.Stat(*baseline); err != nil || os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: libvirtd not running and cannot be started; printing govirtd alone")
		return false
	}
	if out, err := exec.Command("bash", *baseline, "start").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: starting libvirtd: %v\n%s", err, out)
		return false
	}
	return true
}
