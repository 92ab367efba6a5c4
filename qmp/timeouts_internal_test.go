package qmp

import (
	"testing"
	"time"
)

func TestTimeoutLookup(t *testing.T) {
	tab := newTimeoutTable(map[string]time.Duration{
		"query-block*": time.Second,
		"device_del":   2 * time.Second,
		"cont":         0, // ignored: never "no deadline"
	})
	for cmd, want := range map[string]time.Duration{
		"query-status":          10 * time.Second,
		"query-blockstats":      time.Second,
		"device_del":            2 * time.Second,
		"cont":                  10 * time.Second,
		"system_powerdown":      5 * time.Second,
		"migrate-incoming":      30 * time.Second,
		"blockdev-add":          30 * time.Second,
		"qmp_capabilities":      10 * time.Second,
		"x-some-new-command":    30 * time.Second,
		"query-*":               10 * time.Second,
		"human-monitor-command": 30 * time.Second,
	} {
		if got := tab.lookup(cmd); got != want {
			t.Errorf("%s: %v, want %v", cmd, got, want)
		}
	}
	if DefaultTimeouts["device_del"] != 10*time.Second {
		t.Error("overrides leaked into DefaultTimeouts")
	}
}
