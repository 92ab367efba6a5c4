// Package client is a pure-Go libvirt client speaking the remote protocol,
// usable against libvirtd or govirtd.
package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/rpc/xdr"
	"govirt/virerr"
)

// ErrClosed is returned for calls on a client whose connection has ended.
var ErrClosed = errors.New("client: connection closed")

// Options tune Dial.
type Options struct {
	// ReadOnly opens the connection read-only (VIR_CONNECT_RO) and picks
	// the read-only socket for local URIs.
	ReadOnly bool
	// DialTimeout bounds connecting and the handshake; 0 means 30s.
	DialTimeout time.Duration
}

// Client is one connection to a daemon. It is safe for concurrent use:
// calls from many goroutines are multiplexed by serial.
type Client struct {
	nc     net.Conn
	wmu    sync.Mutex
	serial atomic.Uint32

	mu      sync.Mutex
	pending map[uint32]chan result
	streams map[uint32]*Stream
	err     error
	done    chan struct{}

	events *eventQueue

	lastRecv atomic.Int64 // UnixNano of the last frame received
}

type result struct {
	h    rpc.Header
	body []byte
}

// Dial connects to uri and performs libvirt's connection handshake.
func Dial(uri string) (*Client, error) {
	return DialOptions(context.Background(), uri, Options{})
}

// DialOptions is Dial with a context and options.
func DialOptions(ctx context.Context, uri string, opts Options) (*Client, error) {
	ep, err := ParseURI(uri, opts.ReadOnly)
	if err != nil {
		return nil, err
	}
	timeout := opts.DialTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q, host := uriQuery(uri)
	var nc net.Conn
	if ep.Network == "tls" {
		nc, err = dialTLS(ctx, tlsParams{pkipath: q.Get("pkipath"), noVerify: uriBool(q, "no_verify"),
			noSanity: uriBool(q, "no_sanity")}, ep.Address, host)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, ep.Network, ep.Address)
		if err != nil && ep.Network == "unix" {
			err = sysErr("Failed to connect socket to '%s': %s", ep.Address, errnoText(err))
		} else if err != nil {
			h, port, _ := net.SplitHostPort(ep.Address)
			err = sysErr("unable to connect to server at '%s:%s': %s", h, port, errnoText(err))
		}
	}
	if err != nil {
		return nil, err
	}
	conn, spent, err := authenticate(ctx, nc, authParams{authType: q.Get("auth"), host: host,
		authfile: q.Get("authfile"), secure: ep.Network != "tcp"})
	if err != nil {
		nc.Close()
		return nil, err
	}
	c := New(conn)
	c.serial.Store(spent)
	if err := c.handshake(ctx, ep.Name, opts.ReadOnly); err != nil {
		c.shutdown(err)
		return nil, err
	}
	return c, nil
}

// New runs the protocol over an established connection without any
// handshake; Open performs it.
func New(nc net.Conn) *Client {
	c := &Client{
		nc:      nc,
		pending: map[uint32]chan result{},
		streams: map[uint32]*Stream{},
		done:    make(chan struct{}),
		events:  newEventQueue(),
	}
	go c.readLoop()
	return c
}

type connectOpenArgs struct {
	Name  *string
	Flags uint32
}

type authListRet struct {
	Types []int32 `xdr:"max=20"`
}

type featureArgs struct{ Feature int32 }
type featureRet struct{ Supported int32 }

const (
	authNone        = 0
	connectReadOnly = 1
)

// handshake follows authentication (auth.go): like virsh, ask about
// keepalive before opening; we answer pings whatever the server says.
func (c *Client) handshake(ctx context.Context, name string, readOnly bool) error {
	var ka featureRet
	if err := c.Call(ctx, procs.ConnectSupportsFeature, &featureArgs{rpc.FeatureProgramKeepalive}, &ka); err != nil {
		return err
	}
	return c.Open(ctx, name, readOnly)
}

// Open sends CONNECT_OPEN for the driver URI name.
func (c *Client) Open(ctx context.Context, name string, readOnly bool) error {
	args := connectOpenArgs{Name: &name}
	if readOnly {
		args.Flags = connectReadOnly
	}
	return c.Call(ctx, procs.ConnectOpen, &args, nil)
}

// Close sends CONNECT_CLOSE and drops the connection.
func (c *Client) Close() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := c.Call(ctx, procs.ConnectClose, nil, nil)
	cancel()
	c.shutdown(ErrClosed)
	return err
}

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) shutdown(reason error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = reason
	close(c.done)
	streams := c.streams
	c.streams = map[uint32]*Stream{}
	c.mu.Unlock()
	_ = c.nc.Close()
	for _, s := range streams {
		s.fail(ErrClosed)
	}
	c.events.close()
}

