package rpc

import (
	"errors"
	"io"
	"sync"

	"govirt/rpc/xdr"
	"govirt/virerr"
)

// StreamHoleArgs is remote_stream_hole / virNetStreamHole.
type StreamHoleArgs struct {
	Length int64
	Flags  uint32
}

// Stream errors.
var (
	ErrStreamAborted = errors.New("rpc: stream aborted by peer")
	ErrStreamClosed  = errors.New("rpc: stream already closed")
)

// streamRxMax bounds incoming data buffered per stream; beyond it the
// connection's reader waits for the consumer, which pushes back on the
// client through TCP instead of growing memory.
const streamRxMax = 4 << 20

type streamKey struct {
	proc   int32
	serial uint32
}

type rxItem struct {
	data []byte
	hole int64
	buf  []byte // the pooled storage data points into, if any
}

// Upload packets arrive in pooled buffers: 1 GiB would otherwise be 4,096
// fresh 256 KiB bodies for the garbage collector. A buffer goes back to
// the pool once the consumer is done with it; one dropped with a stream
// is left to the collector.
const streamBufSize = 256 << 10

var streamBufPool = sync.Pool{New: func() any { b := make([]byte, streamBufSize); return &b }}

// streamBody is the connection reader's allocator: large STREAM data
// bodies come from the pool, everything else is allocated as usual.
func streamBody(h Header, n int) []byte {
	if h.Type != TypeStream || h.Status != StatusContinue || n < 64<<10 || n > streamBufSize {
		return nil
	}
	return (*streamBufPool.Get().(*[]byte))[:n]
}

func putStreamBody(b []byte) {
	if cap(b) == streamBufSize {
		b = b[:cap(b)]
		streamBufPool.Put(&b)
	}
}

// Stream is the server end of a libvirt data stream bound to one call's
// (procedure, serial). Incoming data (uploads) is read with Read, which
// returns io.EOF once the client has finished; outgoing data (downloads) is
// written with Write. Close completes the libvirt handshake in either
// direction; CloseWithError reports a failure to the client instead.
//
// Read may run concurrently with Write, but Write, SendHole and Close must
// not be called concurrently with each other.
type Stream struct {
	conn *Conn
	hdr  Header
	key  streamKey

	mu          sync.Mutex
	cond        *sync.Cond
	rx          []rxItem
	rxBytes     int
	lent        []byte // buffer of the last ReadChunk, recycled on the next
	rxEOF       bool   // client sent its finish (STREAM OK)
	aborted     bool   // client sent STREAM ERROR
	localClosed bool   // we sent our OK (EOF) or ERROR
	localErr    error  // the error we sent, if any
	gone        bool   // unregistered: handshake complete or connection ended
	goneErr     error
}

// NewStream binds a stream to (proc, serial) on the REMOTE program.
func (c *Conn) NewStream(proc int32, serial uint32) *Stream {
	return c.NewProgStream(ProgramRemote, ProtocolVersion, proc, serial)
}

// NewProgStream binds a stream for any program.
func (c *Conn) NewProgStream(prog, vers uint32, proc int32, serial uint32) *Stream {
	s := &Stream{
		conn: c,
		hdr:  Header{Prog: prog, Vers: vers, Proc: proc, Serial: serial, Type: TypeStream},
		key:  streamKey{proc, serial},
	}
	s.cond = sync.NewCond(&s.mu)
	c.streamMu.Lock()
	select {
	case <-c.done:
		s.gone, s.goneErr = true, ErrConnClosed
	default:
		c.streams[s.key] = s
	}
	c.streamMu.Unlock()
	return s
}

