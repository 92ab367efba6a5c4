package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitStateErr is waitState returning an error instead of failing.
func waitStateErr(d *daemon, name, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		out, _ := runVirsh(d.URI("qemu"), 60*time.Second, "domstate", "--reason", name)
		if last = strings.TrimSpace(out); last == want {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("state %q after %v, want %q", last, timeout, want)
}

// eventSeen waits for an event line containing want.
func (w *eventWatcher) seen(want string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		for _, l := range w.lines {
			if strings.Contains(l, want) {
				w.mu.Unlock()
				return true
			}
		}
		w.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// waitQEMU polls for the QEMU of guest name (every few ms: a start is
// short) and returns its pid, 0 after the timeout.
func waitQEMU(d *daemon, name string, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ps := qemuOf(d)[name]; len(ps) > 0 {
			return ps[0]
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0
}

// TestFaultQEMUKilledDuringAsyncJob kills a guest's QEMU (by the pid in
// its status, SIGSTOPped first so that the kill lands inside the job)
// during each kind of async job: the guest ends "shut off (crashed)" with
// its lifecycle event, the job fails, and the guest starts again.
func TestFaultQEMUKilledDuringAsyncJob(t *testing.T) {
	src, dst := migrateDaemons(t)
	t.Cleanup(func() { killOwnQEMUs(src); killOwnQEMUs(dst) })
	uri := src.URI("qemu")
	dir := t.TempDir()
	ev := watchEvents(t, uri)
	jobs := []struct {
		kind     string
		off      bool // the job starts from a shut off guest
		transfer bool // killed mid-transfer (domjobinfo shows it) rather than frozen first
		args     func(g string) []string
	}{
		{"start", true, false, func(g string) []string { return []string{"start", g} }},
		{"save", false, false, func(g string) []string { return []string{"managedsave", g} }},
		{"snapshot", false, false, func(g string) []string {
			return []string{"snapshot-create-as", g, "s1", "--disk-only", "--diskspec", "vda,file=" + filepath.Join(dir, g+"-s1.qcow2")}
		}},
		{"migration-out", false, false, func(g string) []string {
			// The destination serves the console on its own socket:
			// two QEMUs cannot bind one path.
			doc := mustVirsh(t, uri, "dumpxml --migratable "+g)
			doc = strings.Replace(doc, filepath.Join(src.dir, g+".console"), filepath.Join(dst.dir, g+".console"), 1)
			return []string{"migrate", "--live", "--bandwidth", "1", g, dst.URI("qemu"), "--xml", writeXML(t, g+"-dst", doc)}
		}},
		{"migration-out-transfer", false, true, func(g string) []string {
			// The destination serves the console on its own socket:
			// two QEMUs cannot bind one path.
			doc := mustVirsh(t, uri, "dumpxml --migratable "+g)
			doc = strings.Replace(doc, filepath.Join(src.dir, g+".console"), filepath.Join(dst.dir, g+".console"), 1)
			return []string{"migrate", "--live", "--bandwidth", "1", g, dst.URI("qemu"), "--xml", writeXML(t, g+"-dst", doc)}
		}},
	}
	for _, j := range jobs {
		t.Run(j.kind, func(t *testing.T) {
			g := "qk-" + j.kind
			faultDiskGuest(t, src, dir, g)
			var pid int
			if !j.off {
				mustVirsh(t, uri, "start "+g)
				pid = statusPID(src, g)
				if pid == 0 {
					t.Fatalf("no pid in the status of %s", g)
				}
				if !j.transfer {
					syscall.Kill(pid, syscall.SIGSTOP)
				}
			}
			args := j.args(g)
			done := make(chan string, 1)
			go func() {
				out, rc := runVirsh(uri, 120*time.Second, args...)
				done <- fmt.Sprintf("rc=%d %s", rc, strings.TrimSpace(out))
			}()
			if j.off {
				// Caught as soon as it exists, before the start is over.
				if pid = waitQEMU(src, g, 60*time.Second); pid == 0 {
					t.Fatalf("no QEMU appeared for the start: %s", <-done)
				}
				syscall.Kill(pid, syscall.SIGSTOP)
			}
			if j.transfer {
				if err := waitTransfer(src, g); err != nil {
					t.Fatal(err)
				}
			} else {
				time.Sleep(500 * time.Millisecond)
			}
			syscall.Kill(pid, syscall.SIGKILL)
			var res string
			select {
			case res = <-done:
			case <-time.After(150 * time.Second):
				t.Fatalf("%s did not return after its QEMU was killed\n%s", j.kind, src.Log())
			}
			t.Logf("%s with QEMU %d killed: %s", strings.Join(args, " "), pid, res)
			// bad are failures; known are issue 11 defects of today's
			// driver (skipped until the job model rewrite is merged):
			// a save cut short is not rolled back.
			var bad, known []string
			if strings.HasPrefix(res, "rc=0 ") {
				bad = append(bad, "the job succeeded: "+res)
			}
			if j.off {
				// A start that fails ends "shut off (failed)" in libvirt
				// (qemuProcessStart's stop path), without a stop event
				// for a guest that never reported started.
				if err := waitStateErr(src, g, "shut off (failed)", 60*time.Second); err != nil {
					bad = append(bad, err.Error())
				}
			} else {
				if err := waitStateErr(src, g, "shut off (crashed)", 60*time.Second); err != nil {
					bad = append(bad, err.Error())
				}
				if !ev.seen(fmt.Sprintf("'lifecycle' for domain '%s': Stopped Failed", g), 30*time.Second) {
					bad = append(bad, "no 'Stopped Failed' lifecycle event")
				}
			}
			if j.kind == "save" {
				if out, _ := runVirsh(uri, 60*time.Second, "dominfo", g); strings.Contains(out, "Managed save:   yes") {
					known = append(known, "the failed save left a managed save image")
				}
			}
			if j.kind == "migration-out" {
				if err := migrationGone(dst, g); err != nil {
					bad = append(bad, err.Error())
				}
			}
			if out, rc := runVirsh(uri, 120*time.Second, "start", g); rc != 0 {
				if j.kind == "save" && len(known) > 0 {
					known = append(known, "start afterwards restores it: "+strings.TrimSpace(out))
				} else {
					bad = append(bad, "start afterwards: "+strings.TrimSpace(out))
				}
			} else if err := waitStateErr(src, g, "running (booted)", 30*time.Second); err != nil {
				bad = append(bad, "after the restart: "+err.Error())
			}
			runVirsh(uri, 60*time.Second, "destroy", g)
			if len(bad)+len(known) > 0 {
				t.Logf("daemon log tail:\n%s", tail(src.Log(), 3000))
			}
			if len(bad) > 0 {
				t.Errorf("QEMU killed during %s: %s", j.kind, strings.Join(bad, "; "))
			}
			if len(known) > 0 {
				knownDefect(t, "QEMU killed during %s: %s", j.kind, strings.Join(known, "; "))
			}
		})
	}
}

// migrationGone checks that an aborted incoming migration left nothing on
// the destination: no guest listed, no QEMU.
func migrationGone(dst *daemon, g string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := runVirsh(dst.URI("qemu"), 60*time.Second, "list", "--all", "--name")
		ps := qemuOf(dst)[g]
		if !strings.Contains(out, g) && len(ps) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("destination still has %s: list %q, QEMU %v", g, strings.TrimSpace(out), ps)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitTransfer waits until domjobinfo shows an async job moving data.
func waitTransfer(d *daemon, g string) error {
	var out string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, _ = runVirsh(d.URI("qemu"), 60*time.Second, "domjobinfo", g)
		if strings.Contains(out, "Unbounded") && strings.Contains(out, "processed") {
			return nil
		}
	}
	return fmt.Errorf("domjobinfo %s never showed a transfer: %s", g, out)
}
