// Package agent is a client for the QEMU guest agent (qemu-ga) on the
// host end of its virtio-serial channel, as libvirt's qemu_agent.c.
//
// The agent protocol has no request ids: a reply is whatever comes next.
// So one command runs at a time, and before a command the client syncs
// the stream: it sends 0xFF (which resets qemu-ga's parser) and
// guest-sync-delimited with a random id, then skips everything until the
// reply carrying that id (qemu-ga puts 0xFF before it, which also drops
// any partial line the host still buffered). Replies to commands that
// timed out earlier, or that a guest sent before it rebooted, are thus
// never taken for the answer to a new command. An agent that does not
// know guest-sync-delimited gets libvirt's plain guest-sync, sent twice
// when the first attempt meets garbage.
//
// Every command has a deadline: the caller's context's, bounded by the
// agent's response timeout (SetTimeout, 5 s by default as libvirt's).
// A command that times out leaves the agent out of sync, so the next
// one syncs first. A hung agent therefore holds up only the commands
// queued on the same Agent, each until its own deadline.
package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout is how long a command waits for its reply unless told
// otherwise (libvirt's QEMU_AGENT_WAIT_TIME); it also caps each sync.
const DefaultTimeout = 5 * time.Second

// Agent is one connection to a guest agent. Its methods are safe for
// concurrent use; commands are serialised.
type Agent struct {
	conn net.Conn

	sem    chan struct{} // held by the command in progress
	inSync bool          // guarded by sem
	plain  bool          // guarded by sem: the agent lacks guest-sync-delimited

	mu      sync.Mutex
	pending *request // the exchange waiting for a reply

	timeout atomic.Int64 // response timeout in ns; negative: none

	closeOnce sync.Once
	closed    chan struct{}
}

// request is one exchange waiting for its reply.
type request struct {
	sync  bool   // a sync: only a reply returning id counts
	id    uint64 // the sync's id
	first bool   // plain guest-sync's first attempt: garbage ends it
	done  chan message
}

// Dial connects to the agent channel's unix socket at path.
func Dial(ctx context.Context, path string) (*Agent, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	return New(c), nil
}

// New runs the client on an established connection, which it owns.
func New(c net.Conn) *Agent {
	a := &Agent{conn: c, sem: make(chan struct{}, 1), closed: make(chan struct{})}
	a.timeout.Store(int64(DefaultTimeout))
	go a.read()
	return a
}

// SetTimeout sets how long commands wait for a reply; negative waits
// as long as the caller's context allows (libvirt's "block").
func (a *Agent) SetTimeout(d time.Duration) { a.timeout.Store(int64(d)) }

// Timeout is the response timeout SetTimeout set.
func (a *Agent) Timeout() time.Duration { return time.Duration(a.timeout.Load()) }

// Close ends the connection; commands waiting fail with ErrClosed.
func (a *Agent) Close() error {
	err := a.conn.Close()
	a.markClosed()
	return err
}

// Done is closed once the connection has ended.
func (a *Agent) Done() <-chan struct{} { return a.closed }

func (a *Agent) markClosed() { a.closeOnce.Do(func() { close(a.closed) }) }

// Desync makes the next command sync first, e.g. after the guest reset:
// whatever the agent had half-written before is then skipped.
func (a *Agent) Desync() {
	select {
	case a.sem <- struct{}{}:
		a.inSync = false
		<-a.sem
	default:
		// A command is in progress; it syncs or ends with an error,
		// and either way the stream is resynchronised or dropped.
	}
}

// Command runs the agent command name with args (nil for none) and
// decodes its "return" into reply (nil to ignore it).
func (a *Agent) Command(ctx context.Context, name string, args, reply any) error {
	return a.CommandTimeout(ctx, name, args, reply, a.Timeout())
}

// CommandTimeout is Command with its own response timeout d (negative:
// none but ctx's).
func (a *Agent) CommandTimeout(ctx context.Context, name string, args, reply any, d time.Duration) error {
	cmd := struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
	}{name, args}
	data, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	m, err := a.run(ctx, data, d)
	if err != nil {
		return err
	}
	return decodeReply(name, m, reply)
}

