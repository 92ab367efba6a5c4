package qemu

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"govirt/virerr"
)

func wantTimeout(t *testing.T, err error, msg string) {
	t.Helper()
	var ve *virerr.Error
	if !errors.As(err, &ve) || ve.Code != virerr.ErrOperationTimeout || ve.Message != msg {
		t.Fatalf("got %v, want %q", err, msg)
	}
}

func shortJobTimeout(t *testing.T, d time.Duration) {
	old := jobTimeout
	jobTimeout = d
	t.Cleanup(func() { jobTimeout = old })
}

// TestJobTimeout: a second modifying operation waits for the job, then
// fails with libvirt's timeout error naming the API that holds it.
func TestJobTimeout(t *testing.T) {
	shortJobTimeout(t, 50*time.Millisecond)
	j := newJobObj()
	if err := j.begin(context.Background(), jobModify, "remoteDispatchDomainSuspend"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := j.acquire("resume")
	wantTimeout(t, err, "Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainSuspend)")
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", el)
	}
	j.release()
	if err := j.acquire("resume"); err != nil {
		t.Fatalf("after release: %v", err)
	}
	j.release()
}

// TestAsyncJobMask: during an async job the jobs in its mask (and
// destroy, always) run at once; the others wait and time out naming the
// async job's API; a second async job waits for the first.
func TestAsyncJobMask(t *testing.T) {
	shortJobTimeout(t, 50*time.Millisecond)
	j := newJobObj()
	ctx := context.Background()
	if err := j.beginAsync(ctx, asyncSave, "remoteDispatchDomainSave", defaultJobMask); err != nil {
		t.Fatal(err)
	}
	for _, k := range []jobKind{jobQuery, jobAbort, jobDestroy} {
		if err := j.begin(ctx, k, "x"); err != nil {
			t.Fatalf("%s during save: %v", k, err)
		}
		j.end()
	}
	wantTimeout(t, j.begin(ctx, jobModify, "remoteDispatchDomainSetVcpusFlags"),
		"Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainSave)")
	wantTimeout(t, j.beginAsync(ctx, asyncSnapshot, "remoteDispatchDomainSnapshotCreateXML", defaultJobMask),
		"Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainSave)")
	// The owner's nested step excludes the allowed jobs.
	if err := j.begin(ctx, jobNested, "remoteDispatchDomainSave"); err != nil {
		t.Fatal(err)
	}
	wantTimeout(t, j.begin(ctx, jobQuery, "remoteDispatchDomainGetBlockInfo"),
		"Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainSave)")
	j.end()
	j.endAsync()
	if err := j.begin(ctx, jobModify, "y"); err != nil {
		t.Fatalf("after the async job: %v", err)
	}
	j.end()
}

// TestDestroyJobNeverTimesOut: destroy waits for a sync job however long
// it takes, and gets it as soon as it ends.
func TestDestroyJobNeverTimesOut(t *testing.T) {
	shortJobTimeout(t, 20*time.Millisecond)
	j := newJobObj()
	ctx := context.Background()
	if err := j.begin(ctx, jobModify, "remoteDispatchDomainSuspend"); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- j.begin(ctx, jobDestroy, "remoteDispatchDomainDestroy") }()
	select {
	case err := <-got:
		t.Fatalf("destroy did not wait: %v", err)
	case <-time.After(10 * jobTimeout):
	}
	j.end()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("destroy still waiting after the holder ended")
	}
	j.end()
}

// TestJobWaitContext: a waiter whose caller went away stops waiting at
// once and leaves the job as it was.
func TestJobWaitContext(t *testing.T) {
	j := newJobObj()
	if err := j.begin(context.Background(), jobModify, "holder"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { got <- j.begin(ctx, jobDestroy, "waiter") }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-got:
		var ve *virerr.Error
		if !errors.As(err, &ve) || ve.Code != virerr.ErrOperationAborted {
			t.Fatalf("got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled waiter still waiting")
	}
	j.mu.Lock()
	owner := j.owner
	j.mu.Unlock()
	if owner != "holder" {
		t.Fatalf("owner %q after a waiter gave up", owner)
	}
	j.end()
}

// TestJobStress is the regression test of the old channel lock's wedge:
// waiters timing out while holders come and go must never leave a stale
// owner behind nor let two hold the job; afterwards the job is free.
func TestJobStress(t *testing.T) {
	shortJobTimeout(t, time.Millisecond)
	j := newJobObj()
	var inside, violations atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				k := []jobKind{jobModify, jobQuery, jobDestroy, jobSuspend}[(g+i)%4]
				var err error
				if i%7 == 0 {
					ctx, cancel := context.WithTimeout(context.Background(), 200*time.Microsecond)
					err = j.begin(ctx, k, "w")
					cancel()
				} else if k == jobDestroy {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
					err = j.begin(ctx, k, "w")
					cancel()
				} else {
					err = j.begin(context.Background(), k, "w")
				}
				if err != nil {
					continue
				}
				if inside.Add(1) != 1 {
					violations.Add(1)
				}
				time.Sleep(time.Duration(i%3) * 100 * time.Microsecond)
				inside.Add(-1)
				j.end()
			}
		}(g)
	}
	wg.Wait()
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d times two operations held the job", v)
	}
	j.mu.Lock()
	active, owner := j.active, j.owner
	j.mu.Unlock()
	if active != jobNone || owner != "" {
		t.Fatalf("job left held: %s by %q", active, owner)
	}
	done := make(chan error, 1)
	go func() { done <- j.begin(context.Background(), jobModify, "after") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("job wedged")
	}
	j.end()
}
