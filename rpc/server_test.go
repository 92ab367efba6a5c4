package rpc

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"govirt/rpc/xdr"
	"govirt/virerr"
)

type echoArgs struct{ S string }

// testHandler is a fake dispatch layer.
type testHandler struct {
	conn    *Conn
	release chan struct{} // proc 2 waits on it
	closed  chan struct{}
}

func (h *testHandler) Call(ctx context.Context, c *Call) {
	switch c.Proc {
	case 1:
		var a echoArgs
		if err := c.Decode(&a); err != nil {
			c.ReplyError(err)
			return
		}
		c.Reply(&a)
	case 2:
		select {
		case <-h.release:
		case <-ctx.Done():
		}
		c.Reply(&echoArgs{"slow"})
	case 3:
		c.ReplyError(virerr.New(virerr.FromDomain, virerr.ErrNoDomain, "%s", "no domain with matching name 'x'"))
	case 4:
		panic("boom")
	case 5:
		// returns without replying
	case 60:
		h.conn.EnableKeepalive(30*time.Millisecond, 2)
		c.Reply(nil)
	default:
		c.ReplyUnknownProc()
	}
}

func (h *testHandler) Closed() { close(h.closed) }

type testServer struct {
	srv      *Server
	path     string
	mu       sync.Mutex
	handlers []*testHandler
	release  chan struct{}
}

func startServer(t *testing.T, tweak func(*Server)) *testServer {
	t.Helper()
	ts := &testServer{release: make(chan struct{})}
	ts.srv = NewServer(func(c *Conn) Handler {
		h := &testHandler{conn: c, release: ts.release, closed: make(chan struct{})}
		ts.mu.Lock()
		ts.handlers = append(ts.handlers, h)
		ts.mu.Unlock()
		return h
	})
	ts.srv.Logf = t.Logf
	if tweak != nil {
		tweak(ts.srv)
	}
	ts.path = filepath.Join(t.TempDir(), "sock")
	ln, err := net.Listen("unix", ts.path)
	if err != nil {
		t.Fatal(err)
	}
	go ts.srv.Serve(ln)
	t.Cleanup(func() { ts.srv.Close() })
	return ts
}

type rawClient struct {
	t  *testing.T
	nc net.Conn
}

func (ts *testServer) dial(t *testing.T) *rawClient {
	nc, err := net.Dial("unix", ts.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t, nc}
}

func (r *rawClient) send(h Header, body any) {
	r.t.Helper()
	f, err := EncodeFrame(nil, h, body)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(f)
}

func (r *rawClient) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawClient) recv() (Header, []byte, error) {
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var scratch [28]byte
	return ReadFrame(r.nc, scratch[:])
}

func (r *rawClient) mustRecv() (Header, []byte) {
	r.t.Helper()
	h, b, err := r.recv()
	if err != nil {
		r.t.Fatal(err)
	}
	return h, b
}

func call(proc int32, serial uint32) Header {
	return Header{Prog: ProgramRemote, Vers: 1, Proc: proc, Type: TypeCall, Serial: serial}
}

