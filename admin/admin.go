// Package admin serves libvirt's ADMIN program (admin_protocol.x), which
// virt-admin speaks on the daemon's admin socket: the daemon's servers,
// their client limits and thread pool settings, their clients, logging and
// the idle shutdown timeout.
package admin

import (
	"context"
	"fmt"
	"net"
	"os/user"
	"strconv"

	"govirt/protocol/adminwire"
	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// Daemon is what the admin program manages.
type Daemon struct {
	// Servers in the order srv-list shows them.
	Servers []*rpc.Server
	// Log is the daemon's logging; nil refuses the logging procedures.
	Log *LogControl
	// SetTimeout sets the idle shutdown timeout in seconds (0: never).
	SetTimeout func(seconds uint32) error
	// LibVersion is reported by CONNECT_GET_LIB_VERSION.
	LibVersion uint64
}

// Programs is what an admin server dispatches.
var Programs = []rpc.Program{{Prog: rpc.ProgramAdmin, Vers: rpc.ProtocolVersion}}

// AdmitOwner refuses peers whose uid is not the daemon's, as libvirt's
// admin server does on top of the socket's 0700 mode.
func AdmitOwner(euid int) func(net.Conn) error {
	return func(nc net.Conn) error {
		cred, err := rpc.PeerCredOf(nc)
		if err != nil {
			return err
		}
		if int(cred.UID) != euid {
			return fmt.Errorf("disallowing client %d with uid %d", cred.PID, cred.UID)
		}
		return nil
	}
}

// NewHandler is the rpc handler factory for the admin server.
func (d *Daemon) NewHandler(c *rpc.Conn) rpc.Handler { return &handler{d: d, conn: c} }

type handler struct {
	d    *Daemon
	conn *rpc.Conn
}

func (h *handler) Closed() {}

// admin procedures decode into args and return a reply value.
type procFunc func(h *handler, c *rpc.Call) (any, error)

var table = map[int32]procFunc{
	procs.AdminConnectOpen:                   (*handler).connectOpen,
	procs.AdminConnectClose:                  (*handler).connectClose,
	procs.AdminConnectGetLibVersion:          (*handler).getLibVersion,
	procs.AdminConnectListServers:            (*handler).listServers,
	procs.AdminConnectLookupServer:           (*handler).lookupServer,
	procs.AdminServerGetThreadpoolParameters: (*handler).getThreadpool,
	procs.AdminServerSetThreadpoolParameters: (*handler).setThreadpool,
	procs.AdminServerListClients:             (*handler).listClients,
	procs.AdminServerLookupClient:            (*handler).lookupClient,
	procs.AdminClientGetInfo:                 (*handler).clientInfo,
	procs.AdminClientClose:                   (*handler).clientClose,
	procs.AdminServerGetClientLimits:         (*handler).getClientLimits,
	procs.AdminServerSetClientLimits:         (*handler).setClientLimits,
	procs.AdminConnectGetLoggingOutputs:      (*handler).getOutputs,
	procs.AdminConnectGetLoggingFilters:      (*handler).getFilters,
	procs.AdminConnectSetLoggingOutputs:      (*handler).setOutputs,
	procs.AdminConnectSetLoggingFilters:      (*handler).setFilters,
	procs.AdminServerUpdateTlsFiles:          (*handler).updateTLSFiles,
	procs.AdminConnectSetDaemonTimeout:       (*handler).setDaemonTimeout,
}

func (h *handler) Call(_ context.Context, c *rpc.Call) {
	fn, ok := table[c.Proc]
	if c.Prog != rpc.ProgramAdmin || !ok {
		_ = c.ReplyUnknownProc()
		return
	}
	ret, err := fn(h, c)
	switch {
	case c.Replied():
	case err != nil:
		_ = c.ReplyError(virerr.From(err))
	default:
		_ = c.Reply(ret)
	}
}

// checkFlags is virCheckFlags(0): no admin procedure takes flags.
func checkFlags(flags uint32) error {
	if flags != 0 {
		return virerr.New(virerr.FromAdmin, virerr.ErrInvalidArg, "unsupported flags (0x%x) in function %s", flags, "admin")
	}
	return nil
}

func decode[T any](c *rpc.Call) (*T, error) {
	var a T
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	return &a, nil
}

func (h *handler) server(name string) (*rpc.Server, error) {
	for _, s := range h.d.Servers {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, virerr.New(virerr.FromRPC, virerr.ErrNoServer, "No server named '%s'", name)
}

// serverForSet is the lookup of the procedures whose libvirt dispatcher
// reports its own message when the server is missing.
func (h *handler) serverForSet(name string) (*rpc.Server, error) {
	s, err := h.server(name)
	if err != nil {
		return nil, virerr.New(virerr.FromAdmin, virerr.ErrNoServer, "no server with matching name '%s' found", name)
	}
	return s, nil
}

func (h *handler) connectOpen(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ConnectOpenArgs](c)
	if err != nil {
		return nil, err
	}
	return nil, checkFlags(a.Flags)
}

// connectClose only answers: virt-admin hangs up itself right after.
func (h *handler) connectClose(c *rpc.Call) (any, error) {
	return nil, nil
}

func (h *handler) getLibVersion(c *rpc.Call) (any, error) {
	return &adminwire.ConnectGetLibVersionRet{LibVer: h.d.LibVersion}, nil
}

func (h *handler) listServers(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ConnectListServersArgs](c)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	ret := &adminwire.ConnectListServersRet{Ret: uint32(len(h.d.Servers))}
	if a.NeedResults != 0 {
		for _, s := range h.d.Servers {
			ret.Servers = append(ret.Servers, adminwire.NonnullServer{Name: s.Name})
		}
	}
	return ret, nil
}

