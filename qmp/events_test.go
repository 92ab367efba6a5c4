package qmp_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"govirt/qmp"
	"govirt/qmp/qmptest"
)

// recorder collects callbacks in the order they happen.
type recorder struct {
	mu     sync.Mutex
	events []qmp.Event
	eofs   []error
	eofAt  int // len(events) when OnEOF ran
	delay  time.Duration
}

func (r *recorder) onEvent(ev qmp.Event) {
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) onEOF(err error) {
	r.mu.Lock()
	r.eofs = append(r.eofs, err)
	r.eofAt = len(r.events)
	r.mu.Unlock()
}

func seq(t *testing.T, events []qmp.Event) []int {
	t.Helper()
	out := make([]int, len(events))
	for i, ev := range events {
		var d struct{ N int }
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatalf("event %d data %s: %v", i, ev.Data, err)
		}
		out[i] = d.N
	}
	return out
}

func checkSeq(t *testing.T, got []int, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d events delivered, want %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("event %d has n=%d: reordered", i, v)
		}
	}
}

// TestSlowHandlerDoesNotBlockReplies parks OnEvent on the first event and
// checks that commands still complete and that nothing is lost.
func TestSlowHandlerDoesNotBlockReplies(t *testing.T) {
	const n = 2000
	release := make(chan struct{})
	var once sync.Once
	rec := &recorder{}
	m, srv := dialFake(t, qmp.Options{
		OnEvent: func(ev qmp.Event) {
			once.Do(func() { <-release })
			rec.onEvent(ev)
		},
		OnEOF: rec.onEOF,
	}, qmptest.Options{}, qmptest.Return("query-status", nil, map[string]string{"status": "running"}))

	for i := range n {
		srv.SendEvent("BLOCK_JOB_READY", map[string]int{"n": i})
	}
	if err := m.Execute(context.Background(), "query-status", nil, nil); err != nil {
		t.Fatalf("reply blocked behind a stuck handler: %v", err)
	}
	close(release)
	srv.Close()
	waitClosed(t, m.Done(), "Done")

	rec.mu.Lock()
	defer rec.mu.Unlock()
	checkSeq(t, seq(t, rec.events), n)
	if rec.events[0].Name != "BLOCK_JOB_READY" || rec.events[0].Timestamp.IsZero() {
		t.Errorf("first event = %+v", rec.events[0])
	}
	if len(rec.eofs) != 1 || rec.eofAt != n {
		t.Errorf("OnEOF calls %d, after %d events; want 1 after %d", len(rec.eofs), rec.eofAt, n)
	}
}

// TestEOFAfterAllEvents: QEMU sends events then dies; OnEOF must wait for
// a slow handler to see every one of them.
func TestEOFAfterAllEvents(t *testing.T) {
	const n = 100
	rec := &recorder{delay: time.Millisecond}
	m, srv := dialFake(t, qmp.Options{OnEvent: rec.onEvent, OnEOF: rec.onEOF},
		qmptest.Options{}, qmptest.Exchange{
			Execute: "system_powerdown",
			Reply:   []byte(`{"return": {}}`),
			Before:  []qmptest.Event{{Name: "POWERDOWN", Data: map[string]int{"n": 0}}},
			After:   []qmptest.Event{{Name: "SHUTDOWN", Data: map[string]int{"n": 1}}},
		})
	if err := m.Execute(context.Background(), "system_powerdown", nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := 2; i < n; i++ {
		srv.SendEvent("STOP", map[string]int{"n": i})
	}
	srv.Close()
	waitClosed(t, m.Done(), "Done")
	m.Close()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	checkSeq(t, seq(t, rec.events), n)
	if rec.events[0].Name != "POWERDOWN" || rec.events[1].Name != "SHUTDOWN" {
		t.Errorf("events around the reply: %s, %s", rec.events[0].Name, rec.events[1].Name)
	}
	if len(rec.eofs) != 1 || rec.eofAt != n {
		t.Errorf("OnEOF calls %d, after %d events; want 1 after %d", len(rec.eofs), rec.eofAt, n)
	}
}

func TestEventWithoutData(t *testing.T) {
	got := make(chan qmp.Event, 1)
	_, srv := dialFake(t, qmp.Options{OnEvent: func(ev qmp.Event) { got <- ev }}, qmptest.Options{})
	srv.SendEvent("RESUME", nil)
	select {
	case ev := <-got:
		if ev.Name != "RESUME" || ev.Data != nil {
			t.Errorf("event = %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
}

// TestSyncEventsWaitsForEarlierEvents: after a reply, SyncEvents returns
// only once OnEvent has returned for every event QEMU sent before it.
func TestSyncEventsWaitsForEarlierEvents(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	handled := 0
	m, srv := dialFake(t, qmp.Options{
		OnEvent: func(ev qmp.Event) {
			<-release
			mu.Lock()
			handled++
			mu.Unlock()
		},
	}, qmptest.Options{}, qmptest.Return("system_reset", nil, map[string]any{}))
	defer srv.Close()
	srv.SendEvent("SHUTDOWN", nil)
	srv.SendEvent("STOP", nil)
	if err := m.Execute(context.Background(), "system_reset", nil, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := m.SyncEvents(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SyncEvents with the handler stuck: %v", err)
	}
	close(release)
	if err := m.SyncEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if handled != 2 {
		t.Fatalf("SyncEvents returned after %d of 2 events", handled)
	}
}
