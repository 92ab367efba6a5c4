package rpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

// flakyListener fails its first accepts the way a process out of
// descriptors does.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: syscall.EMFILE}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// pinged reports whether the server answers a keepalive ping within wait.
func (r *rawClient) pinged(wait time.Duration) bool {
	r.send(Header{Prog: ProgramKeepalive, Vers: 1, Proc: KeepalivePing, Type: TypeMessage}, nil)
	r.nc.SetReadDeadline(time.Now().Add(wait))
	var scratch [28]byte
	h, _, err := ReadFrame(r.nc, scratch[:])
	return err == nil && h.Proc == KeepalivePong
}

func TestAcceptErrorsRetried(t *testing.T) {
	ts := &testServer{release: make(chan struct{})}
	var logs bytes.Buffer
	var mu sync.Mutex
	ts.srv = NewServer(func(c *Conn) Handler { return &testHandler{conn: c, closed: make(chan struct{})} })
	ts.srv.Logf = func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(f + "\n")
	}
	ts.path = t.TempDir() + "/sock"
	ln, err := net.Listen("unix", ts.path)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- ts.srv.Serve(&flakyListener{Listener: ln, fails: 5}) }()
	t.Cleanup(func() { ts.srv.Close() })
	c := ts.dial(t)
	if !c.pinged(5 * time.Second) {
		t.Fatal("not served after accept errors")
	}
	select {
	case err := <-errc:
		t.Fatalf("Serve returned %v", err)
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Count(logs.String(), "retrying") != 5 {
		t.Fatalf("logs: %s", logs.String())
	}
}

func TestDefaultMaxClientRequests(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	for i := uint32(1); i <= DefaultMaxClientRequests; i++ {
		c.send(call(2, i), nil)
	}
	c.send(call(1, 99), &echoArgs{"x"})
	c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var scratch [28]byte
	if _, _, err := ReadFrame(c.nc, scratch[:]); err == nil {
		t.Fatal("a sixth call ran beside five")
	}
	close(ts.release)
	for range DefaultMaxClientRequests + 1 {
		c.mustRecv()
	}
}

func TestMaxClientsHoldsNewClients(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.srv.SetClientLimits(1, 0); err != nil {
		t.Fatal(err)
	}
	a := ts.dial(t)
	if !a.pinged(5 * time.Second) {
		t.Fatal("first client not served")
	}
	b := ts.dial(t)
	if b.pinged(200 * time.Millisecond) {
		t.Fatal("client over max_clients served")
	}
	a.nc.Close()
	if !b.pinged(5 * time.Second) {
		t.Fatal("waiting client not served after a slot freed")
	}
	if err := ts.srv.SetClientLimits(1, 2); err == nil {
		t.Fatal("max_clients below max_anonymous_clients accepted")
	}
}

func TestOpenEndsAnonymity(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t)
	c.pinged(5 * time.Second)
	if l := ts.srv.ClientLimits(); l.Clients != 1 || l.Anonymous != 1 {
		t.Fatalf("%+v", l)
	}
	// The test handler's proc 1 echoes: a successful CONNECT_OPEN reply.
	// Its last word, the open flags, asks for read-only.
	c.send(call(1, 1), &echoArgs{"\x00\x00\x00\x01"})
	c.mustRecv()
	if l := ts.srv.ClientLimits(); l.Clients != 1 || l.Anonymous != 0 {
		t.Fatalf("%+v", l)
	}
	conn := ts.srv.Conns()[0]
	if !conn.Authenticated() || !conn.ReadOnly() || conn.ID() != 1 || conn.Transport() != TransportUnix {
		t.Fatalf("conn %d authed %v ro %v transport %v", conn.ID(), conn.Authenticated(), conn.ReadOnly(), conn.Transport())
	}
}

