package rpc

import (
	"errors"
	"log"
	"net"
	"sync"
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

// Server accepts connections and runs a Conn for each. Set the optional
// fields before the first Serve.
type Server struct {
	// NewHandler makes the per-connection Handler.
	NewHandler func(*Conn) Handler
	// Programs the handler dispatches; CALLs for others get libvirt's
	// "Cannot find program" error without reaching the handler.
	Programs []Program
	// MaxRequests bounds calls in flight per connection (libvirtd's
	// max_client_requests); the reader stops reading at the limit.
	MaxRequests int
	// MaxQueuedMessages is how many frames may wait for a client before an
	// event push drops it.
	MaxQueuedMessages int
	// MaxQueuedBytes is the backlog at which replies and stream data wait.
	MaxQueuedBytes int
	// Logf receives diagnostics; nil means the standard logger.
	Logf func(format string, args ...any)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	closed    bool
	wg        sync.WaitGroup
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
	return 16
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

// Serve accepts connections on ln until it fails or the server is closed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.ServeConn(nc)
	}
}

// ServeConn runs a connection in the background and returns it; it is
// closed immediately if the server is already closed.
func (s *Server) ServeConn(nc net.Conn) *Conn {
	c := newConn(s, nc)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.closeWith(ErrServerClosed)
		return c
	}
	if s.conns == nil {
		s.conns = map[*Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	// The handler is made before any frame is read so that it exists for
	// the whole life of the connection.
	c.handler = s.NewHandler(c)
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	return c
}

// Conns returns a snapshot of the open connections.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Close stops all listeners, drops every connection and waits until each
// connection's handler has seen Closed. Handlers still running get their
// context cancelled; Close waits for them too.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
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
