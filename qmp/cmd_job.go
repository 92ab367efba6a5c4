package qmp

import "context"

// Block jobs. govirt starts every job with auto-dismiss off (and says so
// explicitly), so a concluded job stays visible to query-jobs until
// JobDismiss; the auto-finalize and auto-dismiss members are therefore
// always sent.

// BlockCommitArgs are block-commit's arguments.
type BlockCommitArgs struct {
	JobID        string `json:"job-id"`
	Device       string `json:"device"`
	TopNode      string `json:"top-node"`
	BaseNode     string `json:"base-node"`
	Speed        uint64 `json:"speed,omitempty"`
	AutoFinalize bool   `json:"auto-finalize"`
	AutoDismiss  bool   `json:"auto-dismiss"`
}

// BlockCommit runs block-commit.
func BlockCommit(ctx context.Context, e Executor, a BlockCommitArgs) error {
	return run(ctx, e, "block-commit", a, nil)
}

// BlockStreamArgs are block-stream's arguments.
type BlockStreamArgs struct {
	JobID        string `json:"job-id"`
	Device       string `json:"device"`
	BaseNode     string `json:"base-node,omitempty"`
	Speed        uint64 `json:"speed,omitempty"`
	AutoFinalize bool   `json:"auto-finalize"`
	AutoDismiss  bool   `json:"auto-dismiss"`
}

// BlockStream runs block-stream.
func BlockStream(ctx context.Context, e Executor, a BlockStreamArgs) error {
	return run(ctx, e, "block-stream", a, nil)
}

// BlockdevMirrorArgs are blockdev-mirror's arguments.
type BlockdevMirrorArgs struct {
	JobID        string `json:"job-id"`
	Device       string `json:"device"`
	Target       string `json:"target"`
	Sync         string `json:"sync"` // "full", "top", "none"
	Speed        uint64 `json:"speed,omitempty"`
	Granularity  uint64 `json:"granularity,omitempty"`
	BufSize      uint64 `json:"buf-size,omitempty"`
	CopyMode     string `json:"copy-mode,omitempty"` // "write-blocking"
	AutoFinalize bool   `json:"auto-finalize"`
	AutoDismiss  bool   `json:"auto-dismiss"`
}

// BlockdevMirror runs blockdev-mirror.
func BlockdevMirror(ctx context.Context, e Executor, a BlockdevMirrorArgs) error {
	return run(ctx, e, "blockdev-mirror", a, nil)
}

// BlockJobCancel runs block-job-cancel. force is only sent when set; a
// cancelled ready mirror then completes without pivoting.
func BlockJobCancel(ctx context.Context, e Executor, device string, force *bool) error {
	return run(ctx, e, "block-job-cancel", struct {
		Device string `json:"device"`
		Force  *bool  `json:"force,omitempty"`
	}{device, force}, nil)
}

// BlockJobSetSpeed runs block-job-set-speed (bytes/s, 0: unlimited).
func BlockJobSetSpeed(ctx context.Context, e Executor, device string, speed uint64) error {
	return run(ctx, e, "block-job-set-speed", struct {
		Device string `json:"device"`
		Speed  uint64 `json:"speed"`
	}{device, speed}, nil)
}

// JobComplete runs job-complete (pivot of a ready mirror or commit).
func JobComplete(ctx context.Context, e Executor, jobID string) error {
	return run(ctx, e, "job-complete", id{jobID}, nil)
}

// JobFinalize runs job-finalize on a pending job.
func JobFinalize(ctx context.Context, e Executor, jobID string) error {
	return run(ctx, e, "job-finalize", id{jobID}, nil)
}

// JobDismiss runs job-dismiss on a concluded job.
func JobDismiss(ctx context.Context, e Executor, jobID string) error {
	return run(ctx, e, "job-dismiss", id{jobID}, nil)
}

// JobInfo is an entry of query-jobs.
type JobInfo struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Status      string `json:"status"`
	CurrentProg uint64 `json:"current-progress"`
	TotalProg   uint64 `json:"total-progress"`
	Error       string `json:"error"`
}

// QueryJobs runs query-jobs.
func QueryJobs(ctx context.Context, e Executor) ([]JobInfo, error) {
	var l []JobInfo
	err := run(ctx, e, "query-jobs", nil, &l)
	return l, err
}

// BlockJobInfo is an entry of query-block-jobs.
type BlockJobInfo struct {
	Type   string `json:"type"`
	Device string `json:"device"` // the job id
	Len    uint64 `json:"len"`
	Offset uint64 `json:"offset"`
	Speed  uint64 `json:"speed"`
	Ready  *bool  `json:"ready"`
	Status string `json:"status"`
}

// QueryBlockJobs runs query-block-jobs.
func QueryBlockJobs(ctx context.Context, e Executor) ([]BlockJobInfo, error) {
	var l []BlockJobInfo
	err := run(ctx, e, "query-block-jobs", nil, &l)
	return l, err
}
