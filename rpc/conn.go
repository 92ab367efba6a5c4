package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
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
	auth      authState // SASL authentication passed (auth.go)

	// Identity for the admin program.
	id        uint64 // per server, from 1, set before the handler exists
	connTime  time.Time
	svc       Service
	readOnly  atomic.Bool
	openFlags atomic.Int64 // CONNECT_OPEN's flags while it runs, -1 otherwise
	authed    atomic.Bool  // past CONNECT_OPEN: no longer anonymous
	gone      bool         // left the server's table; guarded by srv.mu
	anonTimer atomic.Pointer[time.Timer]
	ident     identityState // who the client is (identity.go)

	// Input budget: bytes of calls read but not yet answered.
	inMu        sync.Mutex
	inCond      *sync.Cond
	inUsed      int
	inputHanded bool // reader only: the frame's budget went to a call

	// Reader only: the socket's reader when descriptors can arrive on
	// it, and those the frame being routed carries (CALL_WITH_FDS).
	fdr    *fdReader
	passed []*os.File
}

func newConn(srv *Server, nc net.Conn, svc Service) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	if svc.Transport == TransportTCP && svc.Auth == AuthSASL {
		// Plain TCP with SASL may need a security layer after the
		// authentication; the wrapper passes bytes through until then.
		nc = &layerConn{Conn: nc}
	}
	c := &Conn{
		nc: nc, srv: srv, ctx: ctx, cancel: cancel,
		out:      newOutQueue(srv.outBytes(), srv.maxQueuedFrames()),
		sem:      make(chan struct{}, srv.maxRequests()),
		done:     make(chan struct{}),
		streams:  map[streamKey]*Stream{},
		connTime: time.Now(),
		svc:      svc,
	}
	c.inCond = sync.NewCond(&c.inMu)
	c.readOnly.Store(svc.ReadOnly)
	c.openFlags.Store(-1)
	c.lastRecv.Store(time.Now().UnixNano())
	return c
}

// ID is the client's id within its server (increasing from 1, as libvirt).
func (c *Conn) ID() uint64 { return c.id }

// ConnectedAt is when the client was accepted.
func (c *Conn) ConnectedAt() time.Time { return c.connTime }

// Transport is how the client reached the server.
func (c *Conn) Transport() Transport { return c.svc.Transport }

// ServiceReadOnly reports whether the client came in on a read-only socket.
func (c *Conn) ServiceReadOnly() bool { return c.svc.ReadOnly }

// ReadOnly is libvirt's client readonly flag: the socket's, updated by
// CONNECT_OPEN's VIR_CONNECT_RO flag.
func (c *Conn) ReadOnly() bool { return c.readOnly.Load() }

// Authenticated reports whether the client has opened a connection; until
// then it counts against max_anonymous_clients.
func (c *Conn) Authenticated() bool { return c.authed.Load() }

// Server is the server the connection belongs to.
func (c *Conn) Server() *Server { return c.srv }

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
		if t := c.anonTimer.Load(); t != nil {
			t.Stop()
		}
		c.inMu.Lock()
		c.inCond.Broadcast()
		c.inMu.Unlock()
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
func (c *Conn) send(frame []byte) error {
	if !c.authed.Load() {
		c.noteOpenReply(frame)
	}
	return c.out.put(frame)
}

// Connection-opening procedures: a successful reply to one ends the
// client's anonymous phase (libvirt counts clients as unauthenticated until
// their auth completes; govirtd has no auth step, so opening is the step).
const (
	procRemoteConnectOpen int32 = 1
	procAdminConnectOpen  int32 = 1
	connectRO                   = 1 // VIR_CONNECT_RO
)

func isOpenCall(prog uint32, proc int32) bool {
	return (prog == ProgramRemote && proc == procRemoteConnectOpen) ||
		(prog == ProgramAdmin && proc == procAdminConnectOpen)
}

