package rpc

import (
	"io"
	"net"
	"testing"
)

// A ping on an idle queue goes straight to the socket; one queued behind
// other frames keeps its place (the writer goroutine sends it).
func TestTryPutNowWritesDirectlyWhenIdle(t *testing.T) {
	a, b, err := unixPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	q := newOutQueue(1<<20, 16)
	q.nc = a
	if err := q.tryPutNow([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if len(q.frames) != 0 {
		t.Fatalf("idle queue: ping was queued")
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "ping" {
		t.Fatalf("read %q %v", got, err)
	}
	q.push([]byte("first"))
	if err := q.tryPutNow([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if len(q.frames) != 2 || string(q.frames[1]) != "ping" {
		t.Fatalf("busy queue: frames %q", q.frames)
	}
	q.close()
	if err := q.tryPutNow([]byte("ping")); err != ErrConnClosed {
		t.Fatalf("closed queue: %v", err)
	}
}

func unixPair() (*net.UnixConn, *net.UnixConn, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: "", Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	a, err := net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	if err != nil {
		return nil, nil, err
	}
	b, err := ln.AcceptUnix()
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, b, nil
}
