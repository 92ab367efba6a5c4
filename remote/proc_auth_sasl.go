package remote

import (
	"sync"

	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/rpc/sasl"
	"govirt/tlsauth"
	"govirt/virerr"
)

// SASLPolicy is the daemon's SASL setup (libvirtd.conf's SASL settings).
type SASLPolicy struct {
	Config *sasl.Config
	// AllowedUsers is sasl_allowed_username_list: globs a user name must
	// match; nil lets every authenticated user in.
	AllowedUsers []string
}

// authSession is a connection's authentication in progress (libvirt's
// daemonClientPrivate sasl field).
type authSession struct {
	mu   sync.Mutex
	sasl *sasl.Session
	// peerLog logs a refused TCP peer once per connection.
	peerLog sync.Once
}

func init() {
	register(false, map[int32]procFunc{procs.AuthSaslInit: authSaslInit, procs.AuthPolkit: authPolkit})
}

// authPolkit is libvirtd's answer on a listener that does not use polkit
// (govirt has none): it logs and fails without setting an error, which
// the RPC layer reports as this internal error.
func authPolkit(h *handler, _ []byte) (any, error) {
	h.srv.log.Error("client tried invalid PolicyKit init request", "client", h.clientAddr())
	return nil, virerr.Raw(virerr.FromRPC, virerr.ErrInternalError, "Library function returned error but did not set virError")
}

// authProcs may run before the client has authenticated, as libvirtd's
// remoteProcs entries with needAuth cleared.
var authProcs = map[int32]bool{
	procs.AuthList: true, procs.AuthSaslInit: true, procs.AuthSaslStart: true,
	procs.AuthSaslStep: true, procs.AuthPolkit: true,
}

// authRequired refuses every call but authentication until the client has
// passed it, with libvirt's VIR_ERR_RPC "authentication required" (not
// VIR_ERR_AUTH_FAILED, for old clients). Unknown procedures are answered
// as such first, as libvirt looks the procedure up before the check.
func (h *handler) authRequired(c *rpc.Call) bool {
	if h.rc != nil && h.peerRefused(c) {
		return true
	}
	if h.rc == nil || !h.rc.NeedsAuth() {
		return false
	}
	if c.Prog == ProgRemote && authProcs[c.Proc] {
		return false
	}
	if procs.NameOf(c.Prog, c.Proc) == "" {
		_ = c.ReplyUnknownProc()
		return true
	}
	_ = c.ReplyError(virerr.New(virerr.FromRPC, virerr.ErrRPC, "authentication required"))
	return true
}

// peerRefused answers every call of a loopback TCP client that the
// kernel's socket table showed to be a user the read-write unix socket
// would not let in (rpc.Service.PeerCheck) with libvirt's
// "authentication failed", the reason going to the log once.
func (h *handler) peerRefused(c *rpc.Call) bool {
	err := h.rc.PeerRefused()
	if err == nil {
		return false
	}
	h.auth.peerLog.Do(func() {
		h.srv.log.Warn("refusing TCP client without authentication", "client", h.clientAddr(), "reason", err.Error())
	})
	if procs.NameOf(c.Prog, c.Proc) == "" {
		_ = c.ReplyUnknownProc()
		return true
	}
	_ = c.ReplyError(errAuthFailed())
	return true
}

// errAuthFailed is what every SASL failure looks like to the client; the
// reason goes to the daemon's log only.
func errAuthFailed() error {
	return virerr.New(virerr.FromRPC, virerr.ErrAuthFailed, "authentication failed")
}

func (h *handler) authFail(stage, why string) error {
	h.srv.log.Warn("SASL authentication failed", "client", h.clientAddr(), "stage", stage, "reason", why)
	return errAuthFailed()
}

func (h *handler) clientAddr() string {
	if h.rc == nil {
		return ""
	}
	return h.rc.RemoteAddr().String()
}

// secure is virNetServerClientIsSecure: TLS and unix sockets need no SASL
// security layer.
func (h *handler) secure() bool {
	return h.rc.Transport() != rpc.TransportTCP
}

