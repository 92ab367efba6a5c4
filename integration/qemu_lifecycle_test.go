package integration

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/testguest"
)

// eventWatcher records `virsh event --loop --all` output.
type eventWatcher struct {
	mu    sync.Mutex
	lines []string
}

func watchEvents(t *testing.T, uri string) *eventWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "virsh", "-c", uri, "event", "--loop", "--all")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	w := &eventWatcher{}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "event ") {
				w.mu.Lock()
				w.lines = append(w.lines, l)
				w.mu.Unlock()
			}
		}
	}()
	time.Sleep(time.Second) // let it register
	return w
}

// expect waits until the recorded events contain want in order (other
// events may come between).
func (w *eventWatcher) expect(t *testing.T, want []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		got := append([]string(nil), w.lines...)
		w.mu.Unlock()
		i := 0
		for _, l := range got {
			if i < len(want) && strings.Contains(l, want[i]) {
				i++
			}
		}
		if i == len(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events:\n%s\nmissing (in order) from %q", strings.Join(got, "\n"), want[i])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestQEMULifecycle drives a real guest through virsh: define, start,
// dominfo, domstate --reason, suspend, resume, reboot (fake reboot), shutdown
// (the guest powers off), start, destroy, undefine, and checks the events.
func TestQEMULifecycle(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	ev := watchEvents(t, uri)
	sock := defineGuest(t, d, "g1", "")

	mustVirsh(t, uri, "start g1")
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, d.Log())
	}
	waitState(t, d, "g1", "running (booted)", 5*time.Second)
	info := mustVirsh(t, uri, "dominfo g1")
	for _, want := range []string{"Name:           g1", "State:          running", "Max memory:     131072 KiB"} {
		if !strings.Contains(info, want) {
			t.Errorf("dominfo lacks %q:\n%s", want, info)
		}
	}

	mustVirsh(t, uri, "suspend g1")
	waitState(t, d, "g1", "paused (user)", 5*time.Second)
	mustVirsh(t, uri, "resume g1")
	waitState(t, d, "g1", "running (unpaused)", 5*time.Second)

	mustVirsh(t, uri, "reboot g1")
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("guest did not come back after reboot: %v", err)
	}
	waitState(t, d, "g1", "running (booted)", 10*time.Second)

	mustVirsh(t, uri, "shutdown g1")
	waitState(t, d, "g1", "shut off (shutdown)", bootTimeout())

	mustVirsh(t, uri, "start g1")
	waitState(t, d, "g1", "running (booted)", 10*time.Second)
	mustVirsh(t, uri, "destroy g1")
	waitState(t, d, "g1", "shut off (destroyed)", 5*time.Second)
	if _, errOut, rc := virsh(t, uri, "destroy g1"); rc == 0 || !strings.Contains(errOut, "domain is not running") {
		t.Errorf("destroy of a stopped guest: rc=%d %s", rc, errOut)
	}
	mustVirsh(t, uri, "undefine g1")

	ev.expect(t, []string{
		"'lifecycle' for domain 'g1': Defined Added",
		"'lifecycle' for domain 'g1': Started Booted",
		"'lifecycle' for domain 'g1': Suspended Paused",
		"'lifecycle' for domain 'g1': Resumed Unpaused",
		"'reboot' for domain 'g1'",
		"'lifecycle' for domain 'g1': Shutdown Finished after guest request",
		"'lifecycle' for domain 'g1': Stopped Shutdown",
		"'lifecycle' for domain 'g1': Started Booted",
		"'lifecycle' for domain 'g1': Stopped Destroyed",
		"'lifecycle' for domain 'g1': Undefined Removed",
	}, 10*time.Second)
}

// TestQEMUCrashActions panics the guest: with on_crash=restart it comes
// back running (RESUME honoured after the crash-reboot), with
// on_crash=destroy it is shut off (crashed).
func TestQEMUCrashActions(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	ev := watchEvents(t, uri)
	for _, tc := range []struct{ name, action, want string }{
		{"cr", "restart", "running (crashed)"},
		{"cd", "destroy", "shut off (crashed)"},
	} {
		sock := defineGuest(t, d, tc.name, "<on_crash>"+tc.action+"</on_crash>")
		mustVirsh(t, uri, "start "+tc.name)
		con := console(t, sock)
		if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
			t.Fatalf("%s did not boot: %v", tc.name, err)
		}
		con.Send("gv-panic")
		waitState(t, d, tc.name, tc.want, bootTimeout())
		if tc.action == "restart" {
			if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
				t.Fatalf("%s did not boot again after the crash: %v", tc.name, err)
			}
			mustVirsh(t, uri, "destroy "+tc.name)
		}
	}
	ev.expect(t, []string{
		"'lifecycle' for domain 'cr': Crashed Panicked",
		"'lifecycle' for domain 'cr': Resumed Unpaused",
		"'lifecycle' for domain 'cd': Crashed Panicked",
		"'lifecycle' for domain 'cd': Stopped Crashed",
	}, 10*time.Second)
}

// TestQEMUSaveRestore saves a running guest to a file and restores it,
// then does the same through managed save and start.
func TestQEMUSaveRestore(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	sock := defineGuest(t, d, "sv", "")
	mustVirsh(t, uri, "start sv")
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatal(err)
	}
	img := t.TempDir() + "/sv.save"
	mustVirsh(t, uri, "save sv "+img)
	waitState(t, d, "sv", "shut off (saved)", 5*time.Second)
	mustVirsh(t, uri, "restore "+img)
	waitState(t, d, "sv", "running (restored)", 10*time.Second)
	// The restored guest is the same one: its shell still answers.
	con = console(t, sock)
	con.Send("echo GV-ALIVE-$((40+2))")
	if _, err := con.Expect("GV-ALIVE-42", 30*time.Second); err != nil {
		t.Fatalf("restored guest does not answer: %v", err)
	}
	mustVirsh(t, uri, "managedsave sv")
	waitState(t, d, "sv", "shut off (saved)", 5*time.Second)
	if out := mustVirsh(t, uri, "dominfo sv"); !strings.Contains(out, "Managed save:   yes") {
		t.Errorf("dominfo after managedsave:\n%s", out)
	}
	// Listings filter on the image too (they answer from a cached
	// snapshot of the save directory and the guests).
	if out := mustVirsh(t, uri, "list --all --with-managed-save --name"); strings.TrimSpace(out) != "sv" {
		t.Errorf("list --with-managed-save after managedsave: %q", out)
	}
	mustVirsh(t, uri, "start sv")
	waitState(t, d, "sv", "running (restored)", 10*time.Second)
	if out := mustVirsh(t, uri, "dominfo sv"); !strings.Contains(out, "Managed save:   no") {
		t.Errorf("managed save image left after start:\n%s", out)
	}
	if out := mustVirsh(t, uri, "list --all --with-managed-save --name"); strings.TrimSpace(out) != "" {
		t.Errorf("list --with-managed-save after start: %q", out)
	}
	if out := mustVirsh(t, uri, "list --state-running --name"); strings.TrimSpace(out) != "sv" {
		t.Errorf("list --state-running after start: %q", out)
	}
	mustVirsh(t, uri, "destroy sv")
}
