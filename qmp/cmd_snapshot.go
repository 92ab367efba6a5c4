package qmp

import "context"

// SnapshotJobArgs are the arguments of snapshot-save, snapshot-load and
// snapshot-delete (QEMU 6.0+): an internal snapshot tag on the given
// format nodes, the VM state kept in (or read from) vmstate's image.
// These jobs are created with manual dismiss: a concluded job stays in
// query-jobs until JobDismiss.
type SnapshotJobArgs struct {
	JobID   string   `json:"job-id"`
	Tag     string   `json:"tag"`
	VMState string   `json:"vmstate,omitempty"` // not for snapshot-delete
	Devices []string `json:"devices"`
}

// SnapshotSave runs snapshot-save.
func SnapshotSave(ctx context.Context, e Executor, a SnapshotJobArgs) error {
	return run(ctx, e, "snapshot-save", a, nil)
}

// SnapshotLoad runs snapshot-load.
func SnapshotLoad(ctx context.Context, e Executor, a SnapshotJobArgs) error {
	return run(ctx, e, "snapshot-load", a, nil)
}

// SnapshotDelete runs snapshot-delete.
func SnapshotDelete(ctx context.Context, e Executor, a SnapshotJobArgs) error {
	a.VMState = ""
	return run(ctx, e, "snapshot-delete", a, nil)
}
