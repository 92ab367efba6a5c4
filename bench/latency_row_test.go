package main

import (
	"testing"
	"time"
)

// TestPrintLatencyRowTarget: the 10 ms target is judged on govirtd's p99
// only, and only when asked for; a missing libvirtd series is allowed.
func TestPrintLatencyRowTarget(t *testing.T) {
	fast := []time.Duration{time.Millisecond, 2 * time.Millisecond}
	slow := []time.Duration{20 * time.Millisecond, 30 * time.Millisecond}
	for _, c := range []struct {
		series [][]time.Duration
		target bool
		want   bool
	}{
		{[][]time.Duration{fast, slow}, true, true},
		{[][]time.Duration{slow, fast}, true, false},
		{[][]time.Duration{slow}, false, true},
		{[][]time.Duration{fast}, true, true},
		{nil, true, true},
	} {
		if got := printLatencyRow("read", 10, c.series, c.target); got != c.want {
			t.Errorf("%v target=%v: met %v, want %v", c.series, c.target, got, c.want)
		}
	}
}
