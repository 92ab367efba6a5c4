package main

import (
	"log/slog"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of the whole daemon life to the
// file GOVIRT_CPUPROFILE names, if set: a debugging aid for the bench's
// cpu suite (go tool pprof govirtd FILE). The returned func ends it; run
// returns on SIGTERM/SIGINT, so a clean stop writes the profile.
func startCPUProfile(log *slog.Logger) func() {
	path := os.Getenv("GOVIRT_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		log.Error("cpu profile", "err", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Error("cpu profile", "err", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
