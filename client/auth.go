package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/rpc/sasl"
	"govirt/virerr"
)

// Authentication as libvirt's remote driver does it (remoteAuthenticate,
// remoteAuthSASL): AUTH_LIST, then the scheme the URI's auth= asks for or
// the server's first, SASL with credentials from auth.conf only (the
// daemon's own connections have no one to prompt, as
// qemuMigrationSrcPerformPeer2Peer's virConnectAuthConfig). It runs
// before the client's reader starts, on the bare connection, so that a
// security layer negotiated at the end wraps every byte after the last
// reply and none before.

// remote_auth_type.
const (
	authSASL   = 1
	authPolkit = 2
)

// REMOTE_AUTH_SASL_DATA_MAX.
const saslDataMax = 65536

type (
	saslInitRet   struct{ Mechlist string }
	saslStartArgs struct {
		Mech string
		Nil  int32
		Data []int32
	}
	saslStepArgs struct {
		Nil  int32
		Data []int32
	}
	saslStepRet struct {
		Complete int32
		Nil      int32
		Data     []int32
	}
)

// authParams are the parts of the URI authentication reads.
type authParams struct {
	authType string // auth=: "", "sasl", "sasl.MECH", "polkit"
	host     string // the URI's server, for auth.conf and DIGEST-MD5
	authfile string
	secure   bool // TLS or a unix socket: no SASL layer needed
}

// syncConn makes calls one at a time on a connection with no reader.
type syncConn struct {
	nc      net.Conn
	serial  uint32
	scratch [rpc.LenSize + rpc.HeaderSize]byte
}

func (s *syncConn) call(proc int32, args, ret any) error {
	s.serial++
	frame, err := rpc.EncodeFrame(nil, rpc.Header{Prog: rpc.ProgramRemote, Vers: rpc.ProtocolVersion, Proc: proc, Type: rpc.TypeCall, Serial: s.serial}, args)
	if err != nil {
		return err
	}
	if _, err := s.nc.Write(frame); err != nil {
		return err
	}
	for {
		// ReadFrame reads exactly one frame: nothing after it is consumed.
		h, body, err := rpc.ReadFrame(s.nc, s.scratch[:])
		if err != nil {
			return err
		}
		if h.Prog == rpc.ProgramKeepalive && h.Proc == rpc.KeepalivePing {
			pong, _ := rpc.EncodeFrame(nil, rpc.Header{Prog: rpc.ProgramKeepalive, Vers: rpc.ProtocolVersion, Proc: rpc.KeepalivePong, Type: rpc.TypeMessage}, nil)
			if _, err := s.nc.Write(pong); err != nil {
				return err
			}
			continue
		}
		if h.Type != rpc.TypeReply || h.Serial != s.serial {
			continue
		}
		return decodeReply(result{h, body}, ret)
	}
}

func errAuth(format string, args ...any) error {
	return virerr.New(virerr.FromRemote, virerr.ErrAuthFailed, format, args...)
}

// authenticate runs the authentication and returns the connection to use
// afterwards (nc itself, or nc wrapped in the SASL layer) and the number
// of serials spent.
func authenticate(ctx context.Context, nc net.Conn, p authParams) (net.Conn, uint32, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
		defer nc.SetDeadline(time.Time{})
	}
	s := &syncConn{nc: nc}
	var list authListRet
	if err := s.call(procs.AuthList, nil, &list); err != nil {
		var ve *virerr.Error
		if errors.As(err, &ve) && ve.Code == virerr.ErrNoSupport {
			return nc, s.serial, nil // an old server
		}
		return nil, 0, err
	}
	if len(list.Types) == 0 {
		return nc, s.serial, nil
	}
	typ := list.Types[0]
	if p.authType != "" {
		want := int32(-1)
		switch {
		case strings.EqualFold(p.authType, "sasl") || len(p.authType) > 5 && strings.EqualFold(p.authType[:5], "sasl."):
			want = authSASL
		case strings.EqualFold(p.authType, "polkit"):
			want = authPolkit
		default:
			return nil, 0, errAuth("unknown authentication type %s", p.authType)
		}
		typ = authNone
		for _, t := range list.Types {
			if t == want {
				typ = want
			}
		}
		if typ == authNone {
			return nil, 0, errAuth("requested authentication type %s rejected", p.authType)
		}
	}
	switch typ {
	case authNone:
		return nc, s.serial, nil
	case authPolkit:
		var ret struct{ Complete int32 }
		return nc, s.serial, s.call(procs.AuthPolkit, nil, &ret)
	case authSASL:
		mech := ""
		if len(p.authType) > 5 {
			mech = p.authType[5:]
		}
		out, err := authSASLRun(s, p, mech)
		return out, s.serial, err
	}
	return nil, 0, errAuth("unsupported authentication type %d", typ)
}

