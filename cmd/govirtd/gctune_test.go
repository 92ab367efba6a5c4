package main

import (
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"govirt/internal/gcburst"
)

// TestGCTune checks the pacing that replaces GOGC: the periodic cycle is
// off (GOGC off), and after each cycle the memory limit follows the live
// heap, about twice it plus the runtime's other memory.
func TestGCTune(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT set: the daemon leaves the runtime alone")
	}
	defer func() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	}()
	startGCTune(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Fatalf("GOGC is %d, want off", p)
	}
	before := debug.SetMemoryLimit(-1)
	if before == math.MaxInt64 {
		t.Fatal("no memory limit set")
	}
	// 64 MiB made live: the next cycle must raise the limit above twice
	// that, or the daemon would collect over and over.
	live := make([][]byte, 64)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	var after int64
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if after = debug.SetMemoryLimit(-1); after >= 128<<20 {
			break
		}
	}
	if after < 128<<20 {
		t.Fatalf("memory limit %d MiB after a cycle with 64 MiB live (before: %d MiB)", after>>20, before>>20)
	}
	runtime.KeepAlive(live)
	live = nil

	// The limit counts free heap the runtime still holds (retuneGC), so
	// the drop shows once the freed 64 MiB went back to the OS; the
	// background scavenger may take longer than the wait below. Each
	// round returns it and runs a cycle, whose retune sees it returned.
	var shrunk int64
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		debug.FreeOSMemory()
		runtime.GC()
		if shrunk = debug.SetMemoryLimit(-1); shrunk < after-64<<20 {
			break
		}
	}
	if shrunk >= after-64<<20 {
		t.Fatalf("memory limit %d MiB once the 64 MiB are garbage (was %d MiB)", shrunk>>20, after>>20)
	}
	// A burst (guests starting) leaves at least gcTuneBurstHeap of room
	// above the live heap of a few MiB until it ends.
	end := gcburst.Begin()
	burst := debug.SetMemoryLimit(-1)
	end()
	// Back to the idle floor once bursts stopped for gcBurstQuiet.
	var idle int64
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if idle = debug.SetMemoryLimit(-1); idle < burst {
			break
		}
	}
	if burst-shrunk < 20<<20 || idle >= burst {
		t.Fatalf("memory limit %d MiB idle, %d MiB during a burst, %d MiB after it", shrunk>>20, burst>>20, idle>>20)
	}
}
