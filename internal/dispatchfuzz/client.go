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

// Req is one call to make.
type Req struct {
	Prog uint32
	Proc int32
	Body []byte
}

// Reply is the answer to one Req.
type Reply struct {
	Header rpc.Header
	Body   []byte
}

// Call sends one CALL and returns its reply's header and body, skipping
// events and stream messages. A reply that does not come within timeout
// is ErrTimeout; a connection that ends first returns the read error.
func (c *Client) Call(prog uint32, proc int32, body []byte, timeout time.Duration) (rpc.Header, []byte, error) {
	r, err := c.CallAll([]Req{{prog, proc, body}}, timeout)
	if err != nil {
		return rpc.Header{}, nil, err
	}
	return r[0].Header, r[0].Body, nil
}

// CallAll sends the calls back to back, without waiting for replies, so
// the server runs them concurrently, and returns their replies in the
// order of reqs.
func (c *Client) CallAll(reqs []Req, timeout time.Duration) ([]Reply, error) {
	frames := make([][]byte, len(reqs))
	want := map[uint32]int{}
	for i, r := range reqs {
		c.serial++
		h := rpc.Header{Prog: r.Prog, Vers: rpc.ProtocolVersion, Proc: r.Proc, Type: rpc.TypeCall, Serial: c.serial}
		f, err := rpc.RawFrame(nil, h, r.Body)
		if err != nil {
			return nil, err
		}
		frames[i] = f
		want[c.serial] = i
	}
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	// The server may stop reading (input budget, max requests) until it
	// has answered: write in the background so that cannot block the
	// reader below.
	go func() {
		for _, f := range frames {
			if _, err := c.nc.Write(f); err != nil {
				return
			}
		}
	}()
	out := make([]Reply, len(reqs))
	for len(want) > 0 {
		rh, rb, err := rpc.ReadFrame(c.nc, c.scratch[:])
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, fmt.Errorf("%w: %v", ErrTimeout, err)
			}
			return nil, err
		}
		i, ok := want[rh.Serial]
		if rh.Type == rpc.TypeReply && ok && rh.Prog == reqs[i].Prog && rh.Proc == reqs[i].Proc {
			out[i] = Reply{rh, rb}
			delete(want, rh.Serial)
		}
	}
	return out, nil
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
