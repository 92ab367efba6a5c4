package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
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

// startSnapshotProfiles is the memory and latency counterpart, for the
// bench's scale suite, where the interesting moment is chosen from
// outside (N guests up, or around a burst of starts):
//
//   - GOVIRT_MEMPROFILE=FILE: each SIGUSR2 writes the heap profile (after
//     a GC, so it shows what is live) to FILE.N, its text form with the
//     runtime's memory statistics to FILE.N.txt and the goroutines to
//     FILE.N.goroutine, N counting from 1 (go tool pprof govirtd FILE.1);
//     heap sampling is made finer (4 KiB) for the daemon's whole life.
//   - GOVIRT_TRACE=FILE: SIGUSR1 starts an execution trace into FILE.N
//     and a CPU profile into FILE.N.cpu, the next SIGUSR1 stops both (go
//     tool trace FILE.N, go tool pprof govirtd FILE.N.cpu).
//
// Without the variables the signals keep Go's default (they end the
// daemon), as before.
func startSnapshotProfiles(log *slog.Logger) func() {
	memPath, tracePath := os.Getenv("GOVIRT_MEMPROFILE"), os.Getenv("GOVIRT_TRACE")
	if memPath == "" && tracePath == "" {
		return func() {}
	}
	sig := make(chan os.Signal, 2)
	if memPath != "" {
		// Finer than the default 512 KiB sampling, so that per-guest
		// allocations of a few KiB show up.
		runtime.MemProfileRate = 4096
		signal.Notify(sig, syscall.SIGUSR2)
	}
	if tracePath != "" {
		signal.Notify(sig, syscall.SIGUSR1)
	}
	done := make(chan struct{})
	go func() {
		heapN, traceN := 0, 0
		var tf, cf *os.File
		for {
			var s os.Signal
			select {
			case <-done:
				if tf != nil {
					trace.Stop()
					tf.Close()
				}
				if cf != nil {
					pprof.StopCPUProfile()
					cf.Close()
				}
				return
			case s = <-sig:
			}
			switch s {
			case syscall.SIGUSR2:
				heapN++
				runtime.GC()
				writeProfile(log, "heap", fmt.Sprintf("%s.%d", memPath, heapN), 0)
				// The text form ends with runtime.MemStats (stacks, GC goal).
				writeProfile(log, "heap", fmt.Sprintf("%s.%d.txt", memPath, heapN), 1)
				writeProfile(log, "goroutine", fmt.Sprintf("%s.%d.goroutine", memPath, heapN), 1)
			case syscall.SIGUSR1:
				if tf != nil {
					trace.Stop()
					tf.Close()
					tf = nil
					if cf != nil {
						pprof.StopCPUProfile()
						cf.Close()
						cf = nil
					}
					continue
				}
				traceN++
				f, err := os.Create(fmt.Sprintf("%s.%d", tracePath, traceN))
				if err != nil {
					log.Error("trace", "err", err)
					continue
				}
				if err := trace.Start(f); err != nil {
					log.Error("trace", "err", err)
					f.Close()
					continue
				}
				tf = f
				// A CPU profile of the same window (FILE.N.cpu), unless
				// GOVIRT_CPUPROFILE already profiles the whole life.
				if c, err := os.Create(fmt.Sprintf("%s.%d.cpu", tracePath, traceN)); err == nil {
					if pprof.StartCPUProfile(c) == nil {
						cf = c
					} else {
						c.Close()
						os.Remove(c.Name())
					}
				}
			}
		}
	}()
	return func() { signal.Stop(sig); close(done) }
}

func writeProfile(log *slog.Logger, name, path string, debug int) {
	f, err := os.Create(path)
	if err != nil {
		log.Error("profile", "name", name, "err", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, debug); err != nil {
		log.Error("profile", "name", name, "err", err)
	}
}
