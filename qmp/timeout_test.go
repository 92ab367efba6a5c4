package qmp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"govirt/qmp"
	"govirt/qmp/qmptest"
)

func TestPerCommandTimeout(t *testing.T) {
	m, srv := dialFake(t, qmp.Options{Timeouts: map[string]time.Duration{"query-*": 50 * time.Millisecond}},
		qmptest.Options{},
		qmptest.Exchange{Execute: "query-status", NoReply: true},
		qmptest.Return("query-version", nil, nil),
	)
	start := time.Now()
	err := m.Execute(context.Background(), "query-status", nil, nil)
	elapsed := time.Since(start)
	if !errors.Is(err, qmp.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed < 40*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("timed out after %v, want about 50ms", elapsed)
	}
	// A timeout is per command: the monitor stays usable.
	if err := m.Execute(context.Background(), "query-version", nil, nil); err != nil {
		t.Errorf("next command: %v", err)
	}
	srv.Done()
}

func TestCallerDeadlineWins(t *testing.T) {
	m, _ := dialFake(t, qmp.Options{}, qmptest.Options{}, qmptest.Exchange{Execute: "cont", NoReply: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := m.Execute(ctx, "cont", nil, nil)
	if !errors.Is(err, qmp.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v; the 10s table entry must not win over a shorter ctx", d)
	}
}

func TestCancel(t *testing.T) {
	m, _ := dialFake(t, qmp.Options{}, qmptest.Options{}, qmptest.Exchange{Execute: "stop", NoReply: true})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err := m.Execute(ctx, "stop", nil, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, qmp.ErrTimeout) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if err := m.Execute(ctx, "stop", nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("already-cancelled ctx: %v", err)
	}
}

// TestLateReplyDiscarded: the first command's reply arrives after its
// caller gave up and must not be taken for the second command's reply.
func TestLateReplyDiscarded(t *testing.T) {
	m, srv := dialFake(t, qmp.Options{Timeouts: map[string]time.Duration{"query-kvm": 20 * time.Millisecond}},
		qmptest.Options{},
		qmptest.Exchange{Execute: "query-kvm", Reply: []byte(`{"return": {"which": "late"}}`), ReplyDelay: 150 * time.Millisecond},
		qmptest.Exchange{Execute: "query-name", Reply: []byte(`{"return": {"which": "mine"}}`)},
	)
	var ret struct{ Which string }
	if err := m.Execute(context.Background(), "query-kvm", nil, &ret); !errors.Is(err, qmp.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if ret.Which != "" {
		t.Fatalf("timed-out call filled ret: %+v", ret)
	}
	if err := m.Execute(context.Background(), "query-name", nil, &ret); err != nil || ret.Which != "mine" {
		t.Fatalf("second call got %+v, %v", ret, err)
	}
	srv.Done()
}
