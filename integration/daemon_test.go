package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce  sync.Once
	govirtdBin string
	buildErr   error
	binDir     string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildDaemon compiles govirtd once per test run, with the race detector so
// daemon-side races fail the tests too.
func buildDaemon(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "govirt-it-")
		if buildErr != nil {
			return
		}
		govirtdBin = filepath.Join(binDir, "govirtd")
		out, err := exec.Command("go", "build", "-race", "-o", govirtdBin, "govirt/cmd/govirtd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building govirtd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return govirtdBin
}

// daemon is a govirtd started for one test.
type daemon struct {
	t      *testing.T
	dir    string
	Socket string
	SockRO string
	argv   []string
	prefix []string // a command govirtd runs under, e.g. ip netns exec NS
	bin    string   // the govirtd binary; empty for the race-detector build
	env    []string // added to the test's environment, e.g. GOVIRT_JOB_TIMEOUT=3s
	// racesReported is set by a test that already reported the race
	// detector's findings itself (as a known defect), so stop does not.
	racesReported bool
	cmd           *exec.Cmd
	stderr        *syncBuffer
	// noRecoveryWait makes launch return once the socket is open, while
	// guests left running may still be reconnecting; by default launch
	// also waits for that (the daemon's debug socket counts them), so
	// what a test checks after a restart is the recovered state.
	noRecoveryWait bool
	// openedIn is how long the last launch took to open the socket.
	openedIn time.Duration
}

// debugSocket is the GOVIRT_DEBUG_SOCKET launch gives the daemon: the
// test's own if its environment names one, else one in d.dir.
func (d *daemon) debugSocket() string {
	for _, e := range d.env {
		if v, ok := strings.CutPrefix(e, "GOVIRT_DEBUG_SOCKET="); ok {
			return v
		}
	}
	return filepath.Join(d.dir, "dbg.sock")
}

// debugQuery asks the daemon's debug socket one question (see
// cmd/govirtd/debug.go); ok is false when it has no answer to it (an
// older build, or the socket is not there).
func (d *daemon) debugQuery(word string) (n int, ok bool) {
	c, err := net.Dial("unix", d.debugSocket())
	if err != nil {
		return 0, false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(c, "%s\n", word)
	buf, _ := io.ReadAll(c)
	f := strings.Fields(string(buf))
	if len(f) != 2 || f[0] != word {
		return 0, false
	}
	n, err = strconv.Atoi(f[1])
	return n, err == nil
}

// waitRecovered waits until the daemon reconnected every guest an earlier
// one left running (recovery runs in the background once the sockets
// are open).
func (d *daemon) waitRecovered() {
	d.t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		n, ok := d.debugQuery("recovering")
		if !ok || n == 0 {
			return
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Signal(syscall.SIGQUIT)
			time.Sleep(2 * time.Second)
			d.t.Fatalf("govirtd still reconnects %d guests 120 s after it started:\n%s", n, d.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer collects the daemon's stderr; the exec copier writes while
// tests read.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startDaemon runs govirtd on sockets in a temp dir and stops it (with
// SIGTERM, checking for a clean exit) when the test ends.
func startDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, nil, extra...)
}

// startDaemonEnv is startDaemon with variables added to govirtd's
// environment (they stay across crashRestart).
func startDaemonEnv(t *testing.T, env []string, extra ...string) *daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "gv") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	// swtpm runs as tss (libvirt's swtpm_user) and must reach its files.
	os.Chmod(dir, 0o711)
	d := &daemon{t: t, dir: dir, Socket: filepath.Join(dir, "sock"), SockRO: filepath.Join(dir, "sock-ro"), env: env}
	// Tests see only the networks they define: no 'default' network
	// (TestDefaultNetwork turns it back on).
	d.argv = append([]string{"--state-dir", filepath.Join(dir, "state"), "--run-dir", filepath.Join(dir, "run"),
		"--socket", d.Socket, "--socket-ro", d.SockRO, "--no-default-network"}, extra...)
	d.launch()
	t.Cleanup(d.stop)
	return d
}

// launch starts govirtd and waits for its socket.
func (d *daemon) launch() {
	t := d.t
	t.Helper()
	d.stderr = &syncBuffer{}
	bin := d.bin
	if bin == "" {
		bin = buildDaemon(t)
	}
	argv := append(append(append([]string{}, d.prefix...), bin), d.argv...)
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Stderr = d.stderr
	d.cmd.Env = append(append(os.Environ(), d.env...), "GOVIRT_DEBUG_SOCKET="+d.debugSocket())
	began := time.Now()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	// The daemon says when it listens: before that, a dial can reach the
	// socket of the daemon this one replaces, still held open for a
	// moment by a straggler (seen after crashRestart: the dial worked,
	// then the socket was gone and calls were refused until the new
	// daemon, still registering guests, opened its own). A daemon whose
	// log level hides the line is taken at its word after 10 s.
	listening := "msg=listening addr=" + d.Socket + " "
	for {
		c, err := net.Dial("unix", d.Socket)
		if err == nil && !strings.Contains(d.stderr.String(), listening) && time.Since(began) < 10*time.Second {
			c.Close()
			err = fmt.Errorf("%s answers, but govirtd has not said it listens there yet", d.Socket)
		}
		if err == nil {
			c.Close()
			d.openedIn = time.Since(began)
			if !d.noRecoveryWait {
				d.waitRecovered()
			}
			return
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Kill()
			t.Fatalf("govirtd did not start: %v\n%s", err, d.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// crashRestart kills govirtd with SIGKILL and starts it again on the same
// directories, as after a crash.
func (d *daemon) crashRestart() {
	d.t.Helper()
	d.cmd.Process.Kill()
	d.cmd.Wait()
	d.launch()
}

// Log is what govirtd wrote to stderr so far.
func (d *daemon) Log() string { return d.stderr.String() }

func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		// A race build exits 66 after reporting races.
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 66 && d.racesReported {
			err = nil
		}
		if err != nil {
			d.t.Errorf("govirtd exited uncleanly: %v\n%s", err, d.stderr.String())
		}
	case <-time.After(10 * time.Second):
		// A goroutine dump says what held the exit up.
		d.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			d.cmd.Process.Kill()
		}
		d.t.Errorf("govirtd did not exit on SIGTERM\n%s", d.stderr.String())
	}
	// A recovered handler panic costs the client only one call, but it is
	// still a bug: every test that meets one fails.
	if strings.Contains(d.stderr.String(), "handler panic") {
		d.t.Errorf("govirtd recovered a handler panic:\n%s", d.stderr.String())
	}
	if strings.Contains(d.stderr.String(), "DATA RACE") && !d.racesReported {
		d.t.Errorf("race detected in govirtd:\n%s", d.stderr.String())
	}
	os.RemoveAll(d.dir)
}

// URI is the client URI for driver ("test" or "qemu").
func (d *daemon) URI(drv string) string {
	path := "/default"
	if drv == "qemu" {
		path = "/system"
	}
	return fmt.Sprintf("%s+unix://%s?socket=%s", drv, path, d.Socket)
}

// virsh runs /usr/bin/virsh against uri and returns stdout, stderr and the
// exit code.
func virsh(t *testing.T, uri string, args ...string) (string, string, int) {
	t.Helper()
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed (Debian libvirt-clients)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "virsh", append([]string{"-c", uri}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "LC_ALL=C", "VIRSH_DEFAULT_CONNECT_URI=")
	err := cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("virsh %v: %v", args, err)
	}
	return out.String(), errb.String(), rc
}