// Call invokes a REMOTE procedure. args and ret are XDR-encoded structs
// (nil for void); a remote_error reply is returned as *virerr.Error.
func (c *Client) Call(ctx context.Context, proc int32, args, ret any) error {
	return c.CallProg(ctx, rpc.ProgramRemote, rpc.ProtocolVersion, proc, args, ret)
}

// CallProg invokes a procedure of any program.
func (c *Client) CallProg(ctx context.Context, prog, vers uint32, proc int32, args, ret any) error {
	res, err := c.roundTrip(ctx, prog, vers, proc, args, nil)
	if err != nil {
		return err
	}
	return decodeReply(res, ret)
}

func decodeReply(res result, ret any) error {
	if res.h.Status != rpc.StatusOK {
		return rpc.DecodeError(res.body)
	}
	if err := xdr.Unmarshal(res.body, ret); err != nil {
		return fmt.Errorf("client: decoding reply to procedure %d: %w", res.h.Proc, err)
	}
	return nil
}

// roundTrip sends a call and waits for its reply. If st is set it is
// registered under the call's serial before the call goes out, since the
// server may start streaming right after its reply.
func (c *Client) roundTrip(ctx context.Context, prog, vers uint32, proc int32, args any, st *Stream) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	serial := c.serial.Add(1)
	h := rpc.Header{Prog: prog, Vers: vers, Proc: proc, Type: rpc.TypeCall, Serial: serial}
	frame, err := rpc.EncodeFrame(nil, h, args)
	if err != nil {
		return result{}, err
	}
	ch := make(chan result, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return result{}, ErrClosed
	}
	c.pending[serial] = ch
	if st != nil {
		st.serial = serial
		c.streams[serial] = st
	}
	c.mu.Unlock()

	if err := c.write(frame); err != nil {
		c.forget(serial, st != nil)
		return result{}, err
	}
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		c.forget(serial, st != nil)
		return result{}, ctx.Err()
	case <-c.done:
		c.forget(serial, st != nil)
		return result{}, ErrClosed
	}
}

func (c *Client) forget(serial uint32, stream bool) {
	c.mu.Lock()
	delete(c.pending, serial)
	if stream {
		delete(c.streams, serial)
	}
	c.mu.Unlock()
}

func (c *Client) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.nc.Write(frame); err != nil {
		c.shutdown(err)
		return ErrClosed
	}
	return nil
}

func (c *Client) readLoop() {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var scratch [rpc.LenSize + rpc.HeaderSize]byte
	for {
		h, body, err := rpc.ReadFrame(br, scratch[:])
		if err != nil {
			c.shutdown(err)
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		c.route(h, body)
	}
}

func (c *Client) route(h rpc.Header, body []byte) {
	switch h.Type {
	case rpc.TypeReply, rpc.TypeReplyWithFDs:
		c.mu.Lock()
		ch := c.pending[h.Serial]
		delete(c.pending, h.Serial)
		c.mu.Unlock()
		if ch != nil {
			ch <- result{h, body}
		}
	case rpc.TypeMessage:
		if h.Prog == rpc.ProgramKeepalive {
			if h.Proc == rpc.KeepalivePing {
				// Written from another goroutine so the reader never waits
				// behind a large upload holding the write lock.
				go c.sendKeepalive(rpc.KeepalivePong)
			}
			return
		}
		c.events.push(Event{Prog: h.Prog, Proc: h.Proc, Body: body})
	case rpc.TypeStream, rpc.TypeStreamHole:
		c.mu.Lock()
		st := c.streams[h.Serial]
		c.mu.Unlock()
		if st != nil && st.proc == h.Proc {
			st.deliver(h, body)
		}
	}
}

func (c *Client) sendKeepalive(proc int32) {
	frame, err := rpc.EncodeFrame(nil, rpc.Header{Prog: rpc.ProgramKeepalive, Vers: rpc.ProtocolVersion, Proc: proc, Type: rpc.TypeMessage}, nil)
	if err == nil {
		_ = c.write(frame)
	}
}

// Ping sends a keepalive PING; the server's PONG is not waited for.
func (c *Client) Ping() { c.sendKeepalive(rpc.KeepalivePing) }

// IsNotSupported reports whether err is libvirt's reply to a procedure
// the server does not know, which clients treat as "not supported".
func IsNotSupported(err error) bool {
	var e *virerr.Error
	return errors.As(err, &e) && e.Code == virerr.ErrRPC && len(e.Message) > 18 && e.Message[:18] == "unknown procedure:"
}
