package rpc

import (
	"context"
	"errors"
	"os"
	"sync/atomic"

	"govirt/rpc/xdr"
	"govirt/virerr"
)

// Handler serves one client connection. Call runs on its own goroutine for
// every CALL, so calls on one connection may overlap; Closed runs once,
// after the connection has ended and every Call has returned.
type Handler interface {
	Call(ctx context.Context, c *Call)
	Closed()
}

// Inliner is implemented by handlers that know which calls finish at once
// without blocking (reads served from cached state). Those run on the
// connection's reader goroutine instead of a new one: on the one-client
// request/reply path, starting a goroutine and waking a thread for it costs
// more than the call itself. A slow inline call would stall only its own
// connection's later calls, never other clients.
type Inliner interface {
	Inline(prog uint32, proc int32) bool
}

// ErrAlreadyReplied is returned by a second reply to the same call.
var ErrAlreadyReplied = errors.New("rpc: call already answered")

// Call is one incoming CALL. Exactly one of the Reply methods must be used;
// if the handler returns without replying, an internal error is sent so the
// client never waits forever.
type Call struct {
	Header
	Body []byte
	Conn *Conn
	// FDs are the descriptors a CALL_WITH_FDS passed, in order; they
	// are closed when the handler returns.
	FDs []*os.File

	replied atomic.Bool
	release func()
}

// Decode unmarshals the arguments. The error it returns is libvirt's
// "Unable to decode message payload", ready to pass to ReplyError.
func (c *Call) Decode(args any) error {
	if err := xdr.Unmarshal(c.Body, args); err != nil {
		return ErrDecodePayload()
	}
	return nil
}

func (c *Call) claim() bool {
	if !c.replied.CompareAndSwap(false, true) {
		return false
	}
	// The in-flight slot is freed at reply time, not when Call returns, so
	// a handler that keeps running to pump a stream does not throttle the
	// connection's other calls.
	if c.release != nil {
		c.release()
	}
	return true
}

// Replied reports whether a reply has been sent.
func (c *Call) Replied() bool { return c.replied.Load() }

func (c *Call) replyHeader(status Status) Header {
	h := c.Header
	h.Type = TypeReply
	h.Status = status
	return h
}

// Reply sends ret (nil for a void reply). If ret cannot be encoded the
// client gets an internal error instead, so it is never left waiting.
func (c *Call) Reply(ret any) error {
	if !c.claim() {
		return ErrAlreadyReplied
	}
	frame, err := c.Conn.encode(c.replyHeader(StatusOK), ret)
	if err != nil {
		frame, err = c.Conn.encode(c.replyHeader(StatusError),
			ToRemoteError(virerr.New(virerr.FromRPC, virerr.ErrInternalError, "failed to encode reply: %v", err)))
		if err != nil {
			return err
		}
	}
	return c.Conn.send(frame)
}

// ReplyRaw sends a reply whose body is already XDR-encoded.
func (c *Call) ReplyRaw(body []byte) error {
	if !c.claim() {
		return ErrAlreadyReplied
	}
	frame, err := RawFrame(getBuf(), c.replyHeader(StatusOK), body)
	if err != nil {
		return err
	}
	return c.Conn.send(frame)
}

// ReplyError sends err as remote_error (non-libvirt errors become
// VIR_ERR_INTERNAL_ERROR).
func (c *Call) ReplyError(err error) error {
	if !c.claim() {
		return ErrAlreadyReplied
	}
	return c.Conn.sendError(c.replyHeader(StatusError), err)
}

// ReplyUnknownProc sends libvirt's "unknown procedure: N" error, which
// clients treat as "not supported" and fall back on.
func (c *Call) ReplyUnknownProc() error { return c.ReplyError(ErrUnknownProc(c.Proc)) }

// NewStream binds a stream to this call's program, procedure and serial.
// Create it before replying: the client may start sending data as soon as
// it sees the reply.
func (c *Call) NewStream() *Stream {
	return c.Conn.NewProgStream(c.Prog, c.Vers, c.Proc, c.Serial)
}
