// Package remote maps libvirt's REMOTE program onto the driver interfaces:
// one function per procedure, plus the read-only and connection checks
// every procedure shares.
package remote

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"govirt/access"
	"govirt/driver"
	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// Program numbers.
const (
	ProgRemote = procs.ProgramRemote
	ProgQEMU   = procs.ProgramQemu
)

// Server holds what all client connections share.
type Server struct {
	// SASL is the SASL setup for listeners with auth "sasl" (nil: none).
	SASL *SASLPolicy

	drivers []driver.Driver
	log     *slog.Logger
	// LibVersion is what CONNECT_GET_LIB_VERSION reports; clients gate
	// features on it, so it claims the libvirt release we speak.
	LibVersion uint64
	// access decides the access checks (acl.go); nil allows everything.
	access *access.Manager
}

// NewServer dispatches to drivers in order; the first whose Open claims a
// URI serves it.
func NewServer(log *slog.Logger, drivers ...driver.Driver) *Server {
	return &Server{drivers: drivers, log: log, LibVersion: 9000000}
}

// session is one client connection's dispatch state.
type session struct {
	srv      *Server
	peer     eventSink
	rc       *rpc.Conn
	readOnly bool // set by the socket or by CONNECT_OPEN's read-only flag

	mu  sync.Mutex
	drv driver.Conn
	cbs callbacks
	// setIdent is the identity CONNECT_SET_IDENTITY gave the client, which
	// replaces its socket's for the access checks; guarded by mu.
	setIdent *rpc.Identity

	auth authSession // SASL negotiation in progress
}

// handler is a session as one call sees it: the connection's handler has
// no call; Call makes one per call carrying the call's context (ended
// when the client goes away) and the dispatcher's name for it, which
// drivers that take jobs report as the job's owner, as libvirt does.
type handler struct {
	*session
	ctx    context.Context
	holder string
}

// forCall is h scoped to one call of procedure proc of program prog.
func (h *handler) forCall(ctx context.Context, prog uint32, proc int32) *handler {
	return &handler{session: h.session, ctx: ctx, holder: dispatcherName(prog, proc)}
}

// dispatcherName is libvirtd's name of the function serving a procedure
// (remoteDispatchDomainSuspend, qemuDispatchDomainMonitorCommand), which
// libvirt shows as the owner of the job a call holds.
func dispatcherName(prog uint32, proc int32) string {
	name, prefix := procs.NameOf(prog, proc), ""
	switch prog {
	case ProgRemote:
		name, prefix = strings.TrimPrefix(name, "REMOTE_PROC_"), "remoteDispatch"
	case ProgQEMU:
		name, prefix = strings.TrimPrefix(name, "QEMU_PROC_"), "qemuDispatch"
	default:
		return ""
	}
	if name == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(prefix)
	for _, w := range strings.Split(name, "_") {
		if w == "" {
			continue
		}
		b.WriteString(w[:1])
		b.WriteString(strings.ToLower(w[1:]))
	}
	return b.String()
}

// eventSink sends unsolicited messages (events) to the client.
type eventSink interface {
	SendEvent(prog uint32, proc int32, body any) error
}

// procFunc decodes its arguments from body and returns the reply value.
type procFunc func(h *handler, body []byte) (any, error)

type procEntry struct {
	fn procFunc
	// open is false for the few procedures valid before CONNECT_OPEN.
	needOpen bool
}

var table = map[int32]procEntry{}

// register adds procedures to the table; each area's file calls it from init.
func register(needOpen bool, m map[int32]procFunc) {
	for k, fn := range m {
		if _, dup := table[k]; dup {
			panic(fmt.Sprintf("procedure %d registered twice", k))
		}
		table[k] = procEntry{fn: fn, needOpen: needOpen}
	}
}

// dispatch runs one REMOTE call. ok is false for an unknown procedure.
func (h *handler) dispatch(proc int32, body []byte) (ret any, err error, ok bool) {
	e, ok := table[proc]
	if !ok {
		return nil, nil, false
	}
	if e.needOpen && h.conn() == nil {
		return nil, virerr.New(virerr.FromRPC, virerr.ErrInternalError, "connection not open"), true
	}
	if err := h.readOnlyDenied(ProgRemote, proc, body); err != nil {
		return nil, err, true
	}
	ret, err = e.fn(h, body)
	if err == nil && h.acl().Enabled() {
		ret, err = h.aclAfter(proc, body, ret)
	}
	if err == errNoSupport {
		err = virerr.New(virerr.FromNone, virerr.ErrNoSupport, "%s", apiName(proc))
	}
	return ret, err, true
}

func (h *handler) conn() driver.Conn {
	h.mu.Lock()
	c := h.drv
	h.mu.Unlock()
	if s, ok := c.(driver.CallScoper); ok && h.ctx != nil {
		return s.ForCall(h.ctx, h.holder)
	}
	return c
}

func (h *handler) isReadOnly() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.readOnly
}

// open finds the driver for uri and binds it to the connection.
func (h *handler) open(rawURI string, readOnly bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.drv != nil {
		return virerr.New(virerr.FromRPC, virerr.ErrInternalError, "connection already open")
	}
	if rawURI == "" {
		rawURI = "qemu:///system"
	}
	u, err := url.Parse(rawURI)
	if err != nil {
		return virerr.New(virerr.FromURI, virerr.ErrInvalidArg, "Unable to parse URI %s", rawURI)
	}
	ro := readOnly || h.readOnly
	for _, d := range h.srv.drivers {
		c, err := d.Open(u, ro)
		if err != nil {
			return err
		}
		if c != nil {
			h.drv = c
			h.readOnly = ro
			return nil
		}
	}
	return virerr.New(virerr.FromNone, virerr.ErrNoConnect, "%s", rawURI)
}

// close releases the driver connection and event callbacks.
func (h *handler) close() {
	h.cbs.closeAll()
	h.mu.Lock()
	c := h.drv
	h.drv = nil
	h.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// need returns the connection's driver as capability T, or libvirt's
// "not supported" error.
func need[T any](h *handler) (T, error) {
	var zero T
	c := h.conn()
	if c == nil {
		return zero, virerr.New(virerr.FromRPC, virerr.ErrInternalError, "connection not open")
	}
	t, ok := c.(T)
	if !ok {
		return zero, errNoSupport
	}
	return t, nil
}

// errNoSupport is replaced by dispatch with libvirt's message naming the
// public API of the procedure.
var errNoSupport = &virerr.Error{Code: virerr.ErrNoSupport, Domain: virerr.FromNone, Message: "no support"}