// Raw sends cmd, a JSON text given by a user (libvirt's
// qemu-agent-command), and returns the agent's whole reply as compact
// JSON. An error reply is an *Error, as with Command.
func (a *Agent) Raw(ctx context.Context, cmd []byte, d time.Duration) ([]byte, error) {
	var v any
	if err := json.Unmarshal(cmd, &v); err != nil {
		return nil, err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	name := "<unknown>"
	if o, ok := v.(map[string]any); ok {
		if s, ok := o["execute"].(string); ok {
			name = s
		}
	}
	m, err := a.run(ctx, data, d)
	if err != nil {
		return nil, err
	}
	if err := decodeReply(name, m, nil); err != nil {
		return nil, err
	}
	return m.raw, nil
}

// decodeReply turns a reply into the caller's value or an error.
func decodeReply(name string, m message, reply any) error {
	switch {
	case m.err != nil:
		return &Error{Command: name, Class: m.err.Class, Desc: m.err.Desc}
	case m.badErr || m.ret == nil:
		return &MalformedError{Command: name}
	case reply != nil:
		if err := json.Unmarshal(m.ret, reply); err != nil {
			return &MalformedError{Command: name, Err: err}
		}
	}
	return nil
}

// withTimeout bounds ctx by d unless d is negative.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d < 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// run syncs if needed, then sends data and waits for the reply. As
// libvirt's, d bounds the command itself; the sync before it has the
// agent's own timeout (at most DefaultTimeout). Waiting for a command
// in progress counts against d.
func (a *Agent) run(ctx context.Context, data []byte, d time.Duration) (message, error) {
	wctx, cancel := withTimeout(ctx, d)
	defer cancel()
	select {
	case a.sem <- struct{}{}:
	case <-wctx.Done():
		return message{}, ctxErr(wctx)
	case <-a.closed:
		return message{}, ErrClosed
	}
	defer func() { <-a.sem }()
	select {
	case <-a.closed:
		return message{}, ErrClosed
	default:
	}
	if !a.inSync {
		if err := a.sync(ctx, a.Timeout()); err != nil {
			return message{}, err
		}
	}
	cctx, cancel2 := withTimeout(ctx, d)
	defer cancel2()
	return a.exchange(cctx, append(data, '\n'), &request{})
}

// Sync synchronises the stream now (it is otherwise done before the
// first command and after any failure).
func (a *Agent) Sync(ctx context.Context) error {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return ctxErr(ctx)
	case <-a.closed:
		return ErrClosed
	}
	defer func() { <-a.sem }()
	return a.sync(ctx, a.Timeout())
}

// sync is libvirt's handshake; call holding sem. Its timeout is the
// command's when shorter than DefaultTimeout.
func (a *Agent) sync(ctx context.Context, d time.Duration) error {
	st := DefaultTimeout
	if d >= 0 && d < st {
		st = d
	}
	if !a.plain {
		err := a.syncOnce(ctx, st, true, false)
		var e *Error
		if !errors.As(err, &e) || !e.Unsupported() {
			if err == nil {
				a.inSync = true
			}
			return err
		}
		a.plain = true
	}
	// Plain guest-sync: the first attempt may meet garbage left in the
	// stream, which ends it without a reply; then once more.
	for _, first := range []bool{true, false} {
		err := a.syncOnce(ctx, st, false, first)
		if err == nil {
			a.inSync = true
			return nil
		}
		if err != errGarbage {
			return err
		}
	}
	return ErrNoReply
}

var errGarbage = errors.New("garbage on first sync")