func (h *handler) lookupServer(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ConnectLookupServerArgs](c)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	s, err := h.server(a.Name)
	if err != nil {
		return nil, err
	}
	return &adminwire.ConnectLookupServerRet{Srv: adminwire.NonnullServer{Name: s.Name}}, nil
}

func (h *handler) getThreadpool(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ServerGetThreadpoolParametersArgs](c)
	if err != nil {
		return nil, err
	}
	s, err := h.server(a.Srv.Name)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	p := s.ThreadPool()
	return &adminwire.ServerGetThreadpoolParametersRet{Params: []adminwire.TypedParam{
		{Field: "minWorkers", Value: p.Min},
		{Field: "maxWorkers", Value: p.Max},
		{Field: "nWorkers", Value: p.Workers},
		{Field: "freeWorkers", Value: p.Free},
		{Field: "prioWorkers", Value: p.Prio},
		{Field: "jobQueueDepth", Value: p.JobQueueDepth},
	}}, nil
}

func (h *handler) setThreadpool(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ServerSetThreadpoolParametersArgs](c)
	if err != nil {
		return nil, err
	}
	s, err := h.serverForSet(a.Srv.Name)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	v, err := uintParams(a.Params, adminwire.AdminServerThreadpoolParametersMax, "minWorkers", "maxWorkers", "prioWorkers")
	if err != nil {
		return nil, err
	}
	return nil, s.SetThreadPool(v[0], v[1], v[2])
}

func (h *handler) getClientLimits(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ServerGetClientLimitsArgs](c)
	if err != nil {
		return nil, err
	}
	s, err := h.server(a.Srv.Name)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	l := s.ClientLimits()
	return &adminwire.ServerGetClientLimitsRet{Params: []adminwire.TypedParam{
		{Field: "nclients_max", Value: l.MaxClients},
		{Field: "nclients", Value: l.Clients},
		{Field: "nclients_unauth_max", Value: l.MaxAnonymousClients},
		{Field: "nclients_unauth", Value: l.Anonymous},
	}}, nil
}

func (h *handler) setClientLimits(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ServerSetClientLimitsArgs](c)
	if err != nil {
		return nil, err
	}
	s, err := h.serverForSet(a.Srv.Name)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	v, err := uintParams(a.Params, adminwire.AdminServerClientLimitsMax, "nclients_max", "nclients_unauth_max")
	if err != nil {
		return nil, err
	}
	return nil, s.SetClientLimits(v[0], v[1])
}

