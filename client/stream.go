package client

import (
	"context"
	"errors"
	"io"
	"sync"

	"govirt/rpc"
	"govirt/rpc/xdr"
)

// ErrStreamDone is returned for use of a stream after Finish or Abort.
var ErrStreamDone = errors.New("client: stream already finished")

// rxMax bounds downloaded data held for a slow reader; beyond it the
// connection's reader waits, pushing back on the server via TCP.
const rxMax = 4 << 20

type chunk struct {
	data []byte
	hole int64
}

// Stream is the client end of a libvirt data stream. For uploads, Write
// then Finish; for downloads, Read until io.EOF then Finish. Abort cancels
// either. Finish and Abort wait for the server's confirmation, as
// virStreamFinish and virStreamAbort do.
type Stream struct {
	c          *Client
	prog, vers uint32
	proc       int32
	serial     uint32

	mu        sync.Mutex
	cond      *sync.Cond
	rx        []chunk
	rxBytes   int
	eof       bool  // server sent end of data
	err       error // server-reported stream error, or connection failure
	finishing bool  // we sent OK/ERROR; next OK/ERROR is the confirmation
	confirm   chan error
	done      bool
}

// CallStream invokes a REMOTE procedure that opens a stream (volume upload
// or download, console, screenshot...). The stream is bound to the call's
// serial before the call is sent.
func (c *Client) CallStream(ctx context.Context, proc int32, args, ret any) (*Stream, error) {
	return c.CallStreamProg(ctx, rpc.ProgramRemote, rpc.ProtocolVersion, proc, args, ret)
}

// CallStreamProg is CallStream for any program.
func (c *Client) CallStreamProg(ctx context.Context, prog, vers uint32, proc int32, args, ret any) (*Stream, error) {
	st := &Stream{c: c, prog: prog, vers: vers, proc: proc, confirm: make(chan error, 1)}
	st.cond = sync.NewCond(&st.mu)
	res, err := c.roundTrip(ctx, prog, vers, proc, args, st)
	if err == nil {
		err = decodeReply(res, ret)
	}
	if err != nil {
		c.forget(st.serial, true)
		return nil, err
	}
	return st, nil
}

func (s *Stream) deliver(h rpc.Header, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.Type == rpc.TypeStreamHole {
		var hole rpc.StreamHoleArgs
		if err := xdr.Unmarshal(body, &hole); err != nil || hole.Length < 0 {
			s.setErr(rpc.ErrDecodePayload())
			return
		}
		s.push(chunk{hole: hole.Length})
		return
	}
	switch h.Status {
	case rpc.StatusContinue:
		if len(body) == 0 {
			// An empty data packet is the server's end-of-file.
			s.eof = true
			s.cond.Broadcast()
			return
		}
		s.push(chunk{data: body})
	case rpc.StatusOK:
		if s.finishing {
			s.confirmWith(nil)
			return
		}
		s.eof = true
		s.cond.Broadcast()
	default:
		err := rpc.DecodeError(body)
		if s.finishing {
			s.confirmWith(err)
			return
		}
		s.setErr(err)
	}
}

func (s *Stream) setErr(err error) {
	if s.err == nil {
		s.err = err
	}
	s.cond.Broadcast()
}

func (s *Stream) confirmWith(err error) {
	select {
	case s.confirm <- err:
	default:
	}
}

// push queues data; called with s.mu held, from the connection reader.
func (s *Stream) push(ch chunk) {
	if s.finishing || s.err != nil || (len(ch.data) == 0 && ch.hole == 0) {
		return
	}
	for s.rxBytes >= rxMax && !s.finishing && s.err == nil {
		s.cond.Wait()
	}
	if s.finishing || s.err != nil {
		return
	}
	s.rx = append(s.rx, ch)
	s.rxBytes += len(ch.data)
	s.cond.Broadcast()
}

// fail ends the stream because the connection ended.
func (s *Stream) fail(err error) {
	s.mu.Lock()
	s.setErr(err)
	s.confirmWith(err)
	s.mu.Unlock()
}

// Read returns downloaded data; holes read as zeros. It returns io.EOF
// when the server has sent everything; call Finish afterwards.
func (s *Stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.rx) == 0 && !s.eof && s.err == nil && !s.done {
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
				s.rx = s.rx[1:]
			}
		} else {
			n = int(min(int64(len(p)), it.hole))
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
	case s.err != nil:
		return 0, s.err
	case s.eof:
		return 0, io.EOF
	}
	return 0, ErrStreamDone
}

func (s *Stream) header(t rpc.MsgType, st rpc.Status) rpc.Header {
	return rpc.Header{Prog: s.prog, Vers: s.vers, Proc: s.proc, Type: t, Serial: s.serial, Status: st}
}

func (s *Stream) usable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		return s.err
	case s.done || s.finishing:
		return ErrStreamDone
	}
	return nil
}

// Write uploads p in chunks the daemon accepts. Data is not acknowledged;
// a server-side failure shows up on a later Write or on Finish.
func (s *Stream) Write(p []byte) (int, error) {
	written := 0
	var buf []byte
	for len(p) > 0 {
		if err := s.usable(); err != nil {
			return written, err
		}
		n := min(len(p), rpc.StreamChunkMax)
		frame, err := rpc.RawFrame(buf, s.header(rpc.TypeStream, rpc.StatusContinue), p[:n])
		if err != nil {
			return written, err
		}
		if err := s.c.write(frame); err != nil {
			return written, err
		}
		buf = frame
		written += n
		p = p[n:]
	}
	return written, nil
}

// SendHole uploads a hole of length bytes (sparse streams only).
func (s *Stream) SendHole(length int64) error {
	if err := s.usable(); err != nil {
		return err
	}
	frame, err := rpc.EncodeFrame(nil, s.header(rpc.TypeStreamHole, rpc.StatusContinue), &rpc.StreamHoleArgs{Length: length})
	if err != nil {
		return err
	}
	return s.c.write(frame)
}

// Finish completes the stream: it tells the server we are done and waits
// for its confirmation (for uploads, that the data was stored). If the
// server already reported an error, the stream is aborted and that error
// returned.
func (s *Stream) Finish() error {
	s.mu.Lock()
	prior := s.err
	s.mu.Unlock()
	if prior != nil {
		_ = s.end(rpc.StatusError)
		return prior
	}
	return s.end(rpc.StatusOK)
}

// Abort cancels the stream and waits for the server to acknowledge.
func (s *Stream) Abort() error { return s.end(rpc.StatusError) }

func (s *Stream) end(status rpc.Status) error {
	s.mu.Lock()
	if s.done || s.finishing {
		s.mu.Unlock()
		return ErrStreamDone
	}
	s.finishing = true
	s.rx, s.rxBytes = nil, 0
	s.cond.Broadcast()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.done = true
		s.cond.Broadcast()
		s.mu.Unlock()
		s.c.forget(s.serial, true)
	}()
	frame, err := rpc.RawFrame(nil, s.header(rpc.TypeStream, status), nil)
	if err != nil {
		return err
	}
	if err := s.c.write(frame); err != nil {
		return err
	}
	select {
	case err := <-s.confirm:
		if status == rpc.StatusError && err == nil {
			return nil
		}
		return err
	case <-s.c.done:
		return ErrClosed
	}
}
