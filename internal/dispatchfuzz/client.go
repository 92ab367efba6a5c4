package dispatchfuzz

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"govirt/rpc"
)

// Client makes calls over one connection, raw: the body is sent as given.
type Client struct {
	nc      net.Conn
	serial  uint32
	scratch [rpc.LenSize + rpc.HeaderSize]byte
}

// NewClient speaks on nc.
func NewClient(nc net.Conn) *Client { return &Client{nc: nc} }

// ErrTimeout is a call that got no reply in time: a hang.
var ErrTimeout = errors.New("no reply in time")

// Call sends one CALL and returns its reply's header and body, skipping
// events and stream messages. A reply that does not come within timeout
// is ErrTimeout; a connection that ends first returns the read error.
func (c *Client) Call(prog uint32, proc int32, body []byte, timeout time.Duration) (rpc.Header, []byte, error) {
	c.serial++
	h := rpc.Header{Prog: prog, Vers: rpc.ProtocolVersion, Proc: proc, Type: rpc.TypeCall, Serial: c.serial}
	frame, err := rpc.RawFrame(nil, h, body)
	if err != nil {
		return rpc.Header{}, nil, err
	}
	deadline := time.Now().Add(timeout)
	_ = c.nc.SetDeadline(deadline)
	defer c.nc.SetDeadline(time.Time{})
	// The server may refuse to read a call it does not want (it drops the
	// connection): write in the background so a refused body cannot block
	// the reader below.
	werr := make(chan error, 1)
	go func() { _, err := c.nc.Write(frame); werr <- err }()
	for {
		rh, rb, err := rpc.ReadFrame(c.nc, c.scratch[:])
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return rpc.Header{}, nil, fmt.Errorf("%w: %v", ErrTimeout, err)
			}
			return rpc.Header{}, nil, err
		}
		if rh.Type == rpc.TypeReply && rh.Serial == c.serial && rh.Prog == prog && rh.Proc == proc {
			<-werr
			return rh, rb, nil
		}
	}
}

// PanicLog is an rpc.Server Logf that keeps the recovered handler panics
// (rpc/conn.go logs "rpc: handler panic on proc N: ...") so a fuzz target
// can fail on them.
type PanicLog struct {
	mu     sync.Mutex
	panics []string
}

// Logf is the hook for rpc.Server.Logf.
func (p *PanicLog) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.Contains(msg, "handler panic") {
		p.mu.Lock()
		p.panics = append(p.panics, msg)
		p.mu.Unlock()
	}
}

// Take returns and forgets the panics logged so far.
func (p *PanicLog) Take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.panics
	p.panics = nil
	return out
}
