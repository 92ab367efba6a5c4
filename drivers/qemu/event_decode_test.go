package qemu

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"govirt/driver"
)

// syncBuffer is a log sink safe for the event and worker goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEventDecodeErrorLogged: an event whose data does not match its
// type is logged, not silently dropped, and still handled by its name:
// a SHUTDOWN with a malformed "guest" still shuts the guest down.
func TestEventDecodeErrorLogged(t *testing.T) {
	d, v, ch := runningVM(t, &fakeMonitor{}, "")
	var logs syncBuffer
	d.log = slog.New(slog.NewTextHandler(&logs, nil))
	d.handleEvent(v, "SHUTDOWN", json.RawMessage(`{"guest":"yes"}`))
	if e := nextEvent(t, ch); e.ID != driver.EventIDLifecycle || e.Event != driver.EventShutdown {
		t.Fatalf("event %+v, want a shutdown", e)
	}
	if s, _ := state(v); s != driver.StateShutdown {
		t.Fatalf("state %d, want shutdown", s)
	}
	out := logs.String()
	if !strings.Contains(out, "cannot decode QMP event") || !strings.Contains(out, "SHUTDOWN") {
		t.Fatalf("decode error not logged: %q", out)
	}
}

// TestEventTableDispatch: the typed events owned by other parts of the
// driver reach their handlers through the one table: RTC_CHANGE,
// WATCHDOG and BLOCK_IO_ERROR publish their events.
func TestEventTableDispatch(t *testing.T) {
	d, v, ch := runningVM(t, &fakeMonitor{}, "")
	d.handleEvent(v, "RTC_CHANGE", json.RawMessage(`{"offset":42}`))
	if e := nextEvent(t, ch); e.ID != driver.EventIDRTCChange || e.Payload.(driver.RTCChange).Offset != 42 {
		t.Fatalf("rtc: %+v", e)
	}
	d.handleEvent(v, "WATCHDOG", json.RawMessage(`{"action":"reset"}`))
	if e := nextEvent(t, ch); e.ID != driver.EventIDWatchdog || e.Payload.(driver.Watchdog).Action != 2 {
		t.Fatalf("watchdog: %+v", e)
	}
	d.handleEvent(v, "BLOCK_IO_ERROR", json.RawMessage(`{"device":"virtio-disk0","action":"report","reason":"EIO"}`))
	for _, id := range []driver.EventID{driver.EventIDIOError, driver.EventIDIOErrorReason} {
		e := nextEvent(t, ch)
		p, ok := e.Payload.(driver.IOError)
		if e.ID != id || !ok || p.DevAlias != "virtio-disk0" || p.Reason != "EIO" || p.Action != 2 {
			t.Fatalf("io error: %+v", e)
		}
	}
}
