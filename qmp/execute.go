package qmp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
)

// Execute runs cmd with args (marshalled as "arguments"; omitted when nil
// or when it marshals to null) and unmarshals the reply's "return" into
// ret unless ret is nil. A QMP error reply is returned as *Error. See the
// package documentation for deadlines and cancellation.
func (m *Monitor) Execute(ctx context.Context, cmd string, args, ret any) error {
	return m.execute(ctx, cmd, args, ret, nil)
}

// ExecuteWithFiles is Execute with files passed alongside the command
// (SCM_RIGHTS), as getfd and add-fd expect. The caller keeps ownership of
// files; QEMU receives duplicates. It fails with ErrNoFDPassing unless the
// monitor runs over a Unix socket.
func (m *Monitor) ExecuteWithFiles(ctx context.Context, cmd string, args, ret any, files ...*os.File) error {
	if _, ok := m.conn.(*net.UnixConn); !ok && len(files) > 0 {
		return fmt.Errorf("qmp: %s: %w", cmd, ErrNoFDPassing)
	}
	return m.execute(ctx, cmd, args, ret, files)
}

func (m *Monitor) execute(ctx context.Context, cmd string, args, ret any, files []*os.File) error {
	// Marshal before taking the write slot so a slow or failing
	// marshaller never holds up other callers.
	var rawArgs json.RawMessage
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("qmp: %s: encoding arguments: %w", cmd, err)
		}
		if string(b) != "null" {
			rawArgs = b
		}
	}

	timeout := m.timeouts.lookup(cmd)
	if o, ok := timeoutOverride(ctx); ok {
		timeout = o
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if ctx.Err() != nil {
		return ctxError(ctx, cmd)
	}

	select {
	case m.wslot <- struct{}{}:
	case <-ctx.Done():
		return ctxError(ctx, cmd)
	case <-m.readerDone:
		return fmt.Errorf("qmp: %s: %w", cmd, m.closedErr())
	}
	id, ch, err := m.send(ctx, cmd, rawArgs, files)
	<-m.wslot
	if err != nil {
		return err
	}

	var r reply
	select {
	case r = <-ch:
	case <-ctx.Done():
		m.mu.Lock()
		_, waiting := m.pending[id]
		delete(m.pending, id)
		m.mu.Unlock()
		if waiting {
			return ctxError(ctx, cmd)
		}
		// The reader took the entry first, so a reply (or the
		// shutdown error) is already on its way; prefer it.
		r = <-ch
	}
	if r.err != nil {
		if qe, ok := r.err.(*Error); ok {
			qe.Command = cmd
			return qe
		}
		return fmt.Errorf("qmp: %s: %w", cmd, r.err)
	}
	if ret != nil && len(r.ret) > 0 {
		if err := json.Unmarshal(r.ret, ret); err != nil {
			return fmt.Errorf("qmp: %s: decoding reply: %w", cmd, err)
		}
	}
	return nil
}

// send registers the command and writes it; the caller holds the write
// slot. Registering before writing means a reply can never arrive for an
// id the reader does not know.
func (m *Monitor) send(ctx context.Context, cmd string, args json.RawMessage, files []*os.File) (string, chan reply, error) {
	id := m.newID()
	msg, err := encodeCommand(cmd, id, args)
	if err != nil {
		return "", nil, fmt.Errorf("qmp: %s: %w", cmd, err)
	}
	ch := make(chan reply, 1)
	m.mu.Lock()
	if m.closed || m.cause != nil {
		m.mu.Unlock()
		return "", nil, fmt.Errorf("qmp: %s: %w", cmd, m.closedErr())
	}
	m.pending[id] = ch
	m.mu.Unlock()

	n, err := m.write(ctx, msg, files)
	if err == nil {
		return id, ch, nil
	}
	m.mu.Lock()
	if m.pending != nil {
		delete(m.pending, id)
	}
	m.mu.Unlock()
	if n > 0 {
		// QEMU's parser now holds half a command; nothing sent after it
		// would be understood.
		m.teardown(fmt.Errorf("qmp: %s: partial write: %w", cmd, err))
	}
	var fe *fileError
	if errors.As(err, &fe) {
		return "", nil, fmt.Errorf("qmp: %s: %w", cmd, fe.err)
	}
	if ctx.Err() != nil || isTimeout(err) {
		return "", nil, fmt.Errorf("qmp: %s: sending: %w", cmd, ioError(ctx, err))
	}
	return "", nil, fmt.Errorf("qmp: %s: sending: %w", cmd, closedError(err))
}

// write sends msg, bounded by ctx: the socket deadline covers the
// deadline, an AfterFunc covers cancellation.
func (m *Monitor) write(ctx context.Context, msg []byte, files []*os.File) (int, error) {
	deadline, _ := ctx.Deadline()
	m.conn.SetWriteDeadline(deadline)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		m.conn.SetWriteDeadline(aLongTimeAgo)
	})
	defer func() {
		if !stop() {
			// Let the hook finish so it cannot move the deadline under
			// the next writer.
			<-fired
		}
	}()
	if len(files) == 0 {
		return m.conn.Write(msg)
	}
	return writeWithFiles(m.conn.(*net.UnixConn), msg, files)
}

func (m *Monitor) closedErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return closedError(m.cause)
}

// encodeCommand builds one command. No newline follows it: QEMU's
// streaming parser dispatches at the closing brace, and bytes after a quit
// would still be unread when QEMU exits, turning its clean hang-up into a
// connection reset.
func encodeCommand(cmd, id string, args json.RawMessage) ([]byte, error) {
	return json.Marshal(struct {
		Execute   string          `json:"execute"`
		Arguments json.RawMessage `json:"arguments,omitempty"`
		ID        string          `json:"id"`
	}{cmd, args, id})
}
