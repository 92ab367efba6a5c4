package qmp

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Command is one command of a batch: its name, its arguments (as
// Execute's args) and where the reply's "return" goes (nil: dropped).
type Command struct {
	Name string
	Args any
	Ret  any
}

// ExecuteBatch sends cmds back to back in one write and then collects
// their replies. QEMU runs commands in the order received and answers
// each in turn, so the batch costs one round trip instead of one per
// command: QEMU reads the next command from its socket as soon as it has
// answered the last, instead of sleeping until the caller, woken by the
// reply, gets a CPU to send it. That matters for the hundreds of qom-get
// a start reads the guest CPU with, on a loaded host.
//
// The result has one entry per command (nil or the command's *Error or
// decoding error), as Execute would have returned it. The second result
// is an error of the batch as a whole (monitor gone, timeout, canceled),
// after which no entry is meaningful. Each reply must come within the
// longest timeout of the batch's commands (or the context's override)
// after the one before, as if each command had been sent on its own: a
// starved QEMU answering hundreds of commands is slow, not wedged.
func (m *Monitor) ExecuteBatch(ctx context.Context, cmds []Command) ([]error, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	var buf []byte
	ids := make([]string, len(cmds))
	chans := make([]chan reply, len(cmds))
	var timeout time.Duration
	for i, c := range cmds {
		var rawArgs json.RawMessage
		if c.Args != nil {
			b, err := json.Marshal(c.Args)
			if err != nil {
				return nil, fmt.Errorf("qmp: %s: encoding arguments: %w", c.Name, err)
			}
			if string(b) != "null" {
				rawArgs = b
			}
		}
		ids[i] = m.newID()
		msg, err := encodeCommand(c.Name, ids[i], rawArgs)
		if err != nil {
			return nil, fmt.Errorf("qmp: %s: %w", c.Name, err)
		}
		buf = append(buf, msg...)
		chans[i] = make(chan reply, 1)
		timeout = max(timeout, m.timeouts.lookup(c.Name))
	}
	if o, ok := timeoutOverride(ctx); ok {
		timeout = o
	}
	first := cmds[0].Name
	if ctx.Err() != nil {
		return nil, ctxError(ctx, first)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case m.wslot <- struct{}{}:
	case <-wctx.Done():
		return nil, ctxError(wctx, first)
	case <-m.readerDone:
		return nil, fmt.Errorf("qmp: %s: %w", first, m.closedErr())
	}
	forget := func(from int) {
		m.mu.Lock()
		for _, id := range ids[from:] {
			delete(m.pending, id)
		}
		m.mu.Unlock()
	}
	m.mu.Lock()
	if m.closed || m.cause != nil {
		m.mu.Unlock()
		<-m.wslot
		return nil, fmt.Errorf("qmp: %s: %w", first, m.closedErr())
	}
	for i, id := range ids {
		m.pending[id] = chans[i]
	}
	m.mu.Unlock()
	n, err := m.write(wctx, buf, nil)
	<-m.wslot
	cancel()
	if err != nil {
		forget(0)
		if n > 0 {
			m.teardown(fmt.Errorf("qmp: %s: partial write: %w", first, err))
		}
		if wctx.Err() != nil || isTimeout(err) {
			return nil, fmt.Errorf("qmp: %s: sending: %w", first, ioError(wctx, err))
		}
		return nil, fmt.Errorf("qmp: %s: sending: %w", first, closedError(err))
	}
	errs := make([]error, len(cmds))
	t := time.NewTimer(timeout)
	defer t.Stop()
	for i, c := range cmds {
		var r reply
		select {
		case r = <-chans[i]:
			t.Reset(timeout)
		case <-ctx.Done():
			forget(i)
			return nil, ctxError(ctx, c.Name)
		case <-t.C:
			forget(i)
			return nil, fmt.Errorf("qmp: %s: %w (%w)", c.Name, ErrTimeout, context.DeadlineExceeded)
		}
		if r.err != nil {
			if qe, ok := r.err.(*Error); ok {
				qe.Command = c.Name
				errs[i] = qe
				continue
			}
			// The monitor went away: every later reply says the same.
			forget(i)
			return nil, fmt.Errorf("qmp: %s: %w", c.Name, r.err)
		}
		if c.Ret != nil && len(r.ret) > 0 {
			if err := json.Unmarshal(r.ret, c.Ret); err != nil {
				errs[i] = fmt.Errorf("qmp: %s: decoding reply: %w", c.Name, err)
			}
		}
	}
	return errs, nil
}
