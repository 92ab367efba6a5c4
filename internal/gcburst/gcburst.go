// Package gcburst lets work that allocates in bursts, such as guests
// starting together, ask the daemon's garbage collection pacing
// (cmd/govirtd/gctune.go) for more room while it runs. The pacing keeps
// the heap goal at twice the live heap with a floor of 4 MiB, which suits
// an idle daemon; twenty guests starting at once allocate tens of MiB of
// definitions and command lines and, with a live heap of a few MiB, made
// forty collections in a second and a half, a third of the daemon's CPU
// during the starts, while the starts waited on the CPU. During a burst
// the floor is higher; when the last burst ends the pacing goes back to
// the idle floor and collects what the burst left.
package gcburst

import (
	"sync"
	"sync/atomic"
)

var (
	active   atomic.Int32
	onChange atomic.Pointer[func()]
)

// Active says whether a burst is running.
func Active() bool { return active.Load() > 0 }

// OnChange sets what runs when the first burst begins and when the last
// one ends (the pacing's retune); nil: nothing.
func OnChange(f func()) {
	if f == nil {
		onChange.Store(nil)
		return
	}
	onChange.Store(&f)
}

func changed() {
	if f := onChange.Load(); f != nil {
		(*f)()
	}
}

// Begin marks the start of a burst; the function it returns ends it (more
// calls do nothing).
func Begin() (end func()) {
	if active.Add(1) == 1 {
		changed()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if active.Add(-1) == 0 {
				changed()
			}
		})
	}
}
