package main

import (
	"fmt"
	"time"
)

// printLatencyRow prints one read of the frozen and agent suites:
// p50/p99/max for govirtd and libvirtd (series holds each daemon's
// durations, govirtd's first; libvirtd's is missing when it did not run),
// the ratio of the p99s and, with target, issue 11's and 15's 10 ms p99
// target on govirtd's. It returns false when that target was missed.
func printLatencyRow(label string, width int, series [][]time.Duration, target bool) bool {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/1e6) }
	cols := []string{"n/a", "n/a"}
	p99 := make([]time.Duration, 2)
	calls := 0
	for i, ds := range series {
		if i >= len(cols) {
			break
		}
		if i == 0 {
			calls = len(ds)
		}
		p99[i] = quantile(ds, 0.99)
		cols[i] = fmt.Sprintf("%s/%s/%s", ms(quantile(ds, 0.5)), ms(p99[i]), ms(quantile(ds, 1)))
	}
	rs := "n/a"
	if len(series) > 1 && p99[1] > 0 {
		rs = fmt.Sprintf("%.2fx", ratio(p99[0], p99[1]))
	}
	ts, mark, met := "", "", true
	if target {
		ts = "<= 10ms"
		if p99[0] > 10*time.Millisecond {
			mark, met = " missed", false
		}
	}
	fmt.Printf("%-*s %7d %25s %25s %8s %8s%s\n", width, label, calls, cols[0], cols[1], rs, ts, mark)
	return met
}
