package qmp

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Options configures a Monitor. The zero value is usable.
type Options struct {
	// OnEvent receives every event, in QEMU's order, on the monitor's
	// delivery goroutine. It may block; events queue up behind it without
	// limit and replies keep flowing. Nil discards events.
	OnEvent func(Event)

	// OnEOF is called once when the monitor goes away, after the last
	// OnEvent call has returned. err is ErrClosed after Close, io.EOF when
	// QEMU closed the socket, and otherwise the read or protocol error
	// (match ErrProtocol with errors.Is).
	OnEOF func(err error)

	// Timeouts overrides entries of DefaultTimeouts, with the same key
	// syntax. Non-positive values are ignored.
	Timeouts map[string]time.Duration

	// MaxLineSize bounds one line of QEMU output; a longer line is a
	// protocol error. Zero means 256 MiB, comfortably above the few MiB of
	// a query-qmp-schema reply.
	MaxLineSize int

	// Logger receives debug records about discarded replies. Nil means
	// slog.Default().
	Logger *slog.Logger
}

const defaultMaxLineSize = 256 << 20

// Event is an asynchronous QMP event.
type Event struct {
	Name string
	// Data is the event's "data" member, nil when QEMU sent none.
	Data json.RawMessage
	// Timestamp is QEMU's host-clock time of the event.
	Timestamp time.Time
}

// Version is a QEMU version number as QMP reports it.
type Version struct {
	Major int `json:"major"`
	Minor int `json:"minor"`
	Micro int `json:"micro"`
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Micro) }

// Greeting is what QEMU announces when a client connects.
type Greeting struct {
	Version Version
	// Package is the vendor package string, e.g. "v7.2.0" or "Debian 1:7.2+dfsg-7".
	Package string
	// Capabilities lists the optional protocol features QEMU offers, e.g.
	// "oob". None of them is enabled by the Monitor.
	Capabilities []string
}

// wireMessage is the union of everything QEMU sends after the greeting.
type wireMessage struct {
	ID        json.RawMessage `json:"id"`
	Return    json.RawMessage `json:"return"`
	Error     *Error          `json:"error"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp *struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
	QMP *struct {
		Version struct {
			QEMU    Version `json:"qemu"`
			Package string  `json:"package"`
		} `json:"version"`
		Capabilities []string `json:"capabilities"`
	} `json:"QMP"`
}

func (w *wireMessage) event() Event {
	ev := Event{Name: w.Event}
	if len(w.Data) > 0 {
		ev.Data = w.Data
	}
	if ts := w.Timestamp; ts != nil {
		ev.Timestamp = time.Unix(ts.Seconds, ts.Microseconds*int64(time.Microsecond))
	}
	return ev
}

// reply is what the reader hands to a waiting Execute.
type reply struct {
	ret json.RawMessage
	err error
}
