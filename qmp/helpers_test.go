package qmp_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"govirt/qmp"
	"govirt/qmp/qmptest"
)

const greeting = `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "v7.2.0"}, "capabilities": ["oob"]}}`

// capsExchange is the negotiation every fake transcript starts with.
func capsExchange() qmptest.Exchange { return qmptest.Return("qmp_capabilities", nil, nil) }

// dialFake starts a fake server for exchanges (negotiation prepended) and
// connects a monitor to it; both are cleaned up with t.
func dialFake(t *testing.T, opts qmp.Options, sopts qmptest.Options, exchanges ...qmptest.Exchange) (*qmp.Monitor, *qmptest.Server) {
	t.Helper()
	srv := qmptest.NewServer(t, append([]qmptest.Exchange{capsExchange()}, exchanges...), sopts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := qmp.Dial(ctx, srv.Path(), opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m, srv
}

// socketpair returns two connected Unix stream sockets.
func socketpair(t testing.TB) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conv := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	return conv(fds[0]), conv(fds[1])
}

// peer is a hand-driven QMP server for cases a transcript cannot express
// (out-of-order replies, unusual output).
type peer struct {
	t    testing.TB
	conn net.Conn
	dec  *json.Decoder
}

type command struct {
	Execute   string          `json:"execute"`
	Arguments json.RawMessage `json:"arguments"`
	ID        json.RawMessage `json:"id"`
}

// newPeer wraps conn and performs the server side of negotiation.
func newPeer(t testing.TB, conn net.Conn) *peer {
	p := &peer{t: t, conn: conn, dec: json.NewDecoder(conn)}
	p.send(greeting)
	c, err := p.read()
	if err != nil {
		return p
	}
	p.reply(c, `{}`)
	return p
}

func (p *peer) send(line string) error {
	_, err := p.conn.Write([]byte(line + "\r\n"))
	return err
}

func (p *peer) read() (command, error) {
	var c command
	err := p.dec.Decode(&c)
	return c, err
}

func (p *peer) reply(c command, ret string) error {
	return p.send(`{"return": ` + ret + `, "id": ` + string(c.ID) + `}`)
}

// answerAll replies {} to every command until the connection ends.
func (p *peer) answerAll() {
	for {
		c, err := p.read()
		if err != nil {
			return
		}
		p.reply(c, "{}")
	}
}

// conformanceDir locates libvirt's test data, or "" when absent.
func conformanceDir() string {
	if d := os.Getenv("GOVIRT_CONFORMANCE_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "conformance", "libvirt-9.0.0")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// waitGoroutines waits for the goroutine count to fall back to at most
// want, which is how leaks show up without a leak-checking dependency.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, want <= %d\n%s", n, want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func openDevNull() (*os.File, error) { return os.Open(os.DevNull) }