// uintParams is virTypedParamsDeserialize plus virTypedParamsValidate for
// a set of unsigned int parameters; absent ones come back as -1.
func uintParams(ps []adminwire.TypedParam, limit int, names ...string) ([]int64, error) {
	if len(ps) > limit {
		return nil, virerr.New(virerr.FromRPC, virerr.ErrRPC, "too many parameters '%d' for limit '%d'", len(ps), limit)
	}
	out := make([]int64, len(names))
	for i := range out {
		out[i] = -1
	}
	for _, p := range ps {
		i := -1
		for j, n := range names {
			if n == p.Field {
				i = j
			}
		}
		if i < 0 {
			return nil, virerr.New(virerr.FromNone, virerr.ErrArgumentUnsupported, "parameter '%s' not supported", p.Field)
		}
		if out[i] >= 0 {
			return nil, virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "parameter '%s' occurs multiple times", p.Field)
		}
		u, ok := p.Value.(uint32)
		if !ok {
			return nil, virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "invalid type '%s' for parameter '%s', expected '%s'", paramTypeName(p.Value), p.Field, "uint")
		}
		out[i] = int64(u)
	}
	return out, nil
}

func paramTypeName(v any) string {
	switch v.(type) {
	case int32:
		return "int"
	case uint32:
		return "uint"
	case int64:
		return "llong"
	case uint64:
		return "ullong"
	case float64:
		return "double"
	case bool:
		return "boolean"
	case string:
		return "string"
	}
	return "unknown"
}

func (h *handler) client(srv adminwire.NonnullServer, id uint64, set bool) (*rpc.Conn, error) {
	var s *rpc.Server
	var err error
	if set {
		s, err = h.serverForSet(srv.Name)
	} else {
		s, err = h.server(srv.Name)
	}
	if err != nil {
		return nil, err
	}
	c := s.Conn(id)
	if c == nil {
		if set {
			return nil, virerr.New(virerr.FromAdmin, virerr.ErrNoClient, "no client with matching id '%d' found", id)
		}
		return nil, virerr.New(virerr.FromRPC, virerr.ErrNoClient, "No client with matching ID '%d'", id)
	}
	return c, nil
}

func makeClient(srv string, c *rpc.Conn) adminwire.NonnullClient {
	return adminwire.NonnullClient{Srv: adminwire.NonnullServer{Name: srv}, ID: c.ID(), Timestamp: c.ConnectedAt().Unix(), Transport: uint32(c.Transport())}
}

func (h *handler) listClients(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ServerListClientsArgs](c)
	if err != nil {
		return nil, err
	}
	s, err := h.server(a.Srv.Name)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	conns := s.Conns()
	if len(conns) > adminwire.AdminClientListMax {
		return nil, virerr.New(virerr.FromAdmin, virerr.ErrInternalError, "Too many clients '%d' for limit '%d'", len(conns), adminwire.AdminClientListMax)
	}
	ret := &adminwire.ServerListClientsRet{Ret: uint32(len(conns))}
	if a.NeedResults != 0 {
		for _, cl := range conns {
			ret.Clients = append(ret.Clients, makeClient(s.Name, cl))
		}
	}
	return ret, nil
}

func (h *handler) lookupClient(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ServerLookupClientArgs](c)
	if err != nil {
		return nil, err
	}
	cl, err := h.client(a.Srv, a.ID, false)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	return &adminwire.ServerLookupClientRet{Clnt: makeClient(a.Srv.Name, cl)}, nil
}

func (h *handler) clientInfo(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ClientGetInfoArgs](c)
	if err != nil {
		return nil, err
	}
	cl, err := h.client(a.Clnt.Srv, a.Clnt.ID, true)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	return &adminwire.ClientGetInfoRet{Params: clientParams(cl)}, nil
}

