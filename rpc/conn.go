package rpc

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"govirt/virerr"
)

// Conn is the server side of one client connection.
type Conn struct {
	nc      net.Conn
	srv     *Server
	handler Handler
	out     *outQueue
	ctx     context.Context
	cancel  context.CancelFunc
	sem     chan struct{}
	calls   sync.WaitGroup
	done    chan struct{}
	closeMu sync.Once
	err     atomic.Pointer[error]

	streamMu sync.Mutex
	streams  map[streamKey]*Stream

	lastRecv  atomic.Int64 // unix nanos of the last frame received
	throttled atomic.Int32 // >0 while the reader waits on our own back-pressure
	kaStarted atomic.Bool
}

func newConn(srv *Server, nc net.Conn) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		nc: nc, srv: srv, ctx: ctx, cancel: cancel,
		out:     newOutQueue(srv.outBytes(), srv.maxQueuedFrames()),
		sem:     make(chan struct{}, srv.maxRequests()),
		done:    make(chan struct{}),
		streams: map[streamKey]*Stream{},
	}
	c.lastRecv.Store(time.Now().UnixNano())
	return c
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// NetConn exposes the socket, e.g. to read unix peer credentials.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Context is cancelled when the connection ends.
func (c *Conn) Context() context.Context { return c.ctx }

// Done is closed when the connection ends.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it is open).
func (c *Conn) Err() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Close drops the connection. Pending replies are discarded.
func (c *Conn) Close() error {
	c.closeWith(ErrConnClosed)
	return nil
}

func (c *Conn) closeWith(reason error) {
	c.closeMu.Do(func() {
		c.err.Store(&reason)
		c.cancel()
		close(c.done)
		c.out.close()
		_ = c.nc.Close()
		c.closeStreams(reason)
	})
}

func (c *Conn) encode(h Header, body any) ([]byte, error) {
	frame, err := EncodeFrame(getBuf(), h, body)
	if err != nil {
		return nil, err
	}
	return frame, nil
}

// send queues a frame, waiting for room; used for replies and stream data.
func (c *Conn) send(frame []byte) error { return c.out.put(frame) }

func (c *Conn) sendError(h Header, err error) error {
	frame, eerr := c.encode(h, ToRemoteError(err))
	if eerr != nil {
		return eerr
	}
	return c.send(frame)
}

// SendEvent sends an asynchronous MESSAGE (an event) with serial 1, as
// libvirtd does. It never blocks: if the client is not keeping up with its
// backlog, the client is disconnected and ErrQueueOverflow returned.
func (c *Conn) SendEvent(prog uint32, proc int32, body any) error {
	frame, err := c.encode(Header{Prog: prog, Vers: ProtocolVersion, Proc: proc, Type: TypeMessage, Serial: 1}, body)
	if err != nil {
		return err
	}
	return c.sendAsync(frame)
}

// SendEventRaw is SendEvent with a pre-encoded body, so one encoding can
// be fanned out to many clients.
func (c *Conn) SendEventRaw(prog uint32, proc int32, body []byte) error {
	frame, err := RawFrame(getBuf(), Header{Prog: prog, Vers: ProtocolVersion, Proc: proc, Type: TypeMessage, Serial: 1}, body)
	if err != nil {
		return err
	}
	return c.sendAsync(frame)
}

func (c *Conn) sendAsync(frame []byte) error {
	err := c.out.tryPut(frame)
	if err == ErrQueueOverflow {
		c.srv.logf("rpc: dropping client %v: %v", c.nc.RemoteAddr(), err)
		c.closeWith(err)
	}
	return err
}

// serve runs the connection until it ends; it owns the reader loop.
func (c *Conn) serve() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		if err := c.out.run(c.nc, c.done); err != nil {
			c.closeWith(err)
		}
	}()
	err := c.readLoop()
	c.closeWith(err)
	<-writerDone
	c.calls.Wait()
	c.handler.Closed()
}

func (c *Conn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var scratch [LenSize + HeaderSize]byte
	for {
		h, body, err := readFrame(br, scratch[:], streamBody)
		if err != nil {
			return err
		}
		c.lastRecv.Store(time.Now().UnixNano())
		if err := c.route(h, body); err != nil {
			return err
		}
	}
}

// route handles one incoming frame. A returned error closes the
// connection; anything recoverable is answered or dropped instead.
func (c *Conn) route(h Header, body []byte) error {
	if !h.Type.valid() {
		return fmt.Errorf("%w %d", ErrFrameType, h.Type)
	}
	if h.Prog == ProgramKeepalive && h.Type == TypeMessage {
		return c.keepaliveMessage(h)
	}
	if !c.srv.serves(h.Prog, h.Vers) {
		// Only calls expect an answer; anything else for a program we do
		// not serve is dropped, as libvirtd does.
		if h.Type == TypeCall || h.Type == TypeCallWithFDs {
			return c.replyErrorNow(h, ErrUnknownProgram(h.Prog, h.Vers))
		}
		return nil
	}
	switch h.Type {
	case TypeCall:
		if h.Status != StatusOK {
			return c.replyErrorNow(h, virerr.New(virerr.FromRPC, virerr.ErrRPC, "Unexpected message status %d", h.Status))
		}
		return c.dispatch(h, body)
	case TypeCallWithFDs:
		return c.replyErrorNow(h, virerr.New(virerr.FromRPC, virerr.ErrRPC, "%s", "file descriptor passing is not supported"))
	case TypeStream, TypeStreamHole:
		return c.streamMessage(h, body)
	}
	// Replies and messages from a client have no meaning; libvirt drops them.
	return nil
}

func (c *Conn) replyErrorNow(h Header, err error) error {
	h.Type = TypeReply
	h.Status = StatusError
	if serr := c.sendError(h, err); serr != nil && serr != ErrConnClosed {
		return serr
	}
	return nil
}

func (c *Conn) dispatch(h Header, body []byte) error {
	select {
	case c.sem <- struct{}{}:
	default:
		c.throttled.Add(1)
		select {
		case c.sem <- struct{}{}:
			c.throttled.Add(-1)
		case <-c.done:
			c.throttled.Add(-1)
			return ErrConnClosed
		}
	}
	var once sync.Once
	call := &Call{Header: h, Body: body, Conn: c}
	call.release = func() { once.Do(func() { <-c.sem }) }
	c.calls.Add(1)
	if in, ok := c.handler.(Inliner); ok && in.Inline(h.Prog, h.Proc) {
		c.runCall(call)
		return nil
	}
	go c.runCall(call)
	return nil
}

func (c *Conn) runCall(call *Call) {
	defer c.calls.Done()
	defer call.release()
	defer func() {
		// A handler bug must cost one call, not the daemon and every other
		// client with it.
		if r := recover(); r != nil {
			c.srv.logf("rpc: handler panic on proc %d: %v", call.Proc, r)
			_ = call.ReplyError(virerr.New(virerr.FromRPC, virerr.ErrInternalError, "handler failed for procedure %d", call.Proc))
		}
	}()
	c.handler.Call(c.ctx, call)
	if !call.Replied() {
		_ = call.ReplyError(virerr.New(virerr.FromRPC, virerr.ErrInternalError, "no reply for procedure %d", call.Proc))
	}
}
