package qmp

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrEventDecode means an event's data did not match its documented
// shape. DecodeEvent still returns the typed value, filled in as far as
// the data allowed, so a caller can log the error and act on the event's
// name rather than lose it.
var ErrEventDecode = errors.New("qmp: cannot decode event data")

// Typed events: the data members of the QMP events govirt acts on, as
// QEMU's qapi schema documents them. Members govirt does not use are
// left out; unknown members are ignored.

// ShutdownEvent is SHUTDOWN.
type ShutdownEvent struct {
	Guest  *bool  `json:"guest"` // nil from QEMUs before 2.9
	Reason string `json:"reason"`
}

// StopEvent is STOP (no data).
type StopEvent struct{}

// ResumeEvent is RESUME (no data).
type ResumeEvent struct{}

// ResetEvent is RESET.
type ResetEvent struct {
	Guest  *bool  `json:"guest"`
	Reason string `json:"reason"`
}

// PowerdownEvent is POWERDOWN (no data).
type PowerdownEvent struct{}

// GuestPanickedEvent is GUEST_PANICKED.
type GuestPanickedEvent struct {
	Action string          `json:"action"`
	Info   json.RawMessage `json:"info"`
}

// WatchdogEvent is WATCHDOG.
type WatchdogEvent struct {
	Action string `json:"action"`
}

// BlockIOErrorEvent is BLOCK_IO_ERROR.
type BlockIOErrorEvent struct {
	Device    string `json:"device"`
	NodeName  string `json:"node-name"`
	Operation string `json:"operation"`
	Action    string `json:"action"`
	NoSpace   bool   `json:"nospace"`
	Reason    string `json:"reason"`
}

// RTCChangeEvent is RTC_CHANGE.
type RTCChangeEvent struct {
	Offset  int64  `json:"offset"`
	QOMPath string `json:"qom-path"`
}

// BalloonChangeEvent is BALLOON_CHANGE: the balloon's actual size in
// bytes once the guest's driver moved it.
type BalloonChangeEvent struct {
	Actual uint64 `json:"actual"`
}

// JobStatusChangeEvent is JOB_STATUS_CHANGE.
type JobStatusChangeEvent struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// BlockJobInfoEvent is BLOCK_JOB_COMPLETED, BLOCK_JOB_CANCELLED,
// BLOCK_JOB_READY and BLOCK_JOB_PENDING, which share their members
// (READY and PENDING send a subset). Device is the job id.
type BlockJobInfoEvent struct {
	Type   string `json:"type"`
	Device string `json:"device"`
	Len    int64  `json:"len"`
	Offset int64  `json:"offset"`
	Speed  int64  `json:"speed"`
	Error  string `json:"error"` // COMPLETED only, on failure
}

// BlockJobErrorEvent is BLOCK_JOB_ERROR.
type BlockJobErrorEvent struct {
	Device    string `json:"device"`
	Operation string `json:"operation"`
	Action    string `json:"action"`
}

// DeviceDeletedEvent is DEVICE_DELETED. Device is empty for backend
// objects, which carry only a path.
type DeviceDeletedEvent struct {
	Device string `json:"device"`
	Path   string `json:"path"`
}

// DeviceTrayMovedEvent is DEVICE_TRAY_MOVED.
type DeviceTrayMovedEvent struct {
	Device   string `json:"device"`
	ID       string `json:"id"`
	TrayOpen bool   `json:"tray-open"`
}

// BlockWriteThresholdEvent is BLOCK_WRITE_THRESHOLD: a write reached
// past the threshold armed on a node (block-set-write-threshold).
type BlockWriteThresholdEvent struct {
	NodeName       string `json:"node-name"`
	AmountExceeded uint64 `json:"amount-exceeded"`
	WriteThreshold uint64 `json:"write-threshold"`
}

// MigrationEvent is MIGRATION.
type MigrationEvent struct {
	Status string `json:"status"`
}

// eventTypes maps each typed event to a constructor of its value.
var eventTypes = map[string]func() any{
	"SHUTDOWN":              func() any { return &ShutdownEvent{} },
	"STOP":                  func() any { return &StopEvent{} },
	"RESUME":                func() any { return &ResumeEvent{} },
	"RESET":                 func() any { return &ResetEvent{} },
	"POWERDOWN":             func() any { return &PowerdownEvent{} },
	"GUEST_PANICKED":        func() any { return &GuestPanickedEvent{} },
	"WATCHDOG":              func() any { return &WatchdogEvent{} },
	"BLOCK_IO_ERROR":        func() any { return &BlockIOErrorEvent{} },
	"RTC_CHANGE":            func() any { return &RTCChangeEvent{} },
	"JOB_STATUS_CHANGE":     func() any { return &JobStatusChangeEvent{} },
	"BLOCK_JOB_COMPLETED":   func() any { return &BlockJobInfoEvent{} },
	"BLOCK_JOB_CANCELLED":   func() any { return &BlockJobInfoEvent{} },
	"BLOCK_JOB_READY":       func() any { return &BlockJobInfoEvent{} },
	"BLOCK_JOB_PENDING":     func() any { return &BlockJobInfoEvent{} },
	"BLOCK_JOB_ERROR":       func() any { return &BlockJobErrorEvent{} },
	"DEVICE_DELETED":        func() any { return &DeviceDeletedEvent{} },
	"DEVICE_TRAY_MOVED":     func() any { return &DeviceTrayMovedEvent{} },
	"MIGRATION":             func() any { return &MigrationEvent{} },
	"BLOCK_WRITE_THRESHOLD": func() any { return &BlockWriteThresholdEvent{} },
	"BALLOON_CHANGE":        func() any { return &BalloonChangeEvent{} },
}

// DecodeEvent decodes ev into its typed struct (a pointer, e.g.
// *ShutdownEvent). An event without a typed struct gives nil, nil. Data
// that does not decode gives the partly filled value and an error
// wrapping ErrEventDecode; an event without data decodes to the zero
// value.
func DecodeEvent(ev Event) (any, error) {
	mk := eventTypes[ev.Name]
	if mk == nil {
		return nil, nil
	}
	v := mk()
	if len(ev.Data) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(ev.Data, v); err != nil {
		return v, fmt.Errorf("%w %s: %w", ErrEventDecode, ev.Name, err)
	}
	return v, nil
}