// syncOnce sends one sync with a fresh random id and waits for it.
func (a *Agent) syncOnce(ctx context.Context, d time.Duration, delimited, first bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	id := randomID()
	var data []byte
	if delimited {
		data = append([]byte{delimiter}, `{"execute":"guest-sync-delimited","arguments":{"id":`...)
	} else {
		data = []byte(`{"execute":"guest-sync","arguments":{"id":`)
	}
	data = strconv.AppendUint(data, id, 10)
	data = append(data, "}}\n"...)
	m, err := a.exchange(ctx, data, &request{sync: true, id: id, first: !delimited && first})
	if err != nil {
		return err
	}
	switch {
	case m.err != nil:
		// Only CommandNotFound for guest-sync-delimited is delivered.
		return &Error{Command: "guest-sync-delimited", Class: m.err.Class, Desc: m.err.Desc}
	case m.kind == kindGarbage:
		return errGarbage
	}
	return nil
}

// exchange sends data as r's request and waits for r's reply; call
// holding sem. Any failure leaves the agent out of sync.
func (a *Agent) exchange(ctx context.Context, data []byte, r *request) (message, error) {
	r.done = make(chan message, 1)
	a.mu.Lock()
	a.pending = r
	a.mu.Unlock()
	clear := func() {
		a.mu.Lock()
		if a.pending == r {
			a.pending = nil
		}
		a.mu.Unlock()
	}
	if err := a.write(ctx, data); err != nil {
		clear()
		a.inSync = false
		return message{}, err
	}
	select {
	case m := <-r.done:
		return m, nil
	case <-ctx.Done():
		clear()
		a.inSync = false
		return message{}, ctxErr(ctx)
	case <-a.closed:
		clear()
		a.inSync = false
		return message{}, ErrClosed
	}
}

// write sends data, giving up at ctx's deadline or cancellation: a
// guest that stops reading its port makes QEMU stop reading the socket.
func (a *Agent) write(ctx context.Context, data []byte) error {
	dl, _ := ctx.Deadline()
	if err := a.conn.SetWriteDeadline(dl); err != nil {
		return ErrClosed
	}
	stop := context.AfterFunc(ctx, func() { a.conn.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	_, err := a.conn.Write(data)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctxErr(ctx)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrTimeout
	}
	return ErrClosed
}

// ctxErr maps a finished context to the error callers see: a deadline
// is the agent's timeout; a cancellation is the caller's own.
func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ctx.Err()
}

// read is the connection's reader: it hands replies to the pending
// request and drops everything else.
func (a *Agent) read() {
	defer a.markClosed()
	var sp splitter
	buf := make([]byte, 64<<10)
	for {
		n, err := a.conn.Read(buf)
		if n > 0 {
			if ferr := sp.feed(buf[:n], a.handle); ferr != nil {
				a.conn.Close()
				return
			}
		}
		if err != nil {
			a.conn.Close()
			return
		}
	}
}

// handle routes one line.
func (a *Agent) handle(line []byte) {
	m := parseLine(line)
	a.mu.Lock()
	r := a.pending
	switch {
	case r == nil:
		a.mu.Unlock()
		return // a delayed reply nobody waits for any more
	case m.kind == kindGarbage:
		if !r.first {
			a.mu.Unlock()
			return
		}
	case m.kind != kindReply:
		a.mu.Unlock()
		return
	case r.sync:
		if id, ok := m.syncID(); !ok || id != r.id {
			// Not this sync's answer; but an agent that does not know
			// guest-sync-delimited says so, and the sync must learn it.
			if m.err == nil || m.err.Class != "CommandNotFound" {
				a.mu.Unlock()
				return
			}
		}
	default:
		m.raw = append([]byte(nil), compact(line)...)
	}
	a.pending = nil
	a.mu.Unlock()
	r.done <- m
}

// compact is line as compact JSON (it is valid JSON: parseLine took it).
func compact(line []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, line); err != nil {
		return line
	}
	return b.Bytes()
}

// randomID is a sync id: random, positive and below 2^53 so that it
// survives any JSON number handling on the way.
func randomID() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return uint64(time.Now().UnixNano()) & (1<<53 - 1)
	}
	return binary.LittleEndian.Uint64(b[:])&(1<<53-1) | 1
}
