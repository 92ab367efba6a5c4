package qmp

import (
	"strings"
	"time"
)

// DefaultTimeouts is the per-command timeout table. A key ending in "*"
// matches every command starting with the text before it; an exact key wins
// over a pattern and a longer pattern over a shorter one, so "*" is the
// fallback for everything. Options.Timeouts entries replace entries here
// with the same key. Treat the map as read-only: it is shared by every
// Monitor.
//
// The values are deliberately generous: they exist so a wedged QEMU turns
// into an error instead of a hung API call, not to police slow hosts.
var DefaultTimeouts = map[string]time.Duration{
	"*": 30 * time.Second,

	// Queries only read QEMU's state and answer at once unless QEMU's main
	// loop is stuck.
	"query-*":          10 * time.Second,
	"qmp_capabilities": 10 * time.Second,
	"qom-get":          10 * time.Second,
	"qom-list":         10 * time.Second,

	"cont": 10 * time.Second,
	"stop": 10 * time.Second,
	// system_powerdown only injects an ACPI event; the guest's reaction is
	// reported later by the SHUTDOWN event, never by the reply.
	"system_powerdown": 5 * time.Second,
	"system_reset":     5 * time.Second,
	// device_del returns once the unplug request is issued; completion is
	// the DEVICE_DELETED event.
	"device_del": 10 * time.Second,
	"device_add": 30 * time.Second,

	// These may open images or sockets on slow storage.
	"blockdev-add":     30 * time.Second,
	"blockdev-del":     30 * time.Second,
	"migrate-incoming": 30 * time.Second,
	"migrate":          30 * time.Second,
	"getfd":            10 * time.Second,
	"add-fd":           10 * time.Second,
	"quit":             10 * time.Second,
}

// timeoutTable resolves a command name to its timeout.
type timeoutTable map[string]time.Duration

// newTimeoutTable merges overrides into the defaults. Non-positive override
// values are ignored so that a zero value cannot turn into "no deadline".
func newTimeoutTable(overrides map[string]time.Duration) timeoutTable {
	t := make(timeoutTable, len(DefaultTimeouts)+len(overrides))
	for k, v := range DefaultTimeouts {
		t[k] = v
	}
	for k, v := range overrides {
		if v > 0 {
			t[k] = v
		}
	}
	return t
}

// lookup returns the timeout for cmd; it always returns a positive value.
func (t timeoutTable) lookup(cmd string) time.Duration {
	if d, ok := t[cmd]; ok && !strings.HasSuffix(cmd, "*") {
		return d
	}
	best, bestLen := time.Duration(0), -1
	for k, d := range t {
		prefix, ok := strings.CutSuffix(k, "*")
		if ok && len(prefix) > bestLen && strings.HasPrefix(cmd, prefix) {
			best, bestLen = d, len(prefix)
		}
	}
	if bestLen < 0 {
		// Only reachable if someone deleted "*" from DefaultTimeouts.
		return 30 * time.Second
	}
	return best
}
