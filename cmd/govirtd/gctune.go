package main

import (
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"govirt/internal/gcburst"
)

// govirtd spends most of its life idle next to running guests, and Go's
// runtime collects garbage at least every two minutes even when nothing
// was allocated (its forced periodic cycle). With 200 guests that cycle
// marks several MiB of live definitions and status and was half of the
// daemon's idle CPU. The runtime skips the periodic cycle only when GOGC
// is off, so the daemon runs with GOGC off and a soft memory limit that
// plays GOGC=100's part: after every cycle the limit is set to the
// runtime's non-heap memory plus twice the live heap (GOGC=100's goal,
// at least 4 MiB of heap as the runtime's own minimum), so a cycle still
// starts when the heap has doubled, and the scavenger still hands back
// what lies above that goal, but no cycle runs merely because two
// minutes went by. A GOGC or GOMEMLIMIT in the environment leaves the
// runtime as the user set it.

// gcTuneMinHeap is the runtime's heapMinimum for GOGC=100.
const gcTuneMinHeap = 4 << 20

// gcTuneBurstHeap is the floor of the heap room while guests start
// (gcburst): 20 parallel starts allocate about 40 MiB, and collecting
// every MiB of it cost a third of the daemon's CPU during the starts.
// Outside bursts the idle floor above applies again.
const gcTuneBurstHeap = 32 << 20

// gcTuneMu orders the retunes of the finalizer and of gcburst, so that
// the last one reads the burst state last.
var gcTuneMu sync.Mutex

var gcTuneSamples = []metrics.Sample{
	{Name: "/gc/heap/live:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/memory/classes/heap/free:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
}

// startGCTune turns the periodic cycle off as described above.
func startGCTune(log *slog.Logger) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	// One cycle first, so that the live heap is known.
	runtime.GC()
	if !retuneGC() {
		return
	}
	debug.SetGCPercent(-1)
	gcburst.OnChange(burstChanged)
	armGCTune()
	log.Debug("garbage collection paced by a memory limit instead of GOGC")
}

// gcBurstQuiet is how long no burst must run before the pacing goes back
// to its idle floor.
const gcBurstQuiet = 100 * time.Millisecond

var gcBurstTimer *time.Timer // guarded by gcTuneMu

// burstChanged follows gcburst: a burst raises the floor at once. Once
// bursts stopped for gcBurstQuiet, what they left is collected and handed
// back at once (debug.FreeOSMemory), and the idle floor returns.
func burstChanged() {
	if gcburst.Active() {
		gcTuneMu.Lock()
		if gcBurstTimer != nil {
			gcBurstTimer.Stop()
			gcBurstTimer = nil
		}
		gcTuneMu.Unlock()
		retuneGC()
		return
	}
	gcTuneMu.Lock()
	defer gcTuneMu.Unlock()
	if gcBurstTimer != nil {
		gcBurstTimer.Stop()
	}
	gcBurstTimer = time.AfterFunc(gcBurstQuiet, func() {
		if gcburst.Active() {
			return
		}
		debug.FreeOSMemory()
		retuneGC()
	})
}

// gcSentinel is allocated unreachable: its finalizer runs after the next
// cycle, retunes and arms a new one. It holds a pointer so that it is
// never one of the runtime's combined tiny allocations, whose finalizers
// may be delayed.
type gcSentinel struct{ p *int }

func armGCTune() {
	runtime.SetFinalizer(&gcSentinel{p: new(int)}, func(*gcSentinel) {
		if retuneGC() {
			armGCTune()
		}
	})
}

// retuneGC sets the memory limit for the next cycle from what the last
// one left live. Should the runtime not report what that needs, it puts
// GOGC=100 back without a limit and says false.
func retuneGC() bool {
	gcTuneMu.Lock()
	defer gcTuneMu.Unlock()
	metrics.Read(gcTuneSamples)
	v := make([]uint64, len(gcTuneSamples))
	for i, s := range gcTuneSamples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	live, total, free, objects, released, unused := v[0], v[1], v[2], v[3], v[4], v[5]
	heap := free + objects + released + unused
	if live == 0 || total < heap {
		// Unknown metrics (a future runtime): GOGC's own pacing.
		gcburst.OnChange(nil)
		debug.SetMemoryLimit(math.MaxInt64)
		debug.SetGCPercent(100)
		return false
	}
	// Stacks, runtime metadata, the binary's data: what the limit counts
	// besides the heap.
	other := total - heap
	room := uint64(gcTuneMinHeap)
	if gcburst.Active() {
		room = gcTuneBurstHeap
	}
	// The heap memory the runtime holds but no object uses, free spans
	// not yet handed back and the unused part of spans in use, counts
	// against the limit as the runtime reckons it: with the limit under
	// it the runtime's heap goal fell to the live heap, and it collected
	// every few ms, for seconds, until the scavenger had caught up. The
	// scavenger still hands back what lies above 95% of the limit, and
	// bursts end with everything free handed back (burstChanged).
	debug.SetMemoryLimit(int64(other + live + max(live, room) + free + unused))
	return true
}