// noteOpenReply looks at an outgoing reply's header for a successful open.
func (c *Conn) noteOpenReply(frame []byte) {
	if len(frame) < LenSize+HeaderSize {
		return
	}
	h, _ := ParseHeader(frame[LenSize:])
	if h.Type != TypeReply || h.Status != StatusOK || !isOpenCall(h.Prog, h.Proc) {
		return
	}
	// libvirt sets the client's readonly flag from the open's flags, which
	// include VIR_CONNECT_RO whenever the socket is read-only.
	if f := c.openFlags.Load(); f >= 0 && f&connectRO != 0 {
		c.readOnly.Store(true)
	}
	c.srv.authenticated(c)
	if t := c.anonTimer.Load(); t != nil {
		t.Stop()
	}
}

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
	// Large bodies bypass this buffer (bufio reads straight into a big
	// destination), so it only batches small messages; kept small because
	// every idle client holds one.
	var src io.Reader = c.nc
	if uc, ok := c.nc.(*net.UnixConn); ok {
		c.fdr = newFDReader(uc)
		src = c.fdr
		defer c.fdr.closeAll()
	}
	br := bufio.NewReaderSize(src, 16<<10)
	var scratch [LenSize + HeaderSize]byte
	for {
		h, body, err := c.readFrame(br, scratch[:])
		if err != nil {
			return err
		}
		c.lastRecv.Store(time.Now().UnixNano())
		if h.Type == TypeCallWithFDs {
			if c.passed, err = c.takePassedFDs(br, body); err != nil {
				return err
			}
		}
		c.inputHanded = false
		err = c.route(h, body)
		// Descriptors no call took (a refused call, another program)
		// are closed, as libvirt frees the message with them.
		closeFiles(c.passed)
		c.passed = nil
		if !c.inputHanded {
			c.releaseInput(len(body))
		}
		if err != nil {
			return err
		}
	}
}

// ErrStalled is why a client that stopped sending in the middle of a
// message is dropped.
var ErrStalled = errors.New("rpc: client stalled in the middle of a message")

// ErrAnonymousTimeout is why a client that never opened a connection is
// dropped.
var ErrAnonymousTimeout = errors.New("rpc: client did not open a connection in time")

// readFrame reads one frame. Waiting for a frame to start has no time
// limit (keepalive watches idle clients), but once its first byte has
// arrived every further read must make progress within the stall timeout.
// The body's storage grows as bytes arrive, and a call's body counts
// against the client's input budget until the call is answered.
func (c *Conn) readFrame(br *bufio.Reader, scratch []byte) (Header, []byte, error) {
	if _, err := br.Peek(1); err != nil {
		return Header{}, nil, err
	}
	stall := c.srv.stallTimeout()
	armed := false
	arm := func() {
		if stall > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(stall))
			armed = true
		}
	}
	defer func() {
		if armed {
			_ = c.nc.SetReadDeadline(time.Time{})
		}
	}()
	if br.Buffered() < LenSize+HeaderSize {
		arm()
	}
	// The length is checked before waiting for the header, so a bogus one
	// is refused at once.
	if _, err := io.ReadFull(br, scratch[:LenSize]); err != nil {
		return Header{}, nil, c.stalled(unexpectedEOF(err))
	}
	n := binary.BigEndian.Uint32(scratch)
	if err := checkLength(n); err != nil {
		return Header{}, nil, err
	}
	if _, err := io.ReadFull(br, scratch[LenSize:LenSize+HeaderSize]); err != nil {
		return Header{}, nil, c.stalled(unexpectedEOF(err))
	}
	h, _ := ParseHeader(scratch[LenSize:])
	size := int(n) - LenSize - HeaderSize
	if err := c.reserveInput(size); err != nil {
		return h, nil, err
	}
	// Re-armed before every read that may block: reserveInput may have
	// waited past the deadline set for the header.
	var arming func()
	if stall > 0 {
		arming = arm
	}
	if buf := c.streamBody(h, size); buf != nil {
		if size > br.Buffered() {
			arm()
		}
		if _, err := io.ReadFull(br, buf); err != nil {
			c.releaseInput(size)
			return h, nil, c.stalled(unexpectedEOF(err))
		}
		return h, buf, nil
	}
	body, err := readGrowing(br, size, br.Buffered(), arming)
	if err != nil {
		c.releaseInput(size)
		return h, nil, c.stalled(err)
	}
	return h, body, nil
}

