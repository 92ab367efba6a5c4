package rpc

import (
	"errors"
	"log"
	"net"
	"sort"
	"sync"
	"time"
)

// Program identifies a (program, version) pair the server dispatches.
type Program struct {
	Prog, Vers uint32
}

// DefaultPrograms are served unless Server.Programs says otherwise.
var DefaultPrograms = []Program{
	{ProgramRemote, ProtocolVersion},
	{ProgramQEMU, ProtocolVersion},
	{ProgramLXC, ProtocolVersion},
}

// Limits libvirtd applies by default (remote_daemon_config.c).
const (
	DefaultMaxClients          = 5000
	DefaultMaxAnonymousClients = 20
	DefaultMaxClientRequests   = 5
	// DefaultStallTimeout is how long a client may leave a message half
	// sent: libvirt's keepalive would drop it after interval*count (5*5 s)
	// but only for clients that asked for keepalive.
	DefaultStallTimeout = 30 * time.Second
	// DefaultAnonymousTimeout is how long a client may stay connected
	// without opening a connection (CONNECT_OPEN). Without it, idle sockets
	// from any local user would hold every max_anonymous_clients slot.
	DefaultAnonymousTimeout = 60 * time.Second
)

// Transport is virClientTransport, as the admin program reports it.
type Transport int32

const (
	TransportUnix Transport = 0
	TransportTCP  Transport = 1
	TransportTLS  Transport = 2
)

func (t Transport) String() string {
	switch t {
	case TransportUnix:
		return "unix"
	case TransportTCP:
		return "tcp"
	case TransportTLS:
		return "tls"
	}
	return "unknown"
}

// Service describes one listener of a server (libvirt's virNetServerService).
type Service struct {
	ReadOnly  bool
	Transport Transport
	// Auth is what the listener demands before CONNECT_OPEN, as
	// libvirtd's auth_unix_rw/auth_unix_ro/auth_tcp/auth_tls: AuthNone or
	// AuthSASL (identity.go); REMOTE_PROC_AUTH_LIST reports it.
	Auth int32
	// PeerCheck, if set, makes a loopback TCP listener identify each
	// client as a unix socket would: the client's uid is read from the
	// kernel's socket table (Conn.Identity) and PeerCheck decides whether
	// it may in. A refused client, or one not found there, gets only
	// authentication errors (Conn.PeerRefused).
	PeerCheck func(Identity) error
}

