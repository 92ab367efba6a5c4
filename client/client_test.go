package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/virerr"
)

const (
	procEcho  int32 = 1000
	procFail  int32 = 1001
	procEvent int32 = 1002
)

type echo struct {
	S string
	N int32
}

type uploadArgs struct{ FailAfter int64 }
type downloadArgs struct {
	Length uint64
	Seed   uint64
	Hole   int64
}

// fakeDaemon implements rpc.Handler with just enough of the remote
// program for the client's handshake plus test procedures.
type fakeDaemon struct {
	conn *rpc.Conn
	t    testing.TB
	ka   time.Duration

	mu       sync.Mutex
	opened   string
	flags    uint32
	closed   bool
	uploaded [32]byte
	upBytes  int64
	upErr    error
}

type daemon struct {
	path string
	srv  *rpc.Server
	mu   sync.Mutex
	last *fakeDaemon
	ka   time.Duration
}

func (d *daemon) handler() *fakeDaemon {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

func startDaemon(t testing.TB, ka time.Duration) *daemon {
	d := &daemon{path: filepath.Join(t.TempDir(), "libvirt-sock"), ka: ka}
	d.srv = rpc.NewServer(func(c *rpc.Conn) rpc.Handler {
		h := &fakeDaemon{conn: c, t: t, ka: ka}
		d.mu.Lock()
		d.last = h
		d.mu.Unlock()
		return h
	})
	d.srv.Logf = t.Logf
	ln, err := net.Listen("unix", d.path)
	if err != nil {
		t.Fatal(err)
	}
	go d.srv.Serve(ln)
	t.Cleanup(func() { d.srv.Close() })
	return d
}

func (d *daemon) dial(t testing.TB) *Client {
	c, err := Dial("test+unix:///default?socket=" + d.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (h *fakeDaemon) Call(ctx context.Context, c *rpc.Call) {
	switch c.Proc {
	case procs.AuthList:
		c.Reply(&authListRet{Types: []int32{0}})
	case procs.ConnectSupportsFeature:
		var a featureArgs
		if err := c.Decode(&a); err != nil {
			c.ReplyError(err)
			return
		}
		if a.Feature == rpc.FeatureProgramKeepalive && h.ka > 0 {
			h.conn.EnableKeepalive(h.ka, 2)
		}
		c.Reply(&featureRet{1})
	case procs.ConnectOpen:
		var a connectOpenArgs
		if err := c.Decode(&a); err != nil {
			c.ReplyError(err)
			return
		}
		h.mu.Lock()
		h.opened, h.flags = *a.Name, a.Flags
		h.mu.Unlock()
		c.Reply(nil)
	case procs.ConnectClose:
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		c.Reply(nil)
	case procEcho:
		var a echo
		if err := c.Decode(&a); err != nil {
			c.ReplyError(err)
			return
		}
		a.N++
		c.Reply(&a)
	case procFail:
		c.ReplyError(virerr.New(virerr.FromDomain, virerr.ErrNoDomain, "no domain with matching name '%s'", "vm1"))
	case procEvent:
		c.Reply(nil)
		for i := range int32(5) {
			h.conn.SendEvent(rpc.ProgramRemote, procs.DomainEventCallbackLifecycle, &echo{"ev", i})
		}
	case procs.StorageVolUpload:
		h.upload(c)
	case procs.StorageVolDownload:
		h.download(c)
	default:
		c.ReplyUnknownProc()
	}
}

func (h *fakeDaemon) upload(c *rpc.Call) {
	var a uploadArgs
	if err := c.Decode(&a); err != nil {
		c.ReplyError(err)
		return
	}
	st := c.NewStream()
	c.Reply(nil)
	go func() {
		sum := sha256.New()
		var r io.Reader = st
		if a.FailAfter > 0 {
			r = io.LimitReader(st, a.FailAfter)
		}
		n, err := io.Copy(sum, r)
		h.mu.Lock()
		copy(h.uploaded[:], sum.Sum(nil))
		h.upBytes, h.upErr = n, err
		h.mu.Unlock()
		if a.FailAfter > 0 {
			st.CloseWithError(virerr.New(virerr.FromStorage, virerr.ErrOperationFailed, "%s", "disk full"))
			return
		}
		st.Close()
	}()
}

func pattern(n uint64, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, (n+7)&^7)
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

func (h *fakeDaemon) download(c *rpc.Call) {
	var a downloadArgs
	if err := c.Decode(&a); err != nil {
		c.ReplyError(err)
		return
	}
	st := c.NewStream()
	c.Reply(nil)
	// Generated chunk by chunk so an aborted download stops early; the
	// chunk size (a multiple of 8, unlike StreamChunkMax multiples) keeps
	// the byte sequence identical to pattern().
	r := rand.New(rand.NewPCG(a.Seed, a.Seed))
	buf := make([]byte, 300000)
	for left := a.Length; left > 0; {
		for i := 0; i < len(buf); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], r.Uint64())
		}
		n := min(left, uint64(len(buf)))
		if _, err := st.Write(buf[:n]); err != nil {
			return
		}
		left -= n
	}
	if a.Hole > 0 {
		st.SendHole(a.Hole, 0)
	}
	st.Close()
}

