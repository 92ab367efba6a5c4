package qemu

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"govirt/conf"
	"govirt/driver"
)

// fakeMonitor records commands and answers them successfully.
type fakeMonitor struct {
	mu   sync.Mutex
	cmds []string
	// after runs after each command, to play QEMU's events.
	after func(cmd string)
	// synced, when set, is what SyncEvents waits for: the test closes it
	// once it delivered the events QEMU would have sent before a reply.
	synced chan struct{}
}

func (f *fakeMonitor) SyncEvents(ctx context.Context) error {
	if f.synced == nil {
		return nil
	}
	select {
	case <-f.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeMonitor) Execute(_ context.Context, cmd string, _, ret any) error {
	f.mu.Lock()
	f.cmds = append(f.cmds, cmd)
	f.mu.Unlock()
	if cmd == "query-migrate-capabilities" && ret != nil {
		// What QEMU 7.2 has of the capabilities migrations turn on.
		_ = json.Unmarshal([]byte(`[{"capability":"xbzrle","state":false},{"capability":"auto-converge","state":false},
			{"capability":"events","state":false},{"capability":"postcopy-ram","state":false},{"capability":"compress","state":false},
			{"capability":"return-path","state":false},{"capability":"multifd","state":false},{"capability":"zero-copy-send","state":false}]`), ret)
	}
	if f.after != nil {
		f.after(cmd)
	}
	return nil
}

func (f *fakeMonitor) Close() error { return nil }

func (f *fakeMonitor) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

// runningVM makes a driver with one guest that looks running on mon.
func runningVM(t *testing.T, mon *fakeMonitor, extra string) (*Driver, *vm, <-chan driver.DomainEvent) {
	t.Helper()
	dir := t.TempDir()
	d := New(Config{StateDir: dir + "/state", RunDir: dir + "/run"})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	def, err := conf.ParseDomain([]byte("<domain type='qemu'><name>ev</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>"+extra+"</domain>"), 0)
	if err != nil {
		t.Fatal(err)
	}
	v := newVM(def, true)
	d.doms.add(v)
	v.live, v.mon, v.id = def.Clone(), mon, d.doms.assignID(v, 0)
	v.setState(driver.StateRunning, driver.RunningBooted)
	ch := make(chan driver.DomainEvent, 64)
	sub := d.bus.Subscribe(func(ev any) {
		if e, ok := ev.(driver.DomainEvent); ok {
			ch <- e
		}
	})
	t.Cleanup(sub.Close)
	// The worker may still be saving status when a test ends; let it
	// finish before the temp dir goes.
	t.Cleanup(func() {
		for i := 0; i < 500; i++ {
			v.work.mu.Lock()
			busy := v.work.running
			v.work.mu.Unlock()
			if !busy {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	return d, v, ch
}

func state(v *vm) (driver.State, int32) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state, v.reason
}

func nextEvent(t *testing.T, ch <-chan driver.DomainEvent) driver.DomainEvent {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return driver.DomainEvent{}
}

func wantLifecycle(t *testing.T, ch <-chan driver.DomainEvent, event, detail int32) {
	t.Helper()
	e := nextEvent(t, ch)
	if e.ID != driver.EventIDLifecycle || e.Event != event || e.Detail != detail {
		t.Fatalf("event %+v, want lifecycle %d/%d", e, event, detail)
	}
}

func TestStopResumeFollowEvents(t *testing.T) {
	mon := &fakeMonitor{}
	d, v, ch := runningVM(t, mon, "")
	v.pausedReason = driver.PausedUser
	d.handleEvent(v, "STOP", nil)
	if s, r := state(v); s != driver.StatePaused || r != driver.PausedUser {
		t.Fatalf("after STOP: %d/%d", s, r)
	}
	wantLifecycle(t, ch, driver.EventSuspended, driver.EventSuspendedPaused)
	d.handleEvent(v, "RESUME", nil)
	if s, r := state(v); s != driver.StateRunning || r != driver.RunningUnpaused {
		t.Fatalf("after RESUME: %d/%d", s, r)
	}
	wantLifecycle(t, ch, driver.EventResumed, driver.EventResumedUnpaused)
	// A repeated RESUME changes nothing and says nothing.
	d.handleEvent(v, "RESUME", nil)
	select {
	case e := <-ch:
		t.Fatalf("unexpected %+v", e)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestFakeReboot: a SHUTDOWN while a reboot was asked for is turned into
// system_reset + cont; the guest stays running, with reason booted.
func TestFakeReboot(t *testing.T) {
	mon := &fakeMonitor{}
	d, v, ch := runningVM(t, mon, "")
	mon.after = func(cmd string) {
		if cmd == "system_reset" {
			d.handleEvent(v, "RESET", nil)
		}
		if cmd == "cont" {
			d.handleEvent(v, "RESUME", nil)
		}
	}
	v.reason = driver.RunningUnpaused
	v.fakeReboot = true
	// QEMU sends STOP right after SHUTDOWN, before it reads system_reset;
	// the reset's reply may still reach the worker first.
	mon.synced = make(chan struct{})
	guest := json.RawMessage(`{"guest":true,"reason":"guest-shutdown"}`)
	d.handleEvent(v, "SHUTDOWN", guest)
	time.Sleep(20 * time.Millisecond) // let the worker get system_reset's reply first
	d.handleEvent(v, "STOP", nil)     // QEMU pauses after a guest shutdown; it must stay hidden
	close(mon.synced)
	e := nextEvent(t, ch)
	if e.ID != driver.EventIDReboot {
		t.Fatalf("event %+v, want reboot", e)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s, r := state(v); s == driver.StateRunning && r == driver.RunningBooted && len(mon.commands()) == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := mon.commands(); len(got) != 2 || got[0] != "system_reset" || got[1] != "cont" {
		t.Fatalf("commands %v", got)
	}
	if s, r := state(v); s != driver.StateRunning || r != driver.RunningBooted {
		t.Fatalf("after fake reboot: %d/%d", s, r)
	}
	select {
	case e := <-ch:
		t.Fatalf("a fake reboot must not show as suspend/resume: %+v", e)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestCrashRestartHonoursResume: GUEST_PANICKED with on_crash=restart
// crashes, resets and continues; RESUME makes it running (crashed).
func TestCrashRestartHonoursResume(t *testing.T) {
	mon := &fakeMonitor{}
	d, v, ch := runningVM(t, mon, "<on_crash>restart</on_crash>")
	mon.after = func(cmd string) {
		if cmd == "cont" {
			d.handleEvent(v, "RESUME", nil)
		}
	}
	d.handleEvent(v, "GUEST_PANICKED", json.RawMessage(`{"action":"pause"}`))
	wantLifecycle(t, ch, driver.EventCrashed, driver.EventCrashedPanicked)
	wantLifecycle(t, ch, driver.EventResumed, driver.EventResumedUnpaused)
	if s, r := state(v); s != driver.StateRunning || r != driver.RunningCrashed {
		t.Fatalf("after crash-restart: %d/%d", s, r)
	}
}

// TestShutdownStopsQEMUOnEOF: a guest shutdown is shutoff (shutdown) once
// QEMU's monitor goes away; an EOF without SHUTDOWN is a crash.
func TestShutdownThenEOF(t *testing.T) {
	for _, tc := range []struct {
		shutdown bool
		reason   int32
		detail   int32
	}{
		{true, driver.ShutoffShutdown, driver.EventStoppedShutdown},
		{false, driver.ShutoffCrashed, driver.EventStoppedFailed},
	} {
		mon := &fakeMonitor{}
		d, v, ch := runningVM(t, mon, "")
		if tc.shutdown {
			d.handleEvent(v, "SHUTDOWN", json.RawMessage(`{"guest":true}`))
			wantLifecycle(t, ch, driver.EventShutdown, driver.EventShutdownGuest)
		}
		d.monitorEOF(v)
		wantLifecycle(t, ch, driver.EventStopped, tc.detail)
		if s, r := state(v); s != driver.StateShutoff || r != tc.reason {
			t.Fatalf("shutdown=%v: %d/%d", tc.shutdown, s, r)
		}
	}
}
