package main

import (
	"log/slog"
	"sync"
	"time"

	"govirt/rpc"
)

// idleShutdown is virt-admin's daemon-timeout: once set to N seconds, the
// daemon exits after N seconds without any client on any server (as
// libvirtd, whose timer runs only while no client is connected). 0 turns
// it off again. Running guests do not hold govirtd up: they are
// reconnected at the next start.
type idleShutdown struct {
	log     *slog.Logger
	servers []*rpc.Server
	expired chan struct{}
	once    sync.Once

	mu      sync.Mutex
	timeout time.Duration
	stop    chan struct{}
}

func newIdleShutdown(log *slog.Logger, servers ...*rpc.Server) *idleShutdown {
	return &idleShutdown{log: log, servers: servers, expired: make(chan struct{})}
}

func (d *idleShutdown) set(seconds uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stop != nil {
		close(d.stop)
		d.stop = nil
	}
	d.timeout = time.Duration(seconds) * time.Second
	d.log.Info("daemon timeout set", "seconds", seconds)
	if seconds == 0 {
		return nil
	}
	d.stop = make(chan struct{})
	go d.watch(d.timeout, d.stop)
	return nil
}

func (d *idleShutdown) clients() int {
	n := 0
	for _, s := range d.servers {
		n += int(s.ClientLimits().Clients)
	}
	return n
}

func (d *idleShutdown) watch(timeout time.Duration, stop chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	idleSince := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if d.clients() > 0 {
			idleSince = time.Now()
			continue
		}
		if time.Since(idleSince) >= timeout {
			d.once.Do(func() { close(d.expired) })
			return
		}
	}
}