func TestStalledMessageDropped(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.StallTimeout = 300 * time.Millisecond })
	idle := ts.dial(t)
	idle.pinged(5 * time.Second)
	c := ts.dial(t)
	hdr := make([]byte, 28+10)
	binary.BigEndian.PutUint32(hdr, MessageMax)
	binary.BigEndian.PutUint32(hdr[4:], ProgramRemote)
	binary.BigEndian.PutUint32(hdr[8:], 1)
	c.write(hdr)
	if _, _, err := c.recv(); err == nil || !(errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset")) {
		t.Fatalf("stalled client: %v", err)
	}
	// An idle client (nothing half sent) is left alone.
	time.Sleep(400 * time.Millisecond)
	if !idle.pinged(5 * time.Second) {
		t.Fatal("idle client dropped")
	}
	for _, conn := range ts.srv.Conns() {
		if conn.Err() != nil {
			t.Fatalf("conn %d ended: %v", conn.ID(), conn.Err())
		}
	}
}

func TestInputBudgetStopsReading(t *testing.T) {
	// A short stall timeout: waiting on the budget is not the client's
	// stall, so the deadline must restart once reading resumes.
	ts := startServer(t, func(s *Server) { s.MaxInputBytes = 64 << 10; s.StallTimeout = 100 * time.Millisecond })
	c := ts.dial(t)
	big := &echoArgs{strings.Repeat("x", 40<<10)}
	c.send(call(2, 1), big) // held by the handler
	c.send(call(2, 2), big) // over the budget: not read while 1 runs
	c.send(call(1, 3), &echoArgs{"fast"})
	c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var scratch [28]byte
	if _, _, err := ReadFrame(c.nc, scratch[:]); err == nil {
		t.Fatal("a call behind the input budget was answered")
	}
	time.Sleep(300 * time.Millisecond)
	close(ts.release)
	seen := map[uint32]bool{}
	for range 3 {
		h, _ := c.mustRecv()
		seen[h.Serial] = true
	}
	if len(seen) != 3 {
		t.Fatalf("%v", seen)
	}
}

func TestReadFrameGrowsAsBytesArrive(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320,000 bytes
	f, err := RawFrame(nil, call(7, 1), body)
	if err != nil {
		t.Fatal(err)
	}
	var scratch [28]byte
	h, got, err := ReadFrame(iotest.HalfReader(bytes.NewReader(f)), scratch[:])
	if err != nil || h.Proc != 7 || !bytes.Equal(got, body) {
		t.Fatalf("%+v %v equal=%v", h, err, bytes.Equal(got, body))
	}
	// A header promising much more than arrives: an error, not a hang.
	if _, _, err := ReadFrame(bytes.NewReader(f[:1000]), scratch[:]); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short body: %v", err)
	}
}

func TestEventBacklogBoundedInBytes(t *testing.T) {
	q := newOutQueue(1024, 4096)
	q.maxAsync = 4096
	frame := make([]byte, 1024)
	for i := 0; i < 4; i++ {
		if err := q.tryPut(frame); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if err := q.tryPut(frame); err != ErrQueueOverflow {
		t.Fatalf("got %v", err)
	}
}

// FuzzReadFrame feeds arbitrary bytes, delivered in small reads, to the
// growing frame reader: it must return a frame or an error, never panic,
// and a frame's body must be exactly what its length word says.
func FuzzReadFrame(f *testing.F) {
	good, _ := EncodeFrame(nil, call(1, 1), &echoArgs{"hello"})
	f.Add(good)
	f.Add([]byte{0, 0, 0x20, 0, 0x20, 0, 0x80, 0x86})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var scratch [28]byte
		r := iotest.HalfReader(bytes.NewReader(data))
		for {
			_, body, err := ReadFrame(r, scratch[:])
			if err != nil {
				return
			}
			if len(body)+28 != int(binary.BigEndian.Uint32(scratch[:])) {
				t.Fatalf("body %d for length %d", len(body), binary.BigEndian.Uint32(scratch[:]))
			}
		}
	})
}
