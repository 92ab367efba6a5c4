package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAgent is a qemu-ga stand-in on a unix socket: it parses commands
// line by line, resets on 0xFF (answering the stray byte with an error,
// as qemu-ga does) and answers through handler; a nil answer sends
// nothing.
type fakeAgent struct {
	t         *testing.T
	ln        net.Listener
	handler   func(cmd string, args json.RawMessage) []byte
	plainOnly bool // no guest-sync-delimited
	syncs     atomic.Int32
	mu        sync.Mutex
	conns     []net.Conn
}

func newFake(t *testing.T, handler func(string, json.RawMessage) []byte) (*fakeAgent, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qga.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAgent{t: t, ln: ln, handler: handler}
	go f.serve()
	t.Cleanup(func() { f.closeAll() })
	return f, path
}

func (f *fakeAgent) closeAll() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
}

func (f *fakeAgent) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		go f.conn(c)
	}
}

func (f *fakeAgent) conn(c net.Conn) {
	r := bufio.NewReader(c)
	var line []byte
	var wmu sync.Mutex
	send := func(b []byte) {
		wmu.Lock()
		c.Write(b)
		wmu.Unlock()
	}
	for {
		b, err := r.ReadByte()
		if err != nil {
			return
		}
		if b == 0xFF {
			line = line[:0]
			send([]byte(`{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\ufffd'"}}` + "\n"))
			continue
		}
		if b != '\n' {
			line = append(line, b)
			continue
		}
		var cmd struct {
			Execute   string          `json:"execute"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if err := json.Unmarshal(line, &cmd); err != nil {
			send([]byte(`{"error": {"class": "GenericError", "desc": "bad json"}}` + "\n"))
			line = line[:0]
			continue
		}
		line = line[:0]
		var id struct{ ID uint64 }
		switch {
		case cmd.Execute == "guest-sync-delimited" && !f.plainOnly:
			f.syncs.Add(1)
			json.Unmarshal(cmd.Arguments, &id)
			send(append([]byte{0xFF}, []byte(`{"return": `+itoa(id.ID)+"}\n")...))
		case cmd.Execute == "guest-sync":
			f.syncs.Add(1)
			json.Unmarshal(cmd.Arguments, &id)
			send([]byte(`{"return": ` + itoa(id.ID) + "}\n"))
		case cmd.Execute == "guest-sync-delimited":
			send([]byte(`{"error": {"class": "CommandNotFound", "desc": "The command guest-sync-delimited has not been found"}}` + "\n"))
		default:
			cmdName, args := cmd.Execute, cmd.Arguments
			go func() {
				if out := f.handler(cmdName, args); out != nil {
					send(append(out, '\n'))
				}
			}()
		}
	}
}

func itoa(v uint64) string { b, _ := json.Marshal(v); return string(b) }

func dial(t *testing.T, path string) *Agent {
	t.Helper()
	a, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestCommandSyncsOnce(t *testing.T) {
	f, path := newFake(t, func(cmd string, args json.RawMessage) []byte {
		switch cmd {
		case "guest-get-host-name":
			return []byte(`{"return": {"host-name": "g1"}}`)
		case "echo":
			return []byte(`{"return": ` + string(args) + `}`)
		}
		return []byte(`{"error": {"class": "CommandNotFound", "desc": "The command ` + cmd + ` has not been found"}}`)
	})
	a := dial(t, path)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		var r struct {
			HostName string `json:"host-name"`
		}
		if err := a.Command(ctx, "guest-get-host-name", nil, &r); err != nil || r.HostName != "g1" {
			t.Fatalf("got %+v, %v", r, err)
		}
	}
	var echo map[string]int
	if err := a.Command(ctx, "echo", map[string]int{"x": 7}, &echo); err != nil || echo["x"] != 7 {
		t.Fatalf("echo: %v %v", echo, err)
	}
	if n := f.syncs.Load(); n != 1 {
		t.Fatalf("%d syncs, want 1", n)
	}
	err := a.Command(ctx, "nope", nil, nil)
	var e *Error
	if !errors.As(err, &e) || !e.Unsupported() || e.Error() != "unable to execute QEMU agent command 'nope': The command nope has not been found" {
		t.Fatalf("err %v", err)
	}
}

func TestRawWholeReply(t *testing.T) {
	_, path := newFake(t, func(cmd string, args json.RawMessage) []byte {
		return []byte(`{ "return" : { "b": 1, "a": [1, 2] } }`)
	})
	a := dial(t, path)
	out, err := a.Raw(context.Background(), []byte(`{"execute":"guest-info"}`), time.Second)
	if err != nil || string(out) != `{"return":{"b":1,"a":[1,2]}}` {
		t.Fatalf("%s %v", out, err)
	}
	if _, err := a.Raw(context.Background(), []byte(`{"execute":`), time.Second); err == nil {
		t.Fatal("bad JSON accepted")
	}
}

func TestTimeoutThenResync(t *testing.T) {
	release := make(chan struct{})
	f, path := newFake(t, func(cmd string, args json.RawMessage) []byte {
		if cmd == "hang" {
			<-release
			return []byte(`{"return": "late"}`)
		}
		return []byte(`{"return": "` + cmd + `"}`)
	})
	a := dial(t, path)
	a.SetTimeout(200 * time.Millisecond)
	t0 := time.Now()
	if err := a.Command(context.Background(), "hang", nil, nil); err != ErrTimeout {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	close(release) // the late reply now arrives before the next sync's
	time.Sleep(50 * time.Millisecond)
	var s string
	if err := a.Command(context.Background(), "ping", nil, &s); err != nil || s != "ping" {
		t.Fatalf("after timeout: %q %v", s, err)
	}
	if n := f.syncs.Load(); n != 2 {
		t.Fatalf("%d syncs, want 2", n)
	}
}

func TestHungAgentQueue(t *testing.T) {
	_, path := newFake(t, func(cmd string, args json.RawMessage) []byte { return nil })
	a := dial(t, path)
	a.SetTimeout(300 * time.Millisecond)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Command(context.Background(), "x", nil, nil); err != ErrTimeout {
				t.Errorf("err %v", err)
			}
		}()
	}
	wg.Wait()
	// Each waits at most its own timeout, queued or not.
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("queued commands took %v", d)
	}
	// A caller's own deadline counts too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	a.SetTimeout(-1)
	if err := a.Command(ctx, "x", nil, nil); err != ErrTimeout {
		t.Fatalf("err %v", err)
	}
}

func TestSyncFallbackToPlain(t *testing.T) {
	f, path := newFake(t, func(cmd string, args json.RawMessage) []byte { return []byte(`{"return": {}}`) })
	f.plainOnly = true
	a := dial(t, path)
	if err := a.Command(context.Background(), "guest-ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Command(context.Background(), "guest-ping", nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestClosedWhileWaiting(t *testing.T) {
	f, path := newFake(t, func(cmd string, args json.RawMessage) []byte { return nil })
	a := dial(t, path)
	a.SetTimeout(5 * time.Second)
	go func() {
		time.Sleep(100 * time.Millisecond)
		f.closeAll()
	}()
	if err := a.Command(context.Background(), "x", nil, nil); err != ErrClosed {
		t.Fatalf("err %v", err)
	}
	select {
	case <-a.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed")
	}
	if err := a.Command(context.Background(), "x", nil, nil); err != ErrClosed {
		t.Fatalf("after close: %v", err)
	}
}

func TestStaleBeforeSync(t *testing.T) {
	// A guest that rebooted may have half a line and whole replies
	// queued; the delimiter and the id skip them.
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			l = bytes.TrimLeft(l, "\xff")
			var cmd struct {
				Execute   string
				Arguments struct{ ID uint64 }
			}
			json.Unmarshal(l, &cmd)
			if cmd.Execute == "guest-sync-delimited" {
				c.Write([]byte(`{"return": 5}` + "\n" + `{"return": "stale"}` + "\n" + `{"ret`))
				c.Write(append([]byte{0xFF}, []byte(`{"return": `+itoa(cmd.Arguments.ID)+"}\n")...))
				continue
			}
			c.Write([]byte(`{"event": "X"}` + "\n" + `{"return": "fresh"}` + "\n"))
		}
	}()
	a := dial(t, path)
	var s string
	if err := a.Command(context.Background(), "c", nil, &s); err != nil || s != "fresh" {
		t.Fatalf("%q %v", s, err)
	}
}

func TestMalformedReply(t *testing.T) {
	_, path := newFake(t, func(cmd string, args json.RawMessage) []byte {
		if cmd == "noret" {
			return []byte(`{"error": "x"}`)
		}
		return []byte(`{"return": "str"}`)
	})
	a := dial(t, path)
	var n int
	err := a.Command(context.Background(), "typed", nil, &n)
	var me *MalformedError
	if !errors.As(err, &me) {
		t.Fatalf("err %v", err)
	}
	err = a.Command(context.Background(), "noret", nil, nil)
	if !errors.As(err, &me) || err.Error() != "unable to execute QEMU agent command 'noret'" {
		t.Fatalf("err %v", err)
	}
}