func authSaslInit(h *handler, _ []byte) (any, error) {
	h.auth.mu.Lock()
	defer h.auth.mu.Unlock()
	if h.rc == nil || h.rc.ServiceAuth() != rpc.AuthSASL || h.srv.SASL == nil || h.auth.sasl != nil || !h.rc.NeedsAuth() {
		return nil, h.authFail("init", "client tried invalid SASL init request")
	}
	s := h.srv.SASL.Config.NewSession(h.secure())
	list := s.Mechanisms()
	if list == "" {
		return nil, h.authFail("init", "no SASL mechanisms are available")
	}
	h.auth.sasl = s
	return AuthSaslInitRet{Mechlist: list}, nil
}

func bytesOf(v []int32) []byte {
	b := make([]byte, len(v))
	for i, c := range v {
		b[i] = byte(c)
	}
	return b
}

func int32sOf(b []byte) []int32 {
	v := make([]int32, len(b))
	for i, c := range b {
		v[i] = int32(int8(c))
	}
	return v
}

// saslCall runs START or STEP and answers it; completion checks the user
// list and, on plain TCP, the layer's strength, then marks the client
// authenticated and starts the layer after the reply.
func (h *handler) saslCall(c *rpc.Call, start bool) {
	var in []byte
	var mech string
	if start {
		a, err := args[AuthSaslStartArgs](c.Body)
		if err != nil {
			_ = c.ReplyError(err)
			return
		}
		mech = a.Mech
		if a.Nil == 0 {
			in = bytesOf(a.Data)
		}
	} else {
		a, err := args[AuthSaslStepArgs](c.Body)
		if err != nil {
			_ = c.ReplyError(err)
			return
		}
		if a.Nil == 0 {
			in = bytesOf(a.Data)
		}
	}
	stage := "step"
	if start {
		stage = "start"
	}
	h.auth.mu.Lock()
	defer h.auth.mu.Unlock()
	s := h.auth.sasl
	if h.rc == nil || h.rc.ServiceAuth() != rpc.AuthSASL || s == nil {
		_ = c.ReplyError(h.authFail(stage, "client tried invalid SASL "+stage+" request"))
		return
	}
	var out []byte
	var done bool
	var err error
	if start {
		out, done, err = s.Start(mech, in)
	} else {
		out, done, err = s.Step(in)
	}
	if err == nil && len(out) > RemoteAuthSaslDataMax {
		err = sasl.ErrAuth
	}
	if err != nil {
		h.auth.sasl = nil
		_ = c.ReplyError(h.authFail(stage, s.Reason()))
		return
	}
	ret := AuthSaslStepRet{Nil: 1}
	if out != nil {
		ret.Nil, ret.Data = 0, int32sOf(out)
	}
	if !done {
		h.replySASL(c, start, ret, nil)
		return
	}
	h.auth.sasl = nil
	user := s.Username()
	if !h.secure() && s.SSF() < sasl.MinSSF {
		_ = c.ReplyError(h.authFail(stage, "negotiated SSF was not strong enough"))
		return
	}
	if al := h.srv.SASL.AllowedUsers; al != nil && !tlsauth.MatchDN(user, al) {
		h.srv.log.Error("SASL client identity not allowed by ACL", "client", h.clientAddr(), "identity", user)
		_ = c.ReplyError(errAuthFailed())
		return
	}
	h.rc.SetSASLUser(user)
	h.rc.SetAuthenticated()
	h.srv.log.Info("SASL authentication succeeded", "client", h.clientAddr(), "identity", user, "mechanism", s.Mechanism(), "ssf", s.SSF())
	ret.Complete = 1
	var layer rpc.SecurityLayer
	if l := s.Layer(); l != nil {
		layer = l
	}
	h.replySASL(c, start, ret, layer)
}

func (h *handler) replySASL(c *rpc.Call, start bool, ret AuthSaslStepRet, layer rpc.SecurityLayer) {
	var body any = ret
	if start {
		body = AuthSaslStartRet(ret)
	}
	if layer == nil {
		_ = c.Reply(body)
		return
	}
	if err := c.ReplyWithLayer(body, layer); err != nil {
		h.srv.log.Warn("SASL security layer failed to start", "client", h.clientAddr(), "err", err)
		_ = h.rc.Close()
	}
}
