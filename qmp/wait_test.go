package qmp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"govirt/qmp"
	"govirt/qmp/qmptest"
)

func queryMigrate(status, desc string) qmptest.Exchange {
	return qmptest.Return("query-migrate", nil, map[string]any{"status": status, "error-desc": desc})
}

// TestWaitMigrationEvents: statuses from MIGRATION events end the wait
// without polling; a failure reads QEMU's reason once.
func TestWaitMigrationEvents(t *testing.T) {
	m, srv := dialFake(t, qmp.Options{}, qmptest.Options{},
		queryMigrate("active", ""),
		queryMigrate("active", ""),
		queryMigrate("failed", "Unable to write to socket: Broken pipe"),
	)
	ctx := context.Background()
	ch := make(chan string, 2)
	ch <- "active"
	ch <- "completed"
	if err := qmp.WaitMigration(ctx, m, ch, time.Hour); err != nil {
		t.Fatalf("completed: %v", err)
	}
	ch <- "failed"
	err := qmp.WaitMigration(ctx, m, ch, time.Hour)
	var me *qmp.MigrationError
	if !errors.Is(err, qmp.ErrMigrationFailed) || !errors.As(err, &me) || me.Desc != "Unable to write to socket: Broken pipe" {
		t.Fatalf("failed: %v", err)
	}
	if !srv.Done() {
		t.Errorf("%d exchanges left", srv.Remaining())
	}
}

// TestWaitMigrationPolls: without events, query-migrate at each interval
// finds the end; cancelled is its own error.
func TestWaitMigrationPolls(t *testing.T) {
	m, _ := dialFake(t, qmp.Options{}, qmptest.Options{},
		queryMigrate("setup", ""),
		queryMigrate("active", ""),
		queryMigrate("completed", ""),
		queryMigrate("cancelled", ""),
	)
	ctx := context.Background()
	if err := qmp.WaitMigration(ctx, m, nil, 5*time.Millisecond); err != nil {
		t.Fatalf("completed: %v", err)
	}
	err := qmp.WaitMigration(ctx, m, nil, 5*time.Millisecond)
	if !errors.Is(err, qmp.ErrMigrationCancelled) || errors.Is(err, qmp.ErrMigrationFailed) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestWaitMigrationContext: the caller's context ends the wait.
func TestWaitMigrationContext(t *testing.T) {
	m, _ := dialFake(t, qmp.Options{}, qmptest.Options{}, queryMigrate("active", ""))
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan string)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := qmp.WaitMigration(ctx, m, ch, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
}

// TestWaitJob: woken by events, the wait reads query-jobs until the job
// reaches the status wanted; a job that concluded with an error or
// vanished fails.
func TestWaitJob(t *testing.T) {
	jobs := func(status, errText string) qmptest.Exchange {
		return qmptest.Return("query-jobs", nil, []map[string]any{{"id": "commit-vda", "type": "commit", "status": status, "error": errText}})
	}
	m, _ := dialFake(t, qmp.Options{}, qmptest.Options{},
		jobs("running", ""),
		jobs("ready", ""),
		jobs("concluded", "No space left on device"),
		qmptest.Return("query-jobs", nil, []any{}),
	)
	ctx := context.Background()
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	info, err := qmp.WaitJob(ctx, m, "commit-vda", "ready", wake, time.Hour)
	if err != nil || info.Status != "ready" {
		t.Fatalf("ready: %+v %v", info, err)
	}
	if _, err := qmp.WaitJob(ctx, m, "commit-vda", "concluded", nil, time.Hour); !errors.Is(err, qmp.ErrJobFailed) {
		t.Fatalf("failed job: %v", err)
	}
	if _, err := qmp.WaitJob(ctx, m, "commit-vda", "concluded", nil, time.Hour); !errors.Is(err, qmp.ErrJobFailed) {
		t.Fatalf("vanished job: %v", err)
	}
}
