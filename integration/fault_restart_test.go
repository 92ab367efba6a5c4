package integration

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFaultRestartServesDuringRecovery restarts govirtd while one of two
// running guests has its QEMU frozen (SIGSTOP), so that reconnecting to
// it cannot finish. The restarted daemon must open its socket at once,
// list both guests and answer reads on the frozen one, and let the other
// guest be operated on while the frozen one is still being reconnected;
// once QEMU is thawed, the frozen guest's reconnection completes and it
// works too. Reconnecting used to run, guest after guest, before the
// sockets opened: a QEMU slow to answer its monitor (frozen here; one of
// many on a loaded host, or a migration peer asked for an answer, in an
// 80-operation run of TestFaultDaemonKill) kept the daemon from serving
// for the monitor's 30 s timeout or more.
func TestFaultRestartServesDuringRecovery(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killOwnQEMUs(d) })
	dir := t.TempDir()
	uri := d.URI("qemu")
	const frozen, other = "fr0", "fr1"
	for _, g := range []string{frozen, other} {
		faultDiskGuest(t, d, dir, g)
		mustVirsh(t, uri, "start "+g)
	}
	pids := qemuOf(d)[frozen]
	if len(pids) != 1 {
		t.Fatalf("QEMU of %s: %v", frozen, pids)
	}
	pid := pids[0]
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			syscall.Kill(pid, syscall.SIGCONT)
			thawed = true
		}
	}
	t.Cleanup(thaw)

	d.noRecoveryWait = true
	d.crashRestart()
	d.noRecoveryWait = false
	t.Logf("socket open %v after the restart", d.openedIn)
	// Far below the monitor's 30 s timeout, which the frozen QEMU would
	// have run into before the sockets opened.
	if d.openedIn > 10*time.Second {
		t.Errorf("the restarted daemon opened its socket after %v", d.openedIn)
	}
	if n, ok := d.debugQuery("recovering"); !ok || n < 1 {
		t.Errorf("guests being reconnected: %d (ok=%v), want the frozen one at least", n, ok)
	}

	// Reads answer at once, for both guests, from what the status says.
	timed := func(args ...string) string {
		t.Helper()
		began := time.Now()
		out, rc := runVirsh(uri, 60*time.Second, args...)
		if rc != 0 {
			t.Fatalf("virsh %s: rc=%d %s", strings.Join(args, " "), rc, out)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("virsh %s took %v while %s is reconnected", strings.Join(args, " "), took, frozen)
		}
		return out
	}
	list := timed("list", "--all")
	for _, g := range []string{frozen, other} {
		if !strings.Contains(list, g) || !strings.Contains(list, "running") {
			t.Errorf("list during the reconnection:\n%s", list)
		}
	}
	if out := timed("domstate", frozen); strings.TrimSpace(out) != "running" {
		t.Errorf("domstate %s while frozen: %q", frozen, out)
	}
	timed("dominfo", frozen)
	timed("dumpxml", frozen)

	// The other guest was reconnected on its own and obeys.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := usable(d, other); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%s while %s is frozen: %v\n%s", other, frozen, err, d.Log())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st := domState(t, d, other); st != "running (unpaused)" {
		t.Errorf("%s after suspend and resume: %q", other, st)
	}
	if n, _ := d.debugQuery("recovering"); n != 1 {
		t.Errorf("guests being reconnected while %s is frozen: %d, want 1", frozen, n)
	}

	// Thawed, the frozen guest's reconnection completes and it obeys.
	thaw()
	d.waitRecovered()
	if bad := invariants(t, d, []string{frozen, other}); len(bad) > 0 {
		t.Fatalf("after the reconnection: %s\n%s", strings.Join(bad, "; "), d.Log())
	}
	if err := usable(d, frozen); err != nil {
		t.Fatalf("%s after it was thawed: %v\n%s", frozen, err, d.Log())
	}
	for _, l := range strings.Split(d.Log(), "\n") {
		if strings.Contains(l, "cannot reconnect") && strings.Contains(l, "domain="+frozen) {
			t.Errorf("the reconnection failed: %s", l)
		}
	}
}
