package rpc

import (
	"net"
	"sync"
	"sync/atomic"
)

// authState is a connection's authentication, as libvirt's
// virNetServerClient keeps it: a client of a listener with an auth scheme
// may only run the authentication procedures until it passes. (The SASL
// user name is in the client's Identity.)
type authState struct {
	done atomic.Bool
}

// NeedsAuth reports whether the client still has to authenticate.
func (c *Conn) NeedsAuth() bool { return c.svc.Auth != AuthNone && !c.auth.done.Load() }

// SetAuthenticated records a successful authentication.
func (c *Conn) SetAuthenticated() { c.auth.done.Store(true) }

// SecurityLayer wraps a connection's bytes after authentication (a SASL
// mechanism's confidentiality layer). Encode turns plain bytes into wire
// bytes; Decode turns wire bytes into the plain bytes they complete.
type SecurityLayer interface {
	Encode(p []byte) []byte
	Decode(raw []byte) ([]byte, error)
}

// layerConn is a TCP connection whose bytes can be wrapped in a security
// layer once authentication ends. Until then it passes bytes through.
type layerConn struct {
	net.Conn
	rmu    sync.Mutex
	rlayer atomic.Pointer[SecurityLayer]
	plain  []byte // decoded bytes not yet read
	wmu    sync.Mutex
	wlayer SecurityLayer
}

func (l *layerConn) Read(p []byte) (int, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	for {
		if len(l.plain) > 0 {
			n := copy(p, l.plain)
			l.plain = l.plain[n:]
			return n, nil
		}
		lp := l.rlayer.Load()
		if lp == nil {
			n, err := l.Conn.Read(p)
			// The layer may have started while this read waited: the
			// bytes it returned are then already wrapped (the client
			// sends nothing between its last authentication call and
			// our reply, which follows the switch).
			if lp = l.rlayer.Load(); lp == nil || n == 0 {
				return n, err
			}
			dec, derr := (*lp).Decode(p[:n])
			if derr != nil {
				return 0, derr
			}
			l.plain = dec
			if err != nil && len(l.plain) == 0 {
				return 0, err
			}
			continue
		}
		buf := make([]byte, 16<<10)
		n, err := l.Conn.Read(buf)
		if n > 0 {
			dec, derr := (*lp).Decode(buf[:n])
			if derr != nil {
				return 0, derr
			}
			l.plain = dec
		}
		if err != nil && len(l.plain) == 0 {
			return 0, err
		}
	}
}

func (l *layerConn) Write(p []byte) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.wlayer == nil {
		return l.Conn.Write(p)
	}
	if _, err := l.Conn.Write(l.wlayer.Encode(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ErrNoLayer is returned when a layer is asked of a connection that
// cannot carry one (only plain TCP does).
var ErrNoLayer = errorString("rpc: this connection cannot take a security layer")

type errorString string

func (e errorString) Error() string { return string(e) }

// ReplyWithLayer sends the final authentication reply in clear and wraps
// everything after it in layer, in both directions: the client switches
// as soon as it has read this reply.
func (c *Call) ReplyWithLayer(ret any, layer SecurityLayer) error {
	lc, ok := c.Conn.nc.(*layerConn)
	if !ok {
		return ErrNoLayer
	}
	if !c.claim() {
		return ErrAlreadyReplied
	}
	frame, err := c.Conn.encode(c.replyHeader(StatusOK), ret)
	if err != nil {
		return err
	}
	lc.rlayer.Store(&layer)
	return c.Conn.out.putThen(lc, frame, func() {
		lc.wmu.Lock()
		lc.wlayer = layer
		lc.wmu.Unlock()
	})
}
