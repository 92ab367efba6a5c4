package qmptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Reporter is the part of testing.TB the server uses; *testing.T and
// *testing.B satisfy it, and tests of the fake itself inject their own.
type Reporter interface {
	Errorf(format string, args ...any)
	Cleanup(func())
}

// DefaultGreeting is what QEMU 7.2.0 announces.
var DefaultGreeting = json.RawMessage(`{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "v7.2.0"}, "capabilities": ["oob"]}}`)

// Options configures a Server.
type Options struct {
	// Greeting replaces DefaultGreeting; it must be one line.
	Greeting json.RawMessage
	// CloseAfterLast hangs up once the last exchange has been answered,
	// like QEMU after "quit".
	CloseAfterLast bool
}

// Server is a fake QMP monitor serving one client connection.
type Server struct {
	t         Reporter
	exchanges []Exchange
	opts      Options
	dir       string
	ln        *net.UnixListener

	mu   sync.Mutex
	next int
	conn *net.UnixConn

	wmu       sync.Mutex // one writer at a time: replies vs SendEvent
	greeted   chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewServer starts a server that expects exchanges in order. It listens
// on a Unix socket (see Path and Conn) and is closed by t.Cleanup.
func NewServer(t Reporter, exchanges []Exchange, opts Options) *Server {
	s := &Server{t: t, exchanges: exchanges, opts: opts,
		greeted: make(chan struct{}), closed: make(chan struct{})}
	if s.opts.Greeting == nil {
		s.opts.Greeting = DefaultGreeting
	}
	dir, err := os.MkdirTemp("", "qmptest")
	if err != nil {
		t.Errorf("qmptest: %v", err)
		return s
	}
	s.dir = dir
	s.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "qmp.sock"), Net: "unix"})
	if err != nil {
		t.Errorf("qmptest: %v", err)
		return s
	}
	t.Cleanup(s.Close)
	s.wg.Add(1)
	go s.serve()
	return s
}

// Path is the socket to connect to; the server accepts one connection.
func (s *Server) Path() string { return filepath.Join(s.dir, "qmp.sock") }

// Conn connects to the server.
func (s *Server) Conn() (*net.UnixConn, error) {
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: s.Path(), Net: "unix"})
}

// SendEvent sends an event now, once the greeting has gone out. data is
// marshalled as "data" (nil omits it).
func (s *Server) SendEvent(name string, data any) {
	select {
	case <-s.greeted:
	case <-s.closed:
		return
	}
	s.sendEvent(Event{Name: name, Data: data})
}

// Remaining reports how many exchanges have not been received yet.
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.exchanges) - s.next
}

// Done fails the test unless every exchange has been received, and
// reports whether they all were.
func (s *Server) Done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next < len(s.exchanges) {
		s.t.Errorf("qmptest: %d of %d commands never received; next expected %q",
			len(s.exchanges)-s.next, len(s.exchanges), s.exchanges[s.next].Execute)
		return false
	}
	return true
}

// Close hangs up (the client sees EOF) and stops the server. It is
// idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.ln != nil {
			s.ln.Close()
		}
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		if s.dir != "" {
			os.RemoveAll(s.dir)
		}
	})
}

func (s *Server) serve() {
	defer s.wg.Done()
	conn, err := s.ln.AcceptUnix()
	s.ln.Close() // one client only, like a QEMU monitor in server mode
	if err != nil {
		return
	}
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	select {
	case <-s.closed:
		conn.Close()
		return
	default:
	}
	s.write(s.opts.Greeting)
	close(s.greeted)
	s.readLoop(conn)
}

func (s *Server) handle(raw json.RawMessage, files []*os.File) {
	defer closeAll(files)
	var req struct {
		Execute   string          `json:"execute"`
		Arguments json.RawMessage `json:"arguments"`
		ID        json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(raw, &req); err != nil || req.Execute == "" {
		s.t.Errorf("qmptest: client sent a non-command: %s", raw)
		return
	}
	s.mu.Lock()
	var ex *Exchange
	if s.next < len(s.exchanges) {
		cand := &s.exchanges[s.next]
		if cand.Execute == req.Execute && sameArguments(cand.Arguments, req.Arguments) {
			ex = cand
			s.next++
		}
	}
	expected := "nothing"
	if ex == nil && s.next < len(s.exchanges) {
		e := s.exchanges[s.next]
		expected = fmt.Sprintf("%s %s", e.Execute, e.Arguments)
	}
	last := s.next == len(s.exchanges)
	s.mu.Unlock()

	if ex == nil {
		s.t.Errorf("qmptest: unexpected command %s %s; expected %s", req.Execute, req.Arguments, expected)
		s.write(withID(json.RawMessage(`{"error":{"class":"GenericError","desc":"qmptest: unexpected command"}}`), req.ID))
		return
	}
	if ex.Check != nil {
		if err := ex.Check(Request{Execute: req.Execute, Arguments: req.Arguments, ID: req.ID, Files: files}); err != nil {
			s.t.Errorf("qmptest: %s: %v", req.Execute, err)
		}
	}
	for _, ev := range ex.Before {
		s.sendEvent(ev)
	}
	if ex.NoReply {
		return
	}
	if ex.ReplyDelay > 0 {
		select {
		case <-time.After(ex.ReplyDelay):
		case <-s.closed:
			return
		}
	}
	s.write(withID(ex.Reply, req.ID))
	for _, ev := range ex.After {
		s.sendEvent(ev)
	}
	if last && s.opts.CloseAfterLast {
		s.mu.Lock()
		s.conn.Close()
		s.mu.Unlock()
	}
}

func (s *Server) sendEvent(ev Event) {
	now := time.Now()
	msg := map[string]any{
		"event":     ev.Name,
		"timestamp": map[string]int64{"seconds": now.Unix(), "microseconds": int64(now.Nanosecond() / 1000)},
	}
	if ev.Data != nil {
		msg["data"] = ev.Data
	}
	b, err := json.Marshal(msg)
	if err != nil {
		s.t.Errorf("qmptest: event %s: %v", ev.Name, err)
		return
	}
	s.write(b)
}

// write sends one line. Errors are ignored: the client hanging up is
// something tests do on purpose.
func (s *Server) write(line []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		conn.Write(append(bytes.Clone(line), '\r', '\n'))
	}
}

// withID adds the client's id to a compact reply object.
func withID(reply, id json.RawMessage) []byte {
	// Hand-written replies may span lines; QMP output is one per line.
	var compact bytes.Buffer
	if json.Compact(&compact, reply) == nil {
		reply = compact.Bytes()
	}
	reply = bytes.TrimSpace(reply)
	if len(reply) < 2 {
		reply = json.RawMessage(`{"return":{}}`)
	}
	if len(id) == 0 {
		return reply
	}
	body := bytes.TrimSpace(reply[1 : len(reply)-1])
	out := []byte{'{'}
	if len(body) > 0 {
		out = append(append(out, body...), ',')
	}
	out = append(out, `"id":`...)
	out = append(out, id...)
	return append(out, '}')
}
