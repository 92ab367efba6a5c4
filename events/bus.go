// Package events is the in-process event bus between drivers and the RPC
// layer. Publishing never blocks: each subscriber has its own unbounded
// queue drained by its own goroutine, so a slow client cannot stall a
// driver, and events reach every subscriber in publish order.
package events

import "sync"

// Bus fans events out to subscribers. The zero value is not usable; use New.
type Bus struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

func New() *Bus { return &Bus{subs: map[*Subscription]struct{}{}} }

// Subscription delivers events to one handler, in order, on its own goroutine.
type Subscription struct {
	bus     *Bus
	handler func(any)
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []any
	closed  bool
	done    chan struct{}
}

// Subscribe registers handler; it is called for every event published after
// this returns, one at a time, until Close.
func (b *Bus) Subscribe(handler func(any)) *Subscription {
	s := &Subscription{bus: b, handler: handler, done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.run()
	return s
}

// Publish queues ev for every current subscriber and returns at once.
func (b *Bus) Publish(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.push(ev)
	}
}

func (s *Subscription) push(ev any) {
	s.mu.Lock()
	if !s.closed {
		s.queue = append(s.queue, ev)
		s.cond.Signal()
	}
	s.mu.Unlock()
}

func (s *Subscription) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, ev := range batch {
			s.handler(ev)
		}
	}
}

// Close stops delivery; events still queued are discarded. It waits for a
// handler call in progress to return, so it must not be called from the handler.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.queue = nil
	s.cond.Signal()
	s.mu.Unlock()
	<-s.done
}