func (c *Conn) closeStreams(reason error) {
	c.streamMu.Lock()
	streams := c.streams
	c.streams = map[streamKey]*Stream{}
	c.streamMu.Unlock()
	for _, s := range streams {
		s.mu.Lock()
		if !s.gone {
			s.gone, s.goneErr = true, reason
		}
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}

// unregister must be called with s.mu held.
func (s *Stream) unregister() {
	s.gone = true
	if s.goneErr == nil {
		s.goneErr = ErrStreamClosed
	}
	s.cond.Broadcast()
	s.conn.streamMu.Lock()
	if s.conn.streams[s.key] == s {
		delete(s.conn.streams, s.key)
	}
	s.conn.streamMu.Unlock()
}

func (s *Stream) header(t MsgType, st Status) Header {
	h := s.hdr
	h.Type, h.Status = t, st
	return h
}

// sendEmpty sends a zero-length STREAM OK message: a finish or abort confirmation.
func (s *Stream) sendEmpty() error {
	frame, err := RawFrame(getBuf(), s.header(TypeStream, StatusOK), nil)
	if err != nil {
		return err
	}
	return s.conn.send(frame)
}

func (s *Stream) sendErr(err error) error {
	return s.conn.sendError(s.header(TypeStream, StatusError), err)
}

// streamMessage routes STREAM / STREAM_HOLE from the client. Data for a
// stream we no longer know is dropped: stream data is unacknowledged, so
// late packets after a close are normal.
func (c *Conn) streamMessage(h Header, body []byte) error {
	c.streamMu.Lock()
	s := c.streams[streamKey{h.Proc, h.Serial}]
	c.streamMu.Unlock()
	if s == nil {
		putStreamBody(body)
		return nil
	}
	return s.deliver(h, body)
}

func (s *Stream) deliver(h Header, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		putStreamBody(body)
		return nil
	}
	if h.Type == TypeStreamHole {
		var hole StreamHoleArgs
		if err := xdr.Unmarshal(body, &hole); err != nil || hole.Length < 0 {
			// libvirtd treats an undecodable hole as fatal for the client.
			return ErrDecodePayload()
		}
		return s.enqueue(rxItem{hole: hole.Length})
	}
	switch h.Status {
	case StatusContinue:
		return s.enqueue(rxItem{data: body, buf: body})
	case StatusOK:
		if s.localClosed {
			// Download finished on our side; this is the client's finish.
			// Confirm with OK, or repeat our error.
			s.unregister()
			if s.localErr != nil {
				return ignoreClosed(s.sendErr(s.localErr))
			}
			return ignoreClosed(s.sendEmpty())
		}
		s.rxEOF = true
		s.cond.Broadcast()
		return nil
	default:
		// Client abort. The body carries no error in practice; confirm with
		// an empty OK as libvirtd does after a successful abort.
		s.aborted = true
		s.goneErr = ErrStreamAborted
		s.unregister()
		return ignoreClosed(s.sendEmpty())
	}
}

func ignoreClosed(err error) error {
	if err == ErrConnClosed {
		return nil
	}
	return err
}

// enqueue buffers incoming data; called with s.mu held.
func (s *Stream) enqueue(it rxItem) error {
	if s.localClosed || s.rxEOF || (len(it.data) == 0 && it.hole == 0) {
		putStreamBody(it.buf)
		return nil
	}
	if s.rxBytes >= streamRxMax {
		s.conn.throttled.Add(1)
		for s.rxBytes >= streamRxMax && !s.gone && !s.localClosed {
			s.cond.Wait()
		}
		s.conn.throttled.Add(-1)
		if s.gone || s.localClosed {
			putStreamBody(it.buf)
			return nil
		}
	}
	s.rx = append(s.rx, it)
	s.rxBytes += len(it.data)
	s.cond.Broadcast()
	return nil
}

// Read returns uploaded data. Holes the client sends read as zeros. It
// returns io.EOF after the client's finish, ErrStreamAborted if the
// client aborted.
func (s *Stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	putStreamBody(s.lent)
	s.lent = nil
	for len(s.rx) == 0 && !s.rxEOF && !s.gone && !s.localClosed {
		s.cond.Wait()
	}
	if len(s.rx) > 0 {
		it := &s.rx[0]
		var n int
		if it.hole == 0 {
			n = copy(p, it.data)
			it.data = it.data[n:]
			s.rxBytes -= n
			if len(it.data) == 0 {
				putStreamBody(it.buf)
				s.rx = s.rx[1:]
			}
		} else {
			n = len(p)
			if int64(n) > it.hole {
				n = int(it.hole)
			}
			clear(p[:n])
			it.hole -= int64(n)
			if it.hole == 0 {
				s.rx = s.rx[1:]
			}
		}
		s.cond.Broadcast()
		return n, nil
	}
	switch {
	case s.rxEOF:
		return 0, io.EOF
	case s.gone:
		return 0, s.goneErr
	}
	return 0, ErrStreamClosed
}

