package qmp

import "sync"

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
}

func newEventQueue() *eventQueue {
	return &eventQueue{wake: make(chan struct{}, 1)}
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
		}
		if len(batch) > 0 {
			continue
		}
		if eof {
			if onEOF != nil {
				onEOF(err)
			}
			return
		}
		<-q.wake
	}
}