func (h *fakeDaemon) Closed() {}

func TestHandshake(t *testing.T) {
	d := startDaemon(t, 0)
	c := d.dial(t)
	h := d.handler()
	h.mu.Lock()
	if h.opened != "test:///default" || h.flags != 0 {
		t.Fatalf("opened %q flags %d", h.opened, h.flags)
	}
	h.mu.Unlock()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		t.Fatal("CONNECT_CLOSE not sent")
	}
}

func TestReadOnlyFlag(t *testing.T) {
	d := startDaemon(t, 0)
	c, err := DialOptions(context.Background(), "qemu+unix:///system?socket="+d.path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := d.handler()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.opened != "qemu:///system" || h.flags != 1 {
		t.Fatalf("opened %q flags %d", h.opened, h.flags)
	}
}

func TestTCP(t *testing.T) {
	srv := rpc.NewServer(func(c *rpc.Conn) rpc.Handler { return &fakeDaemon{conn: c, t: t} })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := Dial("qemu+tcp://" + ln.Addr().String() + "/system")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var r echo
	if err := c.Call(context.Background(), procEcho, &echo{"tcp", 1}, &r); err != nil || r.N != 2 {
		t.Fatal(err, r)
	}
}

func TestConcurrentCalls(t *testing.T) {
	d := startDaemon(t, 0)
	c := d.dial(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				s := fmt.Sprintf("g%d-%d", g, i)
				var r echo
				if err := c.Call(context.Background(), procEcho, &echo{s, int32(i)}, &r); err != nil {
					errs <- err
					return
				}
				if r.S != s || r.N != int32(i)+1 {
					errs <- fmt.Errorf("crossed reply: sent %s/%d got %s/%d", s, i, r.S, r.N)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestErrorMapping(t *testing.T) {
	d := startDaemon(t, 0)
	c := d.dial(t)
	err := c.Call(context.Background(), procFail, nil, nil)
	var ve *virerr.Error
	if !errors.As(err, &ve) || ve.Code != virerr.ErrNoDomain || ve.Domain != virerr.FromDomain ||
		ve.Message != virerr.New(virerr.FromDomain, virerr.ErrNoDomain, "no domain with matching name 'vm1'").Message {
		t.Fatalf("got %#v", err)
	}
	err = c.Call(context.Background(), 4242, nil, nil)
	if !IsNotSupported(err) {
		t.Fatalf("unknown proc: %v", err)
	}
}

func TestEvents(t *testing.T) {
	d := startDaemon(t, 0)
	c := d.dial(t)
	got := make(chan echo, 10)
	c.OnEvent(func(prog uint32, proc int32, body []byte) {
		if prog != rpc.ProgramRemote || proc != procs.DomainEventCallbackLifecycle {
			t.Errorf("event prog %x proc %d", prog, proc)
		}
		var e echo
		if err := xdrUnmarshal(body, &e); err != nil {
			t.Error(err)
		}
		got <- e
	})
	if err := c.Call(context.Background(), procEvent, nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := range int32(5) {
		select {
		case e := <-got:
			if e.N != i {
				t.Fatalf("event %d out of order: %d", i, e.N)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("event not delivered")
		}
	}
}

func TestKeepalivePongs(t *testing.T) {
	d := startDaemon(t, 20*time.Millisecond)
	c := d.dial(t)
	time.Sleep(300 * time.Millisecond) // well past interval*count
	var r echo
	if err := c.Call(context.Background(), procEcho, &echo{"alive", 0}, &r); err != nil {
		t.Fatalf("connection dropped despite pongs: %v (client %v, server %v)", err, c.Err(), d.handler().conn.Err())
	}
}

func TestUpload(t *testing.T) {
	d := startDaemon(t, 0)
	c := d.dial(t)
	data := pattern(5<<20+12345, 1)
	st, err := c.CallStream(context.Background(), procs.StorageVolUpload, &uploadArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Uneven writes: the client must re-chunk.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1<<20+7)
		if _, err := st.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	h := d.handler()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.upBytes != int64(len(data)) || h.uploaded != sha256.Sum256(data) || h.upErr != nil {
		t.Fatalf("server got %d bytes (want %d), err %v, hash match %v", h.upBytes, len(data), h.upErr, h.uploaded == sha256.Sum256(data))
	}
}

func TestUploadServerError(t *testing.T) {
	d := startDaemon(t, 0)
	c := d.dial(t)
	st, err := c.CallStream(context.Background(), procs.StorageVolUpload, &uploadArgs{FailAfter: 1 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	var werr error
	for i := 0; i < 64 && werr == nil; i++ {
		_, werr = st.Write(chunk)
		time.Sleep(time.Millisecond)
	}
	ferr := st.Finish()
	var ve *virerr.Error
	if !errors.As(ferr, &ve) || ve.Message != virerr.New(virerr.FromStorage, virerr.ErrOperationFailed, "disk full").Message {
		t.Fatalf("finish: %v (write: %v)", ferr, werr)
	}
	// Connection still usable.
	if err := c.Call(context.Background(), procEcho, &echo{}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestDownload(t *testing.T) {
	d := startDaemon(t, 0)
	c := d.dial(t)
	const n = 3<<20 + 999
	st, err := c.CallStream(context.Background(), procs.StorageVolDownload, &downloadArgs{Length: n, Seed: 7, Hole: 5000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(st)
	if err != nil {
		t.Fatal(err)
	}
	want := append(pattern(n, 7), make([]byte, 5000)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("download mismatch: got %d bytes, want %d", len(got), len(want))
	}
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(context.Background(), procEcho, &echo{}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestDownloadAbort(t *testing.T) {
	d := startDaemon(t, 0)
	c := d.dial(t)
	st, err := c.CallStream(context.Background(), procs.StorageVolDownload, &downloadArgs{Length: 24 << 20, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100000)
	if _, err := io.ReadFull(st, buf); err != nil {
		t.Fatal(err)
	}
	if err := st.Abort(); err != nil {
		t.Fatal(err)
	}
	var r echo
	if err := c.Call(context.Background(), procEcho, &echo{"after", 1}, &r); err != nil || r.N != 2 {
		t.Fatal(err)
	}
}

func TestCallContextCancel(t *testing.T) {
	d := startDaemon(t, 0)
	c := d.dial(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Call(ctx, procEcho, &echo{}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestServerGone(t *testing.T) {
	d := startDaemon(t, 0)
	c := d.dial(t)
	d.srv.Close()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client did not notice")
	}
	if err := c.Call(context.Background(), procEcho, &echo{}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}