// clientParams is adminClientGetInfo's list: readonly, then the socket
// address (and certificate name) of a remote client or the identity of a
// local one.
func clientParams(cl *rpc.Conn) []adminwire.TypedParam {
	ps := []adminwire.TypedParam{{Field: "readonly", Value: cl.ReadOnly()}}
	if u := cl.Identity().SASLUser; u != "" {
		ps = append(ps, adminwire.TypedParam{Field: "sasl_user_name", Value: u})
	}
	if cl.Transport() != rpc.TransportUnix {
		ps = append(ps, adminwire.TypedParam{Field: "sock_addr", Value: cl.RemoteAddr().String()})
		if d, ok := cl.NetConn().(interface{ DN() string }); ok && d.DN() != "" {
			ps = append(ps, adminwire.TypedParam{Field: "tls_x509_dname", Value: d.DN()})
		}
		return ps
	}
	cred, err := rpc.PeerCredOf(cl.NetConn())
	if err != nil {
		return ps
	}
	ps = append(ps, adminwire.TypedParam{Field: "unix_user_id", Value: int32(cred.UID)})
	if u, err := user.LookupId(strconv.FormatUint(uint64(cred.UID), 10)); err == nil {
		ps = append(ps, adminwire.TypedParam{Field: "unix_user_name", Value: u.Username})
	}
	ps = append(ps, adminwire.TypedParam{Field: "unix_group_id", Value: int32(cred.GID)})
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(cred.GID), 10)); err == nil {
		ps = append(ps, adminwire.TypedParam{Field: "unix_group_name", Value: g.Name})
	}
	ps = append(ps, adminwire.TypedParam{Field: "unix_process_id", Value: cred.PID})
	return ps
}

func (h *handler) clientClose(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ClientCloseArgs](c)
	if err != nil {
		return nil, err
	}
	cl, err := h.client(a.Clnt.Srv, a.Clnt.ID, false)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	if cl == h.conn {
		// Closing ourselves: answer first, then go.
		_ = c.Reply(nil)
		cl.Close()
		return nil, nil
	}
	cl.Close()
	return nil, nil
}

func (h *handler) logControl() (*LogControl, error) {
	if h.d.Log == nil {
		return nil, virerr.New(virerr.FromAdmin, virerr.ErrNoSupport, "%s", "logging is not configurable")
	}
	return h.d.Log, nil
}

func (h *handler) getOutputs(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ConnectGetLoggingOutputsArgs](c)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	lc, err := h.logControl()
	if err != nil {
		return nil, err
	}
	s, n := lc.Outputs()
	return &adminwire.ConnectGetLoggingOutputsRet{Outputs: s, Noutputs: uint32(n)}, nil
}

func (h *handler) getFilters(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ConnectGetLoggingFiltersArgs](c)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	lc, err := h.logControl()
	if err != nil {
		return nil, err
	}
	s, n := lc.Filters()
	ret := &adminwire.ConnectGetLoggingFiltersRet{Nfilters: uint32(n)}
	if n > 0 {
		ret.Filters = &s
	}
	return ret, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (h *handler) setOutputs(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ConnectSetLoggingOutputsArgs](c)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	lc, err := h.logControl()
	if err != nil {
		return nil, err
	}
	return nil, lc.SetOutputs(deref(a.Outputs))
}

func (h *handler) setFilters(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ConnectSetLoggingFiltersArgs](c)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	lc, err := h.logControl()
	if err != nil {
		return nil, err
	}
	return nil, lc.SetFilters(deref(a.Filters))
}

func (h *handler) updateTLSFiles(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ServerUpdateTlsFilesArgs](c)
	if err != nil {
		return nil, err
	}
	if _, err := h.server(a.Srv.Name); err != nil {
		return nil, err
	}
	return nil, virerr.New(virerr.FromAdmin, virerr.ErrNoSupport, "%s", "virAdmServerUpdateTlsFiles")
}

func (h *handler) setDaemonTimeout(c *rpc.Call) (any, error) {
	a, err := decode[adminwire.ConnectSetDaemonTimeoutArgs](c)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(a.Flags); err != nil {
		return nil, err
	}
	if h.d.SetTimeout == nil {
		return nil, virerr.New(virerr.FromAdmin, virerr.ErrNoSupport, "%s", "virAdmConnectSetDaemonTimeout")
	}
	return nil, h.d.SetTimeout(a.Timeout)
}