// Server accepts connections and runs a Conn for each. Set the optional
// fields before the first Serve; the client limits can change at any time
// through SetClientLimits.
type Server struct {
	// Name is the server's name for the admin program ("libvirtd", "admin").
	Name string
	// NewHandler makes the per-connection Handler.
	NewHandler func(*Conn) Handler
	// Admit, if set, may refuse a connection before its handler exists
	// (the admin socket refuses peers of another uid); the connection is
	// closed and never counted.
	Admit func(net.Conn) error
	// Programs the handler dispatches; CALLs for others get libvirt's
	// "Cannot find program" error without reaching the handler.
	Programs []Program
	// MaxRequests bounds calls in flight per connection (libvirtd's
	// max_client_requests, default 5); the reader stops reading at the limit.
	MaxRequests int
	// MaxQueuedMessages is how many frames may wait for a client before an
	// event push drops it.
	MaxQueuedMessages int
	// MaxQueuedBytes is the backlog at which replies and stream data wait.
	MaxQueuedBytes int
	// MaxInputBytes bounds the bytes of incoming messages one client has
	// buffered (read but not yet answered); the reader stops reading above
	// it. One message of any size is always allowed. Default MessageMax.
	MaxInputBytes int
	// StallTimeout drops a client that starts a message and then sends
	// nothing for this long. Zero means DefaultStallTimeout, negative never.
	StallTimeout time.Duration
	// AnonymousTimeout drops a client that has not opened a connection
	// this long after connecting. Zero means DefaultAnonymousTimeout,
	// negative never.
	AnonymousTimeout time.Duration
	// Logf receives diagnostics; nil means the standard logger.
	Logf func(format string, args ...any)

	mu        sync.Mutex
	slot      *sync.Cond // signalled when a client leaves or limits change
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	closed    bool
	wg        sync.WaitGroup
	nextID    uint64
	limitsSet bool
	maxCli    int // max_clients
	maxAnon   int // max_anonymous_clients, 0 = no limit
	nAnon     int // clients that have not opened yet
	workers   WorkerParams
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("rpc: server closed")

// NewServer returns a Server with libvirt-like defaults.
func NewServer(newHandler func(*Conn) Handler) *Server {
	return &Server{NewHandler: newHandler}
}

// Serve accepts on ln with a new Server until ln fails.
func Serve(ln net.Listener, newHandler func(*Conn) Handler) error {
	return NewServer(newHandler).Serve(ln)
}

func (s *Server) maxRequests() int {
	if s.MaxRequests > 0 {
		return s.MaxRequests
	}
	return DefaultMaxClientRequests
}

func (s *Server) maxQueuedFrames() int {
	if s.MaxQueuedMessages > 0 {
		return s.MaxQueuedMessages
	}
	return 4096
}

func (s *Server) outBytes() int {
	if s.MaxQueuedBytes > 0 {
		return s.MaxQueuedBytes
	}
	return 4 << 20
}

func (s *Server) inBytes() int {
	if s.MaxInputBytes > 0 {
		return s.MaxInputBytes
	}
	return MessageMax
}

func (s *Server) stallTimeout() time.Duration {
	if s.StallTimeout == 0 {
		return DefaultStallTimeout
	}
	return s.StallTimeout
}

func (s *Server) anonTimeout() time.Duration {
	if s.AnonymousTimeout == 0 {
		return DefaultAnonymousTimeout
	}
	return s.AnonymousTimeout
}

func (s *Server) serves(prog, vers uint32) bool {
	progs := s.Programs
	if progs == nil {
		progs = DefaultPrograms
	}
	for _, p := range progs {
		if p.Prog == prog && p.Vers == vers {
			return true
		}
	}
	return false
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// initLocked fills the defaults the first time the server is used.
func (s *Server) initLocked() {
	if s.slot == nil {
		s.slot = sync.NewCond(&s.mu)
	}
	if !s.limitsSet {
		s.limitsSet = true
		s.maxCli, s.maxAnon = DefaultMaxClients, DefaultMaxAnonymousClients
		s.workers = DefaultWorkerParams
	}
	if s.conns == nil {
		s.conns = map[*Conn]struct{}{}
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
}

// roomLocked is libvirt's virNetServerCheckLimits: a client may be taken
// in only if neither max_clients nor max_anonymous_clients would be
// exceeded by it.
func (s *Server) roomLocked() bool {
	return len(s.conns) < s.maxCli && (s.maxAnon == 0 || s.nAnon < s.maxAnon)
}

// Serve accepts connections on ln until the server is closed; the
// service's transport is taken from the listener's kind.
func (s *Server) Serve(ln net.Listener) error {
	svc := Service{Transport: TransportTCP}
	if _, ok := ln.(*net.UnixListener); ok {
		svc.Transport = TransportUnix
	}
	return s.ServeService(ln, svc)
}

// ServeService accepts connections on ln until the server is closed or ln
// is closed. Accept errors (out of descriptors, aborted connections) are
// logged and retried with a growing pause, as net/http does, so running
// out of descriptors never ends the daemon. At the client limits the
// accepted connection is held, unserved, until a slot frees: as libvirt,
// which stops polling its listeners, excess clients wait rather than
// being dropped, and the backlog stays in the kernel.
func (s *Server) ServeService(ln net.Listener, svc Service) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.initLocked()
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			s.logf("rpc: accept on %v: %v; retrying in %v", ln.Addr(), err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if s.Admit != nil {
			if err := s.Admit(nc); err != nil {
				s.logf("rpc: refusing client %v: %v", nc.RemoteAddr(), err)
				nc.Close()
				continue
			}
		}
		s.mu.Lock()
		waited := false
		for !s.closed && !s.roomLocked() {
			if !waited {
				s.logf("rpc: server %s at its client limits (%d clients, %d anonymous); not accepting", s.Name, len(s.conns), s.nAnon)
				waited = true
			}
			s.slot.Wait()
		}
		s.mu.Unlock()
		if waited {
			s.logf("rpc: server %s accepting clients again", s.Name)
		}
		s.serveConn(nc, svc)
	}
}

// ServeConn runs a connection in the background and returns it; it is
// closed immediately if the server is already closed. It does not wait
// for the client limits (the caller already holds the connection).
func (s *Server) ServeConn(nc net.Conn) *Conn {
	svc := Service{Transport: TransportTCP}
	if _, ok := nc.(*net.UnixConn); ok {
		svc.Transport = TransportUnix
	}
	return s.serveConn(nc, svc)
}

func (s *Server) serveConn(nc net.Conn, svc Service) *Conn {
	c := newConn(s, nc, svc)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.closeWith(ErrServerClosed)
		return c
	}
	s.initLocked()
	s.nextID++
	c.id = s.nextID
	s.conns[c] = struct{}{}
	s.nAnon++
	s.wg.Add(1)
	s.mu.Unlock()
	if t := s.anonTimeout(); t > 0 {
		c.anonTimer.Store(time.AfterFunc(t, func() {
			if !c.authed.Load() {
				s.logf("rpc: dropping client %v: no connection opened in %v", nc.RemoteAddr(), t)
				c.closeWith(ErrAnonymousTimeout)
			}
		}))
	}
	s.logf("rpc: client %d connected to %s from %v", c.id, s.Name, nc.RemoteAddr())
	// The handler is made before any frame is read so that it exists for
	// the whole life of the connection.
	c.handler = s.NewHandler(c)
	go func() {
		defer s.wg.Done()
		c.serve()
		s.logf("rpc: client %d of %s gone: %v", c.id, s.Name, c.Err())
		s.mu.Lock()
		delete(s.conns, c)
		if !c.authed.Load() {
			s.nAnon--
		}
		c.gone = true
		s.slot.Broadcast()
		s.mu.Unlock()
	}()
	return c
}

// authenticated moves c out of the anonymous count; called once, when its
// connection is opened.
func (s *Server) authenticated(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gone || !c.authed.CompareAndSwap(false, true) {
		return
	}
	s.nAnon--
	s.slot.Broadcast()
}

// Conns returns a snapshot of the open connections, oldest first.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Conn returns the open connection with the given id, or nil.
func (s *Server) Conn(id uint64) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.id == id {
			return c
		}
	}
	return nil
}

// Close stops all listeners, drops every connection and waits until each
// connection's handler has seen Closed. Handlers still running get their
// context cancelled; Close waits for them too.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.slot != nil {
		s.slot.Broadcast()
	}
	for ln := range s.listeners {
		_ = ln.Close()
	}
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(ErrServerClosed)
	}
	s.wg.Wait()
	return nil
}
