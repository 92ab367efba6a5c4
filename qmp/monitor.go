package qmp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Monitor is a negotiated QMP connection. It is safe for concurrent use.
type Monitor struct {
	conn     net.Conn
	lines    *lineReader
	greeting Greeting
	timeouts timeoutTable
	log      *slog.Logger
	events   *eventQueue

	// wslot is a one-token semaphore serialising writes; a channel rather
	// than a mutex so a caller waiting behind a stuck write can give up
	// when its context ends.
	wslot  chan struct{}
	nextID atomic.Uint64

	mu      sync.Mutex
	pending map[string]chan reply
	cause   error // why the monitor is going away; set once
	closed  bool  // pending has been drained; no new registrations

	readerDone   chan struct{}
	deliveryDone chan struct{}
	closeOnce    sync.Once
}

// Dial connects to the QMP Unix socket at socketPath and negotiates. The
// context bounds the whole handshake (see New).
func Dial(ctx context.Context, socketPath string, opts Options) (*Monitor, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("qmp: dial %s: %w", socketPath, err)
	}
	return New(ctx, c, opts)
}

// New takes ownership of conn, reads QEMU's greeting and sends
// qmp_capabilities. The handshake is bounded by the earlier of ctx's
// deadline and the qmp_capabilities timeout. On failure conn is closed and
// no callback is ever called. File descriptor passing needs conn to be a
// *net.UnixConn.
func New(ctx context.Context, conn net.Conn, opts Options) (*Monitor, error) {
	m := &Monitor{
		conn:         conn,
		lines:        newLineReader(conn, opts.MaxLineSize),
		timeouts:     newTimeoutTable(opts.Timeouts),
		log:          opts.Logger,
		events:       newEventQueue(),
		wslot:        make(chan struct{}, 1),
		pending:      make(map[string]chan reply),
		readerDone:   make(chan struct{}),
		deliveryDone: make(chan struct{}),
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if err := m.handshake(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	go m.readLoop()
	go func() {
		defer close(m.deliveryDone)
		m.events.run(opts.OnEvent, opts.OnEOF)
	}()
	return m, nil
}

// handshake runs synchronously on the caller's goroutine, before the
// reader exists, so that a failed New never starts goroutines or calls
// callbacks.
func (m *Monitor) handshake(ctx context.Context) (err error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeouts.lookup("qmp_capabilities"))
	defer cancel()
	deadline, _ := ctx.Deadline()
	m.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { m.conn.SetDeadline(aLongTimeAgo) })
	defer func() {
		if stop() {
			m.conn.SetDeadline(time.Time{})
		} else {
			// The cancel hook ran (or is running) and may set the
			// deadline after any reset of ours: the connection is not
			// usable, whatever the I/O reported.
			err = ctxError(ctx, "qmp_capabilities")
		}
	}()

	line, err := m.lines.next()
	if err != nil {
		return fmt.Errorf("qmp: reading greeting: %w", ioError(ctx, err))
	}
	var g wireMessage
	if err := json.Unmarshal(line, &g); err != nil || g.QMP == nil {
		return fmt.Errorf("%w: bad greeting %.200q", ErrProtocol, line)
	}
	m.greeting = Greeting{
		Version:      g.QMP.Version.QEMU,
		Package:      g.QMP.Version.Package,
		Capabilities: g.QMP.Capabilities,
	}

	id := m.newID()
	msg, _ := encodeCommand("qmp_capabilities", id, nil)
	if _, err := m.conn.Write(msg); err != nil {
		return fmt.Errorf("qmp: sending qmp_capabilities: %w", ioError(ctx, err))
	}
	for {
		line, err := m.lines.next()
		if err != nil {
			return fmt.Errorf("qmp: waiting for qmp_capabilities: %w", ioError(ctx, err))
		}
		var w wireMessage
		if err := json.Unmarshal(line, &w); err != nil {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		switch {
		case w.Event != "":
			// Real QEMU sends none before negotiation; keep any anyway,
			// they are delivered once the monitor is running.
			m.events.push(w.event())
		case idString(w.ID) != id:
			m.log.Debug("qmp: discarding unexpected message during handshake", "line", string(line))
		case w.Error != nil:
			w.Error.Command = "qmp_capabilities"
			return w.Error
		default:
			return nil
		}
	}
}

// Greeting returns what QEMU announced on connect.
func (m *Monitor) Greeting() Greeting { return m.greeting }

// Close shuts the monitor down. Pending and later Execute calls fail with
// ErrClosed, and OnEOF gets ErrClosed unless the monitor had already gone
// away for another reason. Close waits for the reader to stop but not for
// the event handlers (it may be called from them); use Done for that. It
// returns nil; the method has an error result to satisfy io.Closer.
func (m *Monitor) Close() error {
	m.closeOnce.Do(func() { m.teardown(ErrClosed) })
	<-m.readerDone
	return nil
}

// Done is closed once the monitor has gone away and OnEOF has returned.
func (m *Monitor) Done() <-chan struct{} { return m.deliveryDone }

// teardown records why the monitor is going away and unblocks the reader;
// the reader then does the rest (shutdown). Only the first cause counts.
func (m *Monitor) teardown(cause error) {
	m.mu.Lock()
	if m.cause == nil {
		m.cause = cause
	}
	m.mu.Unlock()
	m.conn.Close()
}

// aLongTimeAgo is a deadline in the past, which makes blocked socket I/O
// return at once.
var aLongTimeAgo = time.Unix(1, 0)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (m *Monitor) newID() string {
	return fmt.Sprintf("govirt-%d", m.nextID.Add(1))
}

// idString returns a reply's id if it is a JSON string. Ids are always
// strings we made, so anything else cannot be ours.
func idString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// ctxError converts a finished per-command context into the error
// Execute returns: ErrTimeout for any passed deadline (ours or the
// caller's), the context's own error for cancellation.
func ctxError(ctx context.Context, cmd string) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("qmp: %s: %w", cmd, ctx.Err())
	}
	return fmt.Errorf("qmp: %s: %w (%w)", cmd, ErrTimeout, context.DeadlineExceeded)
}

// ioError turns the "i/o timeout" produced by deadlines derived from ctx
// into the context's explanation. The socket deadline and the context's
// timer are separate clocks, so a timeout may be seen before ctx.Err is set;
// every socket deadline we set comes from ctx, so it is still ctx's doing.
func ioError(ctx context.Context, err error) error {
	if !isTimeout(err) {
		return err
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return fmt.Errorf("%w (%w)", ErrTimeout, context.DeadlineExceeded)
}
