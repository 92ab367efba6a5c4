package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Two of issue 11's defects were first shown by unit tests only (see
// docs/issue11-regressions.md); these show them through virsh against a
// running govirtd.

// TestFaultJobTimeoutWindow is the job-lock wedge through virsh. The old
// lock's waiter, on timing out, took the holder's name out of a channel
// to quote it and put it back; a release and a new job landing between
// the two left a stale name behind, and the next job blocked forever
// while holding the lock. GOVIRT_FAULT_DELAY=job_timeout makes a waiter
// that timed out linger there for seconds, so the sequence is exact:
// H holds the job on a frozen QEMU; W times out behind it and lingers;
// H ends, T takes and releases the job; W returns; then U must get the
// job (on the old lock U hung, and every job after it).
func TestFaultJobTimeoutWindow(t *testing.T) {
	const linger = 8 * time.Second
	d := startDaemonEnv(t, []string{"GOVIRT_JOB_TIMEOUT=3s", fmt.Sprintf("GOVIRT_FAULT_DELAY=job_timeout:%v", linger)})
	t.Cleanup(func() { killOwnQEMUs(d) })
	dir := t.TempDir()
	uri := d.URI("qemu")
	const g = "fw0"
	faultDiskGuest(t, d, dir, g)
	mustVirsh(t, uri, "start "+g)
	pids := qemuOf(d)[g]
	if len(pids) != 1 {
		t.Fatalf("QEMU of %s: %v", g, pids)
	}
	pid := pids[0]
	syscall.Kill(pid, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })

	call := func(args ...string) chan string {
		ch := make(chan string, 1)
		go func() {
			out, rc := runVirsh(uri, 120*time.Second, args...)
			ch <- fmt.Sprintf("rc=%d %s", rc, strings.Join(strings.Fields(out), " "))
		}()
		return ch
	}
	// H: a monitor command on the frozen QEMU holds the job.
	h := call("qemu-monitor-command", g, `{"execute":"query-status"}`)
	time.Sleep(1500 * time.Millisecond)
	// W: waits behind H, times out and lingers.
	w := call("suspend", g)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(d.Log(), "fault delay reached"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no job waiter timed out:\n%s", d.Log())
		}
	}
	windowOpen := time.Now()
	// H ends once QEMU answers; T takes and releases the job while W
	// still lingers.
	syscall.Kill(pid, syscall.SIGCONT)
	if res := <-h; !strings.HasPrefix(res, "rc=0") {
		t.Fatalf("qemu-monitor-command on the thawed QEMU: %s", res)
	}
	for _, op := range []string{"suspend", "resume"} {
		if out, rc := runVirsh(uri, 60*time.Second, op, g); rc != 0 {
			t.Fatalf("%s while the timed-out waiter lingers: rc=%d %s", op, rc, out)
		}
	}
	if strings.Contains(d.Log(), "fault delay over") {
		t.Fatalf("the waiter returned %v after its timeout, before the other jobs ran: the host is too slow for the window", time.Since(windowOpen))
	}
	res := <-w
	if !strings.Contains(res, "cannot acquire state change lock") {
		t.Errorf("the waiter behind the frozen QEMU: %s, want the job timeout", res)
	}
	t.Logf("waiter: %s", res)
	// U: the next jobs get the lock.
	for _, op := range []string{"suspend", "resume", "destroy"} {
		if out, rc := runVirsh(uri, 20*time.Second, op, g); rc != 0 {
			t.Fatalf("%s after the window (rc=-1: it never returned, the lock is wedged): rc=%d %s\n%s", op, rc, out, tail(d.Log(), 3000))
		}
	}
}