// ReadChunk is Read without the copy: it returns the next piece of
// uploaded data as the client sent it, at most max bytes of one packet,
// valid until the next ReadChunk or Read; or, for a hole the client sent,
// nil data and at most max bytes of its length. It returns io.EOF after
// the client's finish, ErrStreamAborted if the client aborted.
func (s *Stream) ReadChunk(max int) (data []byte, hole int64, err error) {
	if max <= 0 {
		return nil, 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	putStreamBody(s.lent)
	s.lent = nil
	for len(s.rx) == 0 && !s.rxEOF && !s.gone && !s.localClosed {
		s.cond.Wait()
	}
	if len(s.rx) == 0 {
		switch {
		case s.rxEOF:
			return nil, 0, io.EOF
		case s.gone:
			return nil, 0, s.goneErr
		}
		return nil, 0, ErrStreamClosed
	}
	it := &s.rx[0]
	if it.hole == 0 {
		n := min(max, len(it.data))
		data, it.data = it.data[:n:n], it.data[n:]
		s.rxBytes -= n
		if len(it.data) == 0 {
			s.lent = it.buf
			s.rx = s.rx[1:]
		}
	} else {
		hole = min(int64(max), it.hole)
		it.hole -= hole
		if it.hole == 0 {
			s.rx = s.rx[1:]
		}
	}
	s.cond.Broadcast()
	return data, hole, nil
}

// Write sends data to the client in chunks of at most StreamChunkMax bytes.
// It waits when the client is slow to read.
func (s *Stream) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if err := s.writable(); err != nil {
			return written, err
		}
		n := min(len(p), StreamChunkMax)
		frame, err := RawFrame(getBuf(), s.header(TypeStream, StatusContinue), p[:n])
		if err != nil {
			return written, err
		}
		if err := s.conn.send(frame); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

func (s *Stream) writable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.gone:
		return s.goneErr
	case s.localClosed:
		return ErrStreamClosed
	}
	return nil
}

// SendHole tells the client that length bytes of zeros follow, for sparse
// downloads; only valid when the client asked for a sparse stream.
func (s *Stream) SendHole(length int64, flags uint32) error {
	if err := s.writable(); err != nil {
		return err
	}
	frame, err := s.conn.encode(s.header(TypeStreamHole, StatusContinue), &StreamHoleArgs{length, flags})
	if err != nil {
		return err
	}
	return s.conn.send(frame)
}

// Close ends the stream successfully. After an upload (the client has
// finished) it sends the finish confirmation the client waits for. For a
// download it sends end-of-file; the connection then answers the client's
// own finish automatically. It is a no-op once the stream is done.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone || s.localClosed {
		if s.aborted {
			return ErrStreamAborted
		}
		return nil
	}
	s.localClosed = true
	s.cond.Broadcast()
	if s.rxEOF {
		// Upload: confirm the client's finish.
		s.unregister()
		return s.sendEmpty()
	}
	// Download: end-of-file is an empty CONTINUE packet, as libvirtd sends
	// it (an OK here would be an unsolicited finish confirmation, which
	// libvirt's client treats as a protocol error and hangs up). Sent under
	// the lock so a racing client finish cannot be confirmed before it.
	return s.sendEOF()
}

// sendEOF sends a zero-length STREAM CONTINUE message: end of data.
func (s *Stream) sendEOF() error {
	frame, err := RawFrame(getBuf(), s.header(TypeStream, StatusContinue), nil)
	if err != nil {
		return err
	}
	return s.conn.send(frame)
}

// CloseWithError aborts the stream, sending err to the client as
// remote_error in a STREAM message with status ERROR.
func (s *Stream) CloseWithError(err error) error {
	if err == nil {
		err = virerr.New(virerr.FromStreams, virerr.ErrInternalError, "%s", "stream aborted")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone || s.localClosed {
		return nil
	}
	s.localClosed = true
	s.localErr = err
	s.rx, s.rxBytes = nil, 0
	s.cond.Broadcast()
	if s.rxEOF {
		s.unregister()
	}
	return s.sendErr(err)
}
