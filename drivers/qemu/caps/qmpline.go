package caps

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// lineMonitor is a deliberately small QMP client for the probe QEMU only:
// one caller, one command in flight, events ignored. The daemon's real
// QMP client lives elsewhere; keeping this one private means probing
// does not depend on it.
type lineMonitor struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
	id   int
}

type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Event  string          `json:"event"`
	ID     *string         `json:"id"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

// dialLineMonitor reads the greeting and leaves capabilities negotiation
// mode, after which QEMU accepts commands.
func dialLineMonitor(ctx context.Context, conn net.Conn) (*lineMonitor, error) {
	m := &lineMonitor{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	stop := m.watch(ctx)
	greeting, err := m.read()
	stop()
	if err != nil {
		return nil, fmt.Errorf("QMP greeting: %w", err)
	}
	if greeting.QMP == nil {
		return nil, errors.New("QMP greeting missing")
	}
	if err := m.Execute(ctx, "qmp_capabilities", nil, nil); err != nil {
		return nil, fmt.Errorf("qmp_capabilities: %w", err)
	}
	return m, nil
}

// watch makes blocking I/O give up when ctx ends.
func (m *lineMonitor) watch(ctx context.Context) (stop func()) {
	dl, _ := ctx.Deadline() // zero clears an earlier call's deadline
	_ = m.conn.SetDeadline(dl)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = m.conn.SetDeadline(time.Unix(1, 0))
		case <-done:
		}
	}()
	return func() { close(done) }
}

func (m *lineMonitor) read() (*qmpMessage, error) {
	line, err := m.r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var msg qmpMessage
	if err := json.Unmarshal(line, &msg); err != nil {
		return nil, fmt.Errorf("bad QMP message %.80q: %w", line, err)
	}
	return &msg, nil
}

// Execute implements Monitor.
func (m *lineMonitor) Execute(ctx context.Context, cmd string, args any, ret any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	m.id++
	id := fmt.Sprintf("govirt-probe-%d", m.id)
	req := map[string]any{"execute": cmd, "id": id}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	stop := m.watch(ctx)
	defer stop()
	if _, err := m.conn.Write(append(b, '\n')); err != nil {
		return ctxErr(ctx, err)
	}
	for {
		msg, err := m.read()
		if err != nil {
			return ctxErr(ctx, err)
		}
		if msg.Event != "" || msg.ID == nil || *msg.ID != id {
			continue
		}
		if msg.Error != nil {
			return &CommandError{Class: msg.Error.Class, Desc: msg.Error.Desc}
		}
		if ret == nil || msg.Return == nil {
			return nil
		}
		return json.Unmarshal(msg.Return, ret)
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (m *lineMonitor) Close() error { return m.conn.Close() }
