package client

import (
	"io"
	"net"
	"testing"
	"time"
)

// A server that reads but never answers is dropped after count intervals.
func TestKeepAliveDropsSilentServer(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go io.Copy(io.Discard, b) // swallows the pings
	c := New(a)
	start := time.Now()
	c.KeepAlive(20*time.Millisecond, 2)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not dropped")
	}
	if c.Err() != ErrKeepaliveTimeout {
		t.Errorf("err %v", c.Err())
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Errorf("dropped after %v", time.Since(start))
	}
}
