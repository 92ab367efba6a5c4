package qmp

import (
	"context"
	"sync"
)

// eventQueue is an unbounded FIFO between the reader and the delivery
// goroutine. Unbounded on purpose: a bounded queue would force the reader
// either to block (stalling replies behind a slow handler) or to drop
// events, and both are worse than memory growth that a stuck handler would
// cause anyway.
type eventQueue struct {
	mu    sync.Mutex
	items []Event
	eof   bool
	err   error
	// wake has room for one token so push never blocks and a wake-up
	// between the consumer's check and its wait is not lost.
	wake chan struct{}
	// pushed and delivered count events queued and handed to OnEvent
	// (returned); caught is closed and replaced whenever delivered moves
	// or the queue ends, for SyncEvents.
	pushed, delivered uint64
	done              bool
	caught            chan struct{}
}

func newEventQueue() *eventQueue {
	return &eventQueue{wake: make(chan struct{}, 1), caught: make(chan struct{})}
}

// advance records n more events delivered (or the end of delivery) and
// wakes SyncEvents callers.
func (q *eventQueue) advance(n int, done bool) {
	q.mu.Lock()
	q.delivered += uint64(n)
	q.done = q.done || done
	close(q.caught)
	q.caught = make(chan struct{})
	q.mu.Unlock()
}

func (q *eventQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	q.items = append(q.items, ev)
	q.pushed++
	q.mu.Unlock()
	q.signal()
}

// finish records the end of the stream; it must be the last call made by
// the producer, which is what makes OnEOF come after every event.
func (q *eventQueue) finish(err error) {
	q.mu.Lock()
	q.eof, q.err = true, err
	q.mu.Unlock()
	q.signal()
}

// run delivers events until the queue is finished and drained, then calls
// onEOF. Batches are swapped out under the lock so handlers run unlocked.
func (q *eventQueue) run(onEvent func(Event), onEOF func(error)) {
	for {
		q.mu.Lock()
		batch, eof, err := q.items, q.eof, q.err
		q.items = nil
		q.mu.Unlock()
		for _, ev := range batch {
			if onEvent != nil {
				onEvent(ev)
			}
			q.advance(1, false)
		}
		if len(batch) > 0 {
			continue
		}
		if eof {
			q.advance(0, true)
			if onEOF != nil {
				onEOF(err)
			}
			return
		}
		<-q.wake
	}
}

// SyncEvents waits until OnEvent has returned for every event the reader
// had queued when it was called, or delivery ended. Replies do not wait
// for event delivery, so a caller that got a reply may run ahead of
// events QEMU sent before it: a fake reboot's system_reset answers while
// the STOP that followed the guest's SHUTDOWN may still be queued, and
// the state the caller sets next must not be overwritten by it. It must
// not be called from OnEvent (it would wait for itself); ctx bounds it.
func (m *Monitor) SyncEvents(ctx context.Context) error {
	q := m.events
	q.mu.Lock()
	target := q.pushed
	for q.delivered < target && !q.done {
		ch := q.caught
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		q.mu.Lock()
	}
	q.mu.Unlock()
	return nil
}