func authSASLRun(s *syncConn, p authParams, wantMech string) (net.Conn, error) {
	var init saslInitRet
	if err := s.call(procs.AuthSaslInit, nil, &init); err != nil {
		return nil, err
	}
	mechlist := init.Mechlist
	if wantMech != "" {
		if !strings.Contains(mechlist, wantMech) {
			return nil, errAuth("SASL mechanism %s not supported by server", wantMech)
		}
		mechlist = wantMech
	}
	mech, err := sasl.ChooseMechanism(mechlist, p.secure)
	if err != nil {
		return nil, virerr.New(virerr.FromRPC, virerr.ErrAuthFailed, "Failed to start SASL negotiation: -4 (%v)", err)
	}
	creds, err := saslCredentials(p)
	if err != nil {
		return nil, err
	}
	cl, err := sasl.NewClient(mech, "libvirt", p.host, creds, p.secure)
	if err != nil {
		return nil, err
	}
	out, err := cl.Start()
	if err != nil {
		return nil, virerr.New(virerr.FromRPC, virerr.ErrAuthFailed, "Failed to start SASL negotiation: %v", err)
	}
	var ret saslStepRet
	if err := s.call(procs.AuthSaslStart, saslStartArgs{Mech: mech, Nil: nilFlag(out), Data: int32sOf(out)}, &ret); err != nil {
		return nil, err
	}
	// The client always takes one step after the server's last message,
	// to check the server's proof (mutual authentication).
	for i := 0; ; i++ {
		var in []byte
		if ret.Nil == 0 {
			in = bytesOf(ret.Data)
		}
		out, done, err := cl.Step(in)
		if err != nil {
			return nil, virerr.New(virerr.FromRPC, virerr.ErrAuthFailed, "Failed to step SASL negotiation: %v", err)
		}
		if done && ret.Complete != 0 {
			break
		}
		if len(out) > saslDataMax {
			return nil, errAuth("SASL negotiation data too long: %d bytes", len(out))
		}
		if i > 8 {
			return nil, errAuth("SASL negotiation does not end")
		}
		ret = saslStepRet{}
		if err := s.call(procs.AuthSaslStep, saslStepArgs{Nil: nilFlag(out), Data: int32sOf(out)}, &ret); err != nil {
			return nil, err
		}
	}
	if p.secure {
		return s.nc, nil
	}
	if ssf := cl.SSF(); ssf < sasl.MinSSF {
		return nil, errAuth("negotiation SSF %d was not strong enough", ssf)
	}
	return &layerConn{Conn: s.nc, l: cl.Layer()}, nil
}

// saslCredentials are the authname and password auth.conf gives the
// URI's host; without them libvirt has nothing else to ask.
func saslCredentials(p authParams) (sasl.Credentials, error) {
	var c sasl.Credentials
	path := authConfigPath(p.authfile)
	if path == "" {
		return c, errAuth("No authentication callback available")
	}
	ac, err := loadAuthConfig(path)
	if err != nil {
		return c, errAuth("cannot read authentication file %s: %v", path, err)
	}
	if c.Authname, err = ac.lookup("libvirt", p.host, "authname"); err != nil {
		return c, err
	}
	if c.Password, err = ac.lookup("libvirt", p.host, "password"); err != nil {
		return c, err
	}
	if c.Authname == "" || c.Password == "" {
		return c, errAuth("No authentication callback available")
	}
	return c, nil
}

func nilFlag(b []byte) int32 {
	if b == nil {
		return 1
	}
	return 0
}

// SASL data travels as XDR chars, one int per byte.
func int32sOf(b []byte) []int32 {
	v := make([]int32, len(b))
	for i, c := range b {
		v[i] = int32(int8(c))
	}
	return v
}

func bytesOf(v []int32) []byte {
	b := make([]byte, len(v))
	for i, c := range v {
		b[i] = byte(c)
	}
	return b
}

// layerConn wraps every byte in the SASL security layer.
type layerConn struct {
	net.Conn
	l     *sasl.Layer
	rmu   sync.Mutex
	plain []byte
	rbuf  []byte
	wmu   sync.Mutex
}

func (c *layerConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.plain) == 0 {
		if c.rbuf == nil {
			c.rbuf = make([]byte, 32<<10)
		}
		n, err := c.Conn.Read(c.rbuf)
		if n > 0 {
			dec, derr := c.l.Decode(c.rbuf[:n])
			if derr != nil {
				return 0, derr
			}
			c.plain = dec
		}
		if err != nil && len(c.plain) == 0 {
			return 0, err
		}
	}
	n := copy(p, c.plain)
	c.plain = c.plain[n:]
	return n, nil
}

func (c *layerConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.Conn.Write(c.l.Encode(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