// TestFaultTransientGuestsLeaveNothing is the leak of driver tables
// through virsh: transient guests are created, tainted (a
// qemu-monitor-command) and destroyed one after the other, and the guest
// objects the daemon holds, read from its debug socket after a garbage
// collection, must be back to what they were, as must its goroutines. The
// old blockStates and taints tables, keyed by guest, kept every one of
// them. The long form (GOVIRT_FAULT_OPS) runs 200 guests.
func TestFaultTransientGuestsLeaveNothing(t *testing.T) {
	n := 25
	if os.Getenv("GOVIRT_FAULT_OPS") != "" {
		n = 200
	}
	d := startDaemon(t)
	t.Cleanup(func() { killOwnQEMUs(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	// A persistent guest that stays: its object must stay counted.
	faultDiskGuest(t, d, dir, "lkkeep")
	before, ok := d.debugQuery("guests")
	gBefore, _ := d.debugQuery("goroutines")
	if !ok {
		t.Fatal("the daemon's debug socket does not count guests")
	}
	began := time.Now()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("lk%d", i)
		path := filepath.Join(dir, name+".xml")
		os.WriteFile(path, []byte(testGuestXML(t, name, "", "")), 0o644)
		for _, args := range [][]string{{"create", "--paused", path}, {"qemu-monitor-command", name, `{"execute":"query-status"}`}, {"destroy", name}} {
			if out, rc := runVirsh(uri, 120*time.Second, args...); rc != 0 {
				t.Fatalf("guest %d: virsh %s: rc=%d %s", i, strings.Join(args, " "), rc, out)
			}
		}
	}
	t.Logf("%d transient guests created and destroyed in %v", n, time.Since(began))
	if out, _ := runVirsh(uri, 60*time.Second, "list", "--all", "--name"); strings.TrimSpace(out) != "lkkeep" {
		t.Errorf("guests listed afterwards: %q", out)
	}
	after, _ := d.debugQuery("guests")
	t.Logf("guest objects: %d before, %d after", before, after)
	if after != before {
		t.Errorf("the daemon holds %d guest objects after %d transient guests came and went, %d before (leak)", after, n, before)
	}
	var gAfter int
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		gAfter, _ = d.debugQuery("goroutines")
		if gAfter <= gBefore || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("daemon goroutines: %d before, %d after", gBefore, gAfter)
	if gAfter > gBefore {
		t.Errorf("daemon goroutines %d before, %d after (leak)", gBefore, gAfter)
	}
	if ps := qemuOf(d); len(ps) > 0 {
		t.Errorf("QEMUs left: %v", ps)
	}
}

// TestFaultPivotRecordedWindow kills the daemon right after a pivoted
// commit's outcome reached the status file (GOVIRT_FAULT_POINT=
// blockjob_recorded) and restarts it: QEMU, the live and the persistent
// definition must all name the base image. The persistent definition was
// written last, after the status no longer named the job, so this kill
// left it on the merged overlay for good (found by a 150-operation run of
// TestFaultDaemonKill, seed 20261209).
func TestFaultPivotRecordedWindow(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killOwnQEMUs(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	const g = "fp0"
	faultDiskGuest(t, d, dir, g)
	mustVirsh(t, uri, "start "+g)
	mustVirsh(t, uri, fmt.Sprintf("snapshot-create-as %s s1 --disk-only --atomic --diskspec vda,file=%s/%s-s1.qcow2", g, dir, g))
	d.env = []string{"GOVIRT_FAULT_POINT=blockjob_recorded"}
	d.crashRestart()
	out, rc := runVirsh(uri, 120*time.Second, "blockcommit", g, "vda", "--active", "--pivot", "--wait", "--timeout", "60")
	if !strings.Contains(d.Log(), "fault point reached") {
		t.Fatalf("blockcommit did not reach the fault point: rc=%d %s\n%s", rc, out, d.Log())
	}
	d.env = nil
	d.crashRestart()
	if bad := invariants(t, d, []string{g}); len(bad) > 0 {
		t.Fatalf("after a kill once the pivot was recorded: %s\n%s", strings.Join(bad, "; "), d.Log())
	}
	live, _ := runVirsh(uri, 60*time.Second, "dumpxml", g)
	if src := vdaSource(live); src != filepath.Join(dir, g+".qcow2") {
		t.Errorf("vda after the pivot: %q, want the base image", src)
	}
}
