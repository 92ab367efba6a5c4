package client

import "sync"

// Event is an asynchronous MESSAGE from the server (domain events and the
// like); Body is the XDR payload for the caller to decode.
type Event struct {
	Prog uint32
	Proc int32
	Body []byte
}

// eventQueue hands events to the callback on its own goroutine, in order,
// so a slow callback never stalls replies.
type eventQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	q       []Event
	fn      func(Event)
	closed  bool
	running bool
}

func newEventQueue() *eventQueue {
	e := &eventQueue{}
	e.cond = sync.NewCond(&e.mu)
	return e
}

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fn == nil || e.closed {
		return // nobody listening: drop, as libvirt does for unregistered callbacks
	}
	e.q = append(e.q, ev)
	e.cond.Signal()
}

func (e *eventQueue) set(fn func(Event)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fn = fn
	if !e.running && fn != nil && !e.closed {
		e.running = true
		go e.run()
	}
}

func (e *eventQueue) close() {
	e.mu.Lock()
	e.closed = true
	e.cond.Broadcast()
	e.mu.Unlock()
}

func (e *eventQueue) run() {
	for {
		e.mu.Lock()
		for len(e.q) == 0 && !e.closed {
			e.cond.Wait()
		}
		if len(e.q) == 0 {
			e.mu.Unlock()
			return
		}
		ev := e.q[0]
		e.q = e.q[1:]
		fn := e.fn
		e.mu.Unlock()
		if fn != nil {
			fn(ev)
		}
	}
}

// OnEvent sets the function receiving server events, called one at a time
// in arrival order on a dedicated goroutine. Events arriving while no
// function is set are dropped.
func (c *Client) OnEvent(fn func(prog uint32, proc int32, body []byte)) {
	if fn == nil {
		c.events.set(nil)
		return
	}
	c.events.set(func(ev Event) { fn(ev.Prog, ev.Proc, ev.Body) })
}