func TestEchoErrorsAndUnknown(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)

	c.send(call(1, 7), &echoArgs{"hi"})
	h, b := c.mustRecv()
	var got echoArgs
	if h.Type != TypeReply || h.Status != StatusOK || h.Serial != 7 || h.Proc != 1 || xdr.Unmarshal(b, &got) != nil || got.S != "hi" {
		t.Fatalf("echo: %+v %q", h, got.S)
	}

	for _, tc := range []struct {
		hdr  Header
		code virerr.Code
		msg  string
	}{
		{call(999, 8), virerr.ErrRPC, "unknown procedure: 999"},
		{Header{Prog: 0x12345, Vers: 1, Proc: 1, Type: TypeCall, Serial: 9}, virerr.ErrRPC, "Cannot find program 74565 version 1"},
		{Header{Prog: ProgramRemote, Vers: 2, Proc: 1, Type: TypeCall, Serial: 10}, virerr.ErrRPC, "Cannot find program 536903814 version 2"},
		{call(3, 11), virerr.ErrNoDomain, ""},
		{call(4, 12), virerr.ErrInternalError, ""},
		{call(5, 13), virerr.ErrInternalError, ""},
	} {
		c.send(tc.hdr, nil)
		h, b := c.mustRecv()
		if h.Status != StatusError || h.Serial != tc.hdr.Serial || h.Prog != tc.hdr.Prog || h.Vers != tc.hdr.Vers {
			t.Fatalf("%+v: got header %+v", tc.hdr, h)
		}
		e := DecodeError(b)
		if e.Code != tc.code || (tc.msg != "" && e.Message != tc.msg) {
			t.Fatalf("%+v: got %+v", tc.hdr, e)
		}
		if tc.code == virerr.ErrRPC && e.Domain != virerr.FromRPC {
			t.Fatalf("domain %d", e.Domain)
		}
	}

	// Truncated arguments: decode error reply, connection survives.
	f, _ := RawFrame(nil, call(1, 20), []byte{0, 0, 0, 9, 'a'})
	c.write(f)
	h, b = c.mustRecv()
	if h.Status != StatusError || DecodeError(b).Message != "Unable to decode message payload" {
		t.Fatalf("truncated: %+v %+v", h, DecodeError(b))
	}
	c.send(call(1, 21), &echoArgs{"still here"})
	if h, _ := c.mustRecv(); h.Serial != 21 || h.Status != StatusOK {
		t.Fatalf("after error: %+v", h)
	}
}

func TestMalformedIsolated(t *testing.T) {
	ts := startServer(t, nil)
	good := ts.dial(t)
	for _, junk := range [][]byte{
		{0xff, 0xff, 0xff, 0xff},
		{0, 0, 0, 10, 1, 2, 3, 4, 5, 6},
		{0, 0, 0, 28, 0x20, 0, 0x80, 0x86, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 99, 0, 0, 0, 1, 0, 0, 0, 0},
	} {
		bad := ts.dial(t)
		bad.write(junk)
		_, _, err := bad.recv()
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Fatalf("junk %x: expected close, got %v", junk, err)
		}
		good.send(call(1, 1), &echoArgs{"ok"})
		if h, _ := good.mustRecv(); h.Status != StatusOK {
			t.Fatalf("good connection disturbed: %+v", h)
		}
	}
	// Non-call traffic for unknown programs is dropped silently.
	good.send(Header{Prog: 77, Vers: 1, Type: TypeMessage}, nil)
	good.send(call(1, 2), &echoArgs{"ok"})
	if h, _ := good.mustRecv(); h.Serial != 2 {
		t.Fatalf("got %+v", h)
	}
}

func TestPingPong(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	c.send(Header{Prog: ProgramKeepalive, Vers: 1, Proc: KeepalivePing, Type: TypeMessage}, nil)
	h, b := c.mustRecv()
	if h.Prog != ProgramKeepalive || h.Proc != KeepalivePong || h.Type != TypeMessage || len(b) != 0 {
		t.Fatalf("got %+v", h)
	}
}

func TestOverlappingCalls(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	c.send(call(2, 1), nil)
	c.send(call(1, 2), &echoArgs{"fast"})
	if h, _ := c.mustRecv(); h.Serial != 2 {
		t.Fatalf("fast call should overtake slow one, got serial %d", h.Serial)
	}
	close(ts.release)
	if h, _ := c.mustRecv(); h.Serial != 1 {
		t.Fatalf("got serial %d", h.Serial)
	}
}