func (c *Conn) stalled(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.srv.logf("rpc: dropping client %v: stalled mid-message for %v", c.nc.RemoteAddr(), c.srv.stallTimeout())
		return ErrStalled
	}
	return err
}

// reserveInput waits until n more bytes fit the client's input budget
// (every frame reserves its body until routed; a call's is held until it
// is answered); a
// single message always fits once nothing else is held. While it waits
// the client's bytes stay in the kernel, which pushes back on the client.
func (c *Conn) reserveInput(n int) error {
	limit := c.srv.inBytes()
	c.inMu.Lock()
	defer c.inMu.Unlock()
	if c.inUsed > 0 && c.inUsed+n > limit {
		c.throttled.Add(1)
		for c.inUsed > 0 && c.inUsed+n > limit && c.Err() == nil {
			c.inCond.Wait()
		}
		c.throttled.Add(-1)
	}
	if c.Err() != nil {
		return ErrConnClosed
	}
	c.inUsed += n
	return nil
}

func (c *Conn) releaseInput(n int) {
	c.inMu.Lock()
	c.inUsed -= n
	c.inCond.Broadcast()
	c.inMu.Unlock()
}

// streamBody gives upload data of an open stream a pooled buffer; other
// bodies (and data for streams that do not exist) grow as they arrive, so
// a hostile header cannot pin a whole pooled buffer.
func (c *Conn) streamBody(h Header, n int) []byte {
	if h.Type != TypeStream || h.Status != StatusContinue {
		return nil
	}
	c.streamMu.Lock()
	_, ok := c.streams[streamKey{h.Proc, h.Serial}]
	c.streamMu.Unlock()
	if !ok {
		return nil
	}
	return streamBody(h, n)
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
	case TypeCall, TypeCallWithFDs:
		// A call with descriptors is dispatched as any other (libvirtd's
		// procedures that take none ignore them); its body starts with
		// their count, which takePassedFDs read.
		if h.Status != StatusOK {
			return c.replyErrorNow(h, virerr.New(virerr.FromRPC, virerr.ErrRPC, "Unexpected message status %d", h.Status))
		}
		return c.dispatch(h, body)
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
	size := len(body)
	if h.Type == TypeCallWithFDs {
		call.Body = body[4:] // past the descriptor count
		call.FDs, c.passed = c.passed, nil
	}
	call.release = func() {
		once.Do(func() {
			<-c.sem
			c.releaseInput(size)
		})
	}
	c.inputHanded = true
	if !c.authed.Load() && isOpenCall(h.Prog, h.Proc) && len(body) >= 4 {
		// Both programs' open args end with the flags word.
		c.openFlags.Store(int64(binary.BigEndian.Uint32(body[len(body)-4:])))
	}
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
	// The handler dups what it keeps past its return.
	defer closeFiles(call.FDs)
	defer func() {
		// A handler bug must cost one call, not the daemon and every other
		// client with it.
		if r := recover(); r != nil {
			c.srv.logf("rpc: handler panic on proc %d: %v\n%s", call.Proc, r, debug.Stack())
			_ = call.ReplyError(virerr.New(virerr.FromRPC, virerr.ErrInternalError, "handler failed for procedure %d", call.Proc))
		}
	}()
	c.handler.Call(c.ctx, call)
	if !call.Replied() {
		_ = call.ReplyError(virerr.New(virerr.FromRPC, virerr.ErrInternalError, "no reply for procedure %d", call.Proc))
	}
}
