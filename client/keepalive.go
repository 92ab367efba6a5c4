package client

import (
	"errors"
	"time"
)

// ErrKeepaliveTimeout is why a connection whose peer stopped answering
// keepalive pings was closed.
var ErrKeepaliveTimeout = errors.New("client: connection closed due to keepalive timeout")

// KeepAlive makes the client probe the server as virConnectSetKeepAlive
// does: after interval without any frame from the server it sends a PING,
// and after count such intervals without an answer it closes the
// connection (Done closes, Err is ErrKeepaliveTimeout). It stops with the
// connection.
func (c *Client) KeepAlive(interval time.Duration, count int) {
	if interval <= 0 || count <= 0 {
		return
	}
	c.lastRecv.CompareAndSwap(0, time.Now().UnixNano())
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-t.C:
			}
			idle := time.Since(time.Unix(0, c.lastRecv.Load()))
			switch {
			case idle >= interval*time.Duration(count+1):
				c.shutdown(ErrKeepaliveTimeout)
				return
			case idle >= interval:
				c.Ping()
			}
		}
	}()
}
