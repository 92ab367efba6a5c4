package qmp

import (
	"context"
	"fmt"
	"time"
)

// Wait is the one loop behind every wait for a long QEMU operation to
// finish (a migration, a save to file, a block job): it calls check at
// once and at every interval with ev nil, and with what wake delivered
// (an event) as soon as it comes, until check reports done or fails, or
// ctx ends (its error is returned). wake may be nil (polling only):
// events make the wait prompt, the poll makes it survive an event that
// was never queued or a QEMU that died.
func Wait[T any](ctx context.Context, wake <-chan T, interval time.Duration, check func(ctx context.Context, ev *T) (bool, error)) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var ev *T
	for {
		done, err := check(ctx, ev)
		if err != nil || done {
			return err
		}
		ev = nil
		select {
		case <-ctx.Done():
			return ctx.Err()
		case x := <-wake:
			ev = &x
		case <-tick.C:
		}
	}
}

// WaitMigration waits until the migration QEMU runs (outgoing, incoming
// or a save to a file) ends. statuses are the MIGRATION events' statuses,
// trusted as they come; query-migrate runs at every interval in case one
// was lost, and once more at the end of a failure for QEMU's reason. It
// returns nil when the migration completed, a *MigrationError (matching
// ErrMigrationFailed or ErrMigrationCancelled) when it did not, or the
// error of query-migrate or of ctx.
func WaitMigration(ctx context.Context, e Executor, statuses <-chan string, interval time.Duration) error {
	return Wait(ctx, statuses, interval, func(ctx context.Context, ev *string) (bool, error) {
		var info MigrationInfo
		if ev != nil {
			info.Status = *ev
		} else {
			var err error
			if info, err = QueryMigrate(ctx, e); err != nil {
				return false, err
			}
		}
		switch info.Status {
		case "completed":
			return true, nil
		case "failed":
			if ev != nil {
				info, _ = QueryMigrate(ctx, e)
			}
			return false, &MigrationError{Status: "failed", Desc: info.ErrorDesc}
		case "cancelled":
			return false, &MigrationError{Status: "cancelled"}
		}
		return false, nil
	})
}

// WaitJob waits until QEMU's job id reaches status want ("ready",
// "pending", "concluded", ...) or concludes, reading query-jobs at each
// wake-up (a JOB_STATUS_CHANGE event) or interval. A job that concluded
// with an error, or vanished, gives an error matching ErrJobFailed.
func WaitJob(ctx context.Context, e Executor, jobID, want string, wake <-chan struct{}, interval time.Duration) (JobInfo, error) {
	var info JobInfo
	err := Wait(ctx, wake, interval, func(ctx context.Context, _ *struct{}) (bool, error) {
		jobs, err := QueryJobs(ctx, e)
		if err != nil {
			return false, err
		}
		for _, j := range jobs {
			if j.ID != jobID {
				continue
			}
			info = j
			switch {
			case j.Error != "":
				return false, fmt.Errorf("%w: %s: %s", ErrJobFailed, jobID, j.Error)
			case j.Status == want, j.Status == "concluded":
				return true, nil
			}
			return false, nil
		}
		return false, fmt.Errorf("%w: %s: no such job", ErrJobFailed, jobID)
	})
	return info, err
}

// MigrationError is how a migration ended when it did not complete.
type MigrationError struct {
	Status string // "failed" or "cancelled"
	Desc   string // QEMU's error-desc, if it gave one
}

func (e *MigrationError) Error() string {
	if e.Desc == "" {
		return "qmp: migration " + e.Status
	}
	return "qmp: migration " + e.Status + ": " + e.Desc
}

// Is matches ErrMigrationFailed or ErrMigrationCancelled.
func (e *MigrationError) Is(target error) bool {
	return (target == ErrMigrationFailed && e.Status == "failed") ||
		(target == ErrMigrationCancelled && e.Status == "cancelled")
}
