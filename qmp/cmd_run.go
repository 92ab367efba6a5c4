package qmp

import (
	"context"
	"encoding/json"
)

// Run state and machine control.

// StatusInfo is query-status's reply.
type StatusInfo struct {
	Running bool   `json:"running"`
	Status  string `json:"status"` // "running", "paused", "inmigrate", ...
}

// QueryStatus runs query-status.
func QueryStatus(ctx context.Context, e Executor) (StatusInfo, error) {
	var st StatusInfo
	err := run(ctx, e, "query-status", nil, &st)
	return st, err
}

// Cont runs cont: the vCPUs start.
func Cont(ctx context.Context, e Executor) error { return run(ctx, e, "cont", nil, nil) }

// Stop runs stop: the vCPUs pause.
func Stop(ctx context.Context, e Executor) error { return run(ctx, e, "stop", nil, nil) }

// SystemPowerdown runs system_powerdown (an ACPI power button press).
func SystemPowerdown(ctx context.Context, e Executor) error {
	return run(ctx, e, "system_powerdown", nil, nil)
}

// SystemReset runs system_reset.
func SystemReset(ctx context.Context, e Executor) error {
	return run(ctx, e, "system_reset", nil, nil)
}

// Balloon runs balloon: the guest's target memory, in bytes.
func Balloon(ctx context.Context, e Executor, bytes uint64) error {
	return run(ctx, e, "balloon", struct {
		Value uint64 `json:"value"`
	}{bytes}, nil)
}

// BalloonInfo is query-balloon's reply.
type BalloonInfo struct {
	Actual uint64 `json:"actual"` // bytes
}

// QueryBalloon runs query-balloon.
func QueryBalloon(ctx context.Context, e Executor) (BalloonInfo, error) {
	var b BalloonInfo
	err := run(ctx, e, "query-balloon", nil, &b)
	return b, err
}

// QOMGet runs qom-get, decoding the property's value into ret.
func QOMGet(ctx context.Context, e Executor, path, property string, ret any) error {
	return run(ctx, e, "qom-get", struct {
		Path     string `json:"path"`
		Property string `json:"property"`
	}{path, property}, ret)
}

// CPUInfoFast is an entry of query-cpus-fast.
type CPUInfoFast struct {
	CPUIndex int    `json:"cpu-index"`
	ThreadID int    `json:"thread-id"`
	QOMPath  string `json:"qom-path"`
}

// QueryCPUsFast runs query-cpus-fast.
func QueryCPUsFast(ctx context.Context, e Executor) ([]CPUInfoFast, error) {
	var l []CPUInfoFast
	err := run(ctx, e, "query-cpus-fast", nil, &l)
	return l, err
}

// HumanMonitorCommand runs human-monitor-command and returns HMP's output.
func HumanMonitorCommand(ctx context.Context, e Executor, line string) (string, error) {
	var out string
	err := run(ctx, e, "human-monitor-command", struct {
		CommandLine string `json:"command-line"`
	}{line}, &out)
	return out, err
}

// Raw runs a command given as text by a user (virsh
// qemu-monitor-command): args pass through as sent and the reply comes
// back undecoded.
func Raw(ctx context.Context, e Executor, cmd string, args json.RawMessage) (json.RawMessage, error) {
	var a any
	if len(args) > 0 {
		a = args
	}
	var ret json.RawMessage
	err := run(ctx, e, cmd, a, &ret)
	return ret, err
}
