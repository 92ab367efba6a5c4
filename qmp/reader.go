package qmp

import (
	"encoding/json"
	"fmt"
)

// readLoop is the only goroutine that reads the socket. It exits when the
// connection fails or closes, and then shuts the monitor down.
func (m *Monitor) readLoop() {
	defer close(m.readerDone)
	var err error
	for {
		var line []byte
		if line, err = m.lines.next(); err != nil {
			break
		}
		if err = m.handleLine(line); err != nil {
			break
		}
	}
	m.shutdown(err)
}

// handleLine dispatches one message. Anything that is not a JSON object
// is fatal: QEMU never sends it, so the stream is corrupt or not QEMU's.
// Well-formed messages we cannot place are only logged.
func (m *Monitor) handleLine(line []byte) error {
	var w wireMessage
	if err := json.Unmarshal(line, &w); err != nil {
		return fmt.Errorf("%w: %v in %.200q", ErrProtocol, err, line)
	}
	if w.Event != "" {
		m.events.push(w.event())
		return nil
	}
	id := idString(w.ID)
	m.mu.Lock()
	ch, ok := m.pending[id]
	delete(m.pending, id)
	m.mu.Unlock()
	if !ok {
		// Typically the reply to a command whose caller gave up.
		m.log.Debug("qmp: discarding reply", "id", string(w.ID), "line", truncate(line, 200))
		return nil
	}
	if w.Error != nil {
		ch <- reply{err: w.Error}
	} else {
		ch <- reply{ret: w.Return}
	}
	return nil
}

// shutdown runs once, on the reader goroutine, after the read loop ends.
// Finishing the event queue from here, after the last push, is what orders
// OnEOF after every event.
func (m *Monitor) shutdown(readErr error) {
	m.mu.Lock()
	if m.cause == nil {
		m.cause = readErr
	}
	cause := m.cause
	pending := m.pending
	m.pending = nil
	m.closed = true
	m.mu.Unlock()

	m.conn.Close()
	for _, ch := range pending {
		ch <- reply{err: closedError(cause)}
	}
	m.events.finish(cause)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
