package qemu

import (
	"context"
	"sync"
	"time"

	"govirt/virerr"
)

// jobTimeout is how long an operation waits for another one on the same
// guest before giving up, as libvirt's VIR_JOB_WAIT_TIME.
var jobTimeout = 30 * time.Second

// jobKind is libvirt's virDomainJob: a guest runs at most one sync job.
type jobKind int

const (
	jobNone jobKind = iota
	jobQuery
	jobDestroy
	jobSuspend
	jobModify
	jobAbort
	jobMigrationOp
	// jobNested is a sync step the owner of the async job takes for
	// itself (VIR_JOB_ASYNC_NESTED): it needs no mask.
	jobNested
)

var jobKindNames = [...]string{"none", "query", "destroy", "suspend", "modify", "abort", "migration operation", "async nested"}

func (k jobKind) String() string { return jobKindNames[k] }

// asyncKind is libvirt's virDomainAsyncJob: a guest runs at most one long
// operation, during which the sync jobs in its mask may run.
type asyncKind int

const (
	asyncNone asyncKind = iota
	asyncMigrationOut
	asyncMigrationIn
	asyncSave
	asyncDump
	asyncSnapshot
	asyncStart
	asyncBackup
)

var asyncKindNames = [...]string{"none", "migration out", "migration in", "save", "dump", "snapshot", "start", "backup"}

func (k asyncKind) String() string { return asyncKindNames[k] }

// parseAsyncKind is the inverse of String, for status files.
func parseAsyncKind(s string) asyncKind {
	for i, n := range asyncKindNames {
		if n == s {
			return asyncKind(i)
		}
	}
	return asyncNone
}

func jobMask(kinds ...jobKind) uint32 {
	var m uint32
	for _, k := range kinds {
		m |= 1 << k
	}
	return m
}

// The sync jobs an async job lets run, as libvirt: queries, abort and
// destroy always (VIR_JOB_DEFAULT_MASK); a migration also lets the guest
// be suspended and tuned and its own steps run (MIGRATION_JOB_MASK).
var (
	defaultJobMask   = jobMask(jobQuery, jobDestroy, jobAbort)
	migrationJobMask = defaultJobMask | jobMask(jobSuspend, jobModify, jobMigrationOp)
)

// jobObj is one guest's job state (libvirt's virDomainJobObj). Waiters
// sleep on cond; every change broadcasts, and so do a waiter's deadline
// and its context, so waits end exactly when they should and nothing is
// ever handed over to a waiter that already gave up.
type jobObj struct {
	mu   sync.Mutex
	cond *sync.Cond

	active  jobKind
	owner   string // API that holds the sync job
	started time.Time

	async        asyncKind
	asyncOwner   string
	asyncStarted time.Time
	mask         uint32
	phase        string
}

func newJobObj() *jobObj {
	j := &jobObj{}
	j.cond = sync.NewCond(&j.mu)
	return j
}

func (j *jobObj) wake() {
	j.mu.Lock()
	j.cond.Broadcast()
	j.mu.Unlock()
}

// nestedAllowed is virDomainNestedJobAllowed; call with mu held.
func (j *jobObj) nestedAllowed(k jobKind) bool {
	return j.async == asyncNone || k == jobNone || j.mask&(1<<k) != 0
}

// wait blocks until ready holds, the context ends or the deadline (if
// any) passes; call with mu held.
func (j *jobObj) wait(ctx context.Context, deadline time.Time, ready func() bool) error {
	if ready() {
		return nil
	}
	stop := context.AfterFunc(ctx, j.wake)
	defer stop()
	if !deadline.IsZero() {
		t := time.AfterFunc(time.Until(deadline), j.wake)
		defer t.Stop()
	}
	for !ready() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return context.DeadlineExceeded
		}
		j.cond.Wait()
	}
	return nil
}

// timeoutErr is libvirt's error for a job that could not start in time,
// naming the API that blocks it; call with mu held.
func (j *jobObj) timeoutErr(k jobKind) error {
	blocker := j.owner
	if k != jobNested && !j.nestedAllowed(k) {
		blocker = j.asyncOwner
	}
	if blocker == "" {
		return virerr.New(virerr.FromQemu, virerr.ErrOperationTimeout, "cannot acquire state change lock")
	}
	return virerr.New(virerr.FromQemu, virerr.ErrOperationTimeout,
		"cannot acquire state change lock (held by monitor=%s)", blocker)
}

