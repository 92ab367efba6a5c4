package qemu

import "sync"

// worker runs one guest's deferred event work (fake reboot, crash action,
// cleanup after QEMU went away) in submission order, off the monitor's
// event goroutine, because that work needs the guest's job and may issue
// monitor commands whose replies the event goroutine must stay free to read.
type worker struct {
	mu      sync.Mutex
	queue   []func()
	running bool
}

func newWorker() *worker { return &worker{} }

// submit queues fn; a goroutine drains the queue while it is non-empty.
func (w *worker) submit(fn func()) {
	w.mu.Lock()
	w.queue = append(w.queue, fn)
	if w.running {
		w.mu.Unlock()
		return
	}
	w.running = true
	w.mu.Unlock()
	go w.drain()
}

func (w *worker) drain() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		fn := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
		fn()
	}
}