func TestThrottleAtMaxRequests(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.MaxRequests = 2 })
	c := ts.dial(t)
	for i := uint32(1); i <= 3; i++ {
		c.send(call(2, i), nil)
	}
	c.send(call(1, 4), &echoArgs{"x"})
	c.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var scratch [28]byte
	if _, _, err := ReadFrame(c.nc, scratch[:]); err == nil {
		t.Fatal("reply while throttled")
	}
	close(ts.release)
	seen := map[uint32]bool{}
	for range 4 {
		h, _ := c.mustRecv()
		seen[h.Serial] = true
	}
	if len(seen) != 4 {
		t.Fatalf("got %v", seen)
	}
}

func TestKeepaliveTimeout(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	c.send(call(60, 1), nil)
	c.mustRecv()
	pings := 0
	for {
		h, _, err := c.recv()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("connection not dropped")
				}
			}
			break
		}
		if h.Prog == ProgramKeepalive && h.Proc == KeepalivePing {
			pings++
		}
	}
	if pings != 2 {
		t.Fatalf("got %d pings before drop, want 2", pings)
	}
	ts.mu.Lock()
	h := ts.handlers[0]
	ts.mu.Unlock()
	select {
	case <-h.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Closed not called")
	}
	if !errors.Is(h.conn.Err(), ErrKeepaliveTimeout) {
		t.Fatalf("reason %v", h.conn.Err())
	}
}

func TestKeepaliveAnsweredStaysUp(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	c.send(call(60, 1), nil)
	c.mustRecv()
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		h, _ := c.mustRecv()
		if h.Proc == KeepalivePing {
			c.send(Header{Prog: ProgramKeepalive, Vers: 1, Proc: KeepalivePong, Type: TypeMessage}, nil)
		}
	}
	c.send(call(1, 2), &echoArgs{"alive"})
	for {
		h, _ := c.mustRecv()
		if h.Type == TypeReply {
			break
		}
	}
}

func TestEventOverflowDropsClient(t *testing.T) {
	srv := NewServer(func(c *Conn) Handler { return &testHandler{conn: c, closed: make(chan struct{})} })
	srv.MaxQueuedMessages = 8
	srv.Logf = t.Logf
	a, b := net.Pipe() // unbuffered: nothing drains unless we read
	defer b.Close()
	c := srv.ServeConn(a)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = c.SendEvent(ProgramRemote, 318, &echoArgs{"event"})
	}
	if !errors.Is(err, ErrQueueOverflow) && !errors.Is(err, ErrConnClosed) {
		t.Fatalf("got %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("slow client not dropped")
	}
	srv.Close()
}

func TestEventDelivery(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	c.send(call(1, 1), &echoArgs{"x"})
	c.mustRecv()
	ts.mu.Lock()
	conn := ts.handlers[0].conn
	ts.mu.Unlock()
	if err := conn.SendEvent(ProgramRemote, 318, &echoArgs{"ev"}); err != nil {
		t.Fatal(err)
	}
	h, b := c.mustRecv()
	var e echoArgs
	if h.Type != TypeMessage || h.Proc != 318 || h.Serial != 1 || xdr.Unmarshal(b, &e) != nil || e.S != "ev" {
		t.Fatalf("%+v %+v", h, e)
	}
}

func TestServerCloseEndsConns(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	c.send(call(2, 1), nil) // in flight, blocked until ctx cancel
	time.Sleep(20 * time.Millisecond)
	done := make(chan struct{})
	go func() { ts.srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close hung")
	}
}

// An error quoting a maximum-length name from the client must still be
// sent: unencodable, the call would never be answered.
func TestHugeErrorMessageEncodes(t *testing.T) {
	name := strings.Repeat("é", StringMax/2)
	re := ToRemoteError(virerr.New(virerr.FromDom, virerr.ErrNoDomain, "no domain with matching name '%s'", name))
	b, err := xdr.Marshal(re)
	if err != nil {
		t.Fatal(err)
	}
	if got := DecodeError(b); !strings.HasSuffix(got.Message, "...") || !utf8.ValidString(got.Message) || got.Code != virerr.ErrNoDomain {
		t.Fatalf("message of %d bytes, code %v", len(got.Message), got.Code)
	}
}