// begin starts sync job k for api. Every job but destroy gives up after
// jobTimeout; all give up when ctx ends (the caller went away).
func (j *jobObj) begin(ctx context.Context, k jobKind, api string) error {
	var deadline time.Time
	if k != jobDestroy {
		deadline = time.Now().Add(jobTimeout)
	}
	return j.beginUntil(ctx, k, api, deadline)
}

// beginWait starts sync job k with no deadline: for work that must not be
// dropped (event handling), bounded by ctx instead.
func (j *jobObj) beginWait(ctx context.Context, k jobKind, api string) error {
	return j.beginUntil(ctx, k, api, time.Time{})
}

func (j *jobObj) beginUntil(ctx context.Context, k jobKind, api string, deadline time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.wait(ctx, deadline, func() bool {
		return (k == jobNested || j.nestedAllowed(k)) && j.active == jobNone
	})
	if err == context.DeadlineExceeded {
		terr := j.timeoutErr(k)
		if jobTimeoutDelay > 0 {
			// The fault-injection window (GOVIRT_FAULT_DELAY): a waiter
			// that timed out lingers before it returns, with the lock
			// released as any other goroutine would have it. Nothing of
			// the job is touched past the timeout, so nothing goes stale.
			j.mu.Unlock()
			faultDelayed("job_timeout", jobTimeoutDelay)
			j.mu.Lock()
		}
		return terr
	}
	if err != nil {
		return errQEMU(virerr.ErrOperationAborted, "operation aborted: the caller went away")
	}
	j.active, j.owner, j.started = k, api, time.Now()
	return nil
}

// end finishes the sync job.
func (j *jobObj) end() {
	j.mu.Lock()
	j.active, j.owner = jobNone, ""
	j.cond.Broadcast()
	j.mu.Unlock()
}

// beginAsync starts async job k for api, allowing the sync jobs in mask
// meanwhile; it waits for both any sync and any async job to end.
func (j *jobObj) beginAsync(ctx context.Context, k asyncKind, api string, mask uint32) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.wait(ctx, time.Now().Add(jobTimeout), func() bool {
		return j.async == asyncNone && j.active == jobNone
	})
	if err == context.DeadlineExceeded {
		blocker := j.owner
		if j.async != asyncNone {
			blocker = j.asyncOwner
		}
		if blocker == "" {
			return virerr.New(virerr.FromQemu, virerr.ErrOperationTimeout, "cannot acquire state change lock")
		}
		return virerr.New(virerr.FromQemu, virerr.ErrOperationTimeout,
			"cannot acquire state change lock (held by monitor=%s)", blocker)
	}
	if err != nil {
		return errQEMU(virerr.ErrOperationAborted, "operation aborted: the caller went away")
	}
	j.async, j.asyncOwner, j.asyncStarted, j.mask, j.phase = k, api, time.Now(), mask|jobMask(jobDestroy), ""
	return nil
}

// endAsync finishes the async job.
func (j *jobObj) endAsync() {
	j.mu.Lock()
	j.async, j.asyncOwner, j.mask, j.phase = asyncNone, "", 0, ""
	j.cond.Broadcast()
	j.mu.Unlock()
}

func (j *jobObj) setPhase(p string) {
	j.mu.Lock()
	j.phase = p
	j.mu.Unlock()
}

// asyncInfo reports the async job, its owner, phase and start.
func (j *jobObj) asyncInfo() (asyncKind, string, string, time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.async, j.asyncOwner, j.phase, j.asyncStarted
}

// acquire and release keep the simple form for modifying operations:
// a "modify" job owned by op.
func (j *jobObj) acquire(op string) error {
	return j.begin(context.Background(), jobModify, apiName(op))
}

func (j *jobObj) release() { j.end() }

// apiName is the owner libvirt names for a job the daemon takes on its
// own (event handling, autostart). A client's call is named after
// libvirtd's dispatcher function for it (remoteDispatchDomainSuspend),
// which the connection serving the call carries (conn.owner).
func apiName(op string) string {
	if n, ok := internalOwners[op]; ok {
		return n
	}
	return op
}

var internalOwners = map[string]string{
	"autostart":        "qemuAutostartDomain",
	"stop after EOF":   "qemuProcessEventHandler",
	"crash handling":   "qemuProcessEventHandler",
	"watchdog dump":    "qemuProcessEventHandler",
	"fake reboot":      "qemuProcessEventHandler",
	"device removal":   "qemuProcessEventHandler",
	"block completion": "qemuProcessEventHandler",
}
