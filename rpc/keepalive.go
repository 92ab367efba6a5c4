package rpc

import (
	"errors"
	"time"
)

// Keepalive defaults, as libvirtd's keepalive_interval / keepalive_count.
const (
	DefaultKeepaliveInterval = 5 * time.Second
	DefaultKeepaliveCount    = 5
)

// ErrKeepaliveTimeout is why a connection is dropped after unanswered pings.
var ErrKeepaliveTimeout = errors.New("rpc: connection keepalive timeout")

func (c *Conn) keepaliveMessage(h Header) error {
	switch h.Proc {
	case KeepalivePing:
		frame, err := c.encode(Header{Prog: ProgramKeepalive, Vers: ProtocolVersion, Proc: KeepalivePong, Type: TypeMessage}, nil)
		if err != nil {
			return err
		}
		if err := c.send(frame); err != nil && err != ErrConnClosed {
			return err
		}
	case KeepalivePong:
		// Receiving it already refreshed lastRecv; nothing else to do.
	}
	return nil
}

// EnableKeepalive starts pinging the client, which the dispatch layer does
// once the client has asked about VIR_DRV_FEATURE_PROGRAM_KEEPALIVE (older
// clients would not answer). A ping goes out whenever nothing has been
// received for interval; after count pings without any traffic in between
// the client is considered dead and dropped. Zero values pick libvirt's
// defaults. Calling it again has no effect.
func (c *Conn) EnableKeepalive(interval time.Duration, count int) {
	if interval <= 0 {
		interval = DefaultKeepaliveInterval
	}
	if count <= 0 {
		count = DefaultKeepaliveCount
	}
	if !c.kaStarted.CompareAndSwap(false, true) {
		return
	}
	go c.keepaliveLoop(interval, count)
}

func (c *Conn) keepaliveLoop(interval time.Duration, count int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	missed := 0
	var lastPing time.Time
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		recv := time.Unix(0, c.lastRecv.Load())
		// While the reader is stalled by our own throttling the client's
		// pongs sit unread in the socket; that is not the client's fault.
		throttled := c.throttled.Load() > 0
		if throttled || recv.After(lastPing) {
			missed = 0
		}
		if throttled || time.Since(recv) < interval {
			continue
		}
		if missed >= count {
			c.srv.logf("rpc: no keepalive response from client %v in %v", c.nc.RemoteAddr(), interval*time.Duration(count))
			c.closeWith(ErrKeepaliveTimeout)
			return
		}
		missed++
		lastPing = time.Now()
		frame, err := c.encode(Header{Prog: ProgramKeepalive, Vers: ProtocolVersion, Proc: KeepalivePing, Type: TypeMessage}, nil)
		if err != nil {
			return
		}
		// A ping must not wait behind a stuck queue: that is exactly the
		// situation it is meant to detect.
		if err := c.out.tryPutNow(frame); err == ErrConnClosed {
			return
		}
	}
}
