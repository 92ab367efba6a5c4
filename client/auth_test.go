package client

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"govirt/rpc"
	"govirt/rpc/procs"
	"govirt/rpc/sasl"
	"govirt/virerr"
)

// saslDaemon is fakeDaemon behind SASL authentication, with the server
// side of rpc/sasl (as remote/proc_auth_sasl.go drives it).
type saslDaemon struct {
	*fakeDaemon
	cfg    *sasl.Config
	secure bool
	mu     sync.Mutex
	sess   *sasl.Session
	log    *[]string
}

func (h *saslDaemon) Call(ctx context.Context, c *rpc.Call) {
	switch c.Proc {
	case procs.AuthList:
		c.Reply(&authListRet{Types: []int32{authSASL}})
	case procs.AuthSaslInit:
		h.mu.Lock()
		h.sess = h.cfg.NewSession(h.secure)
		h.mu.Unlock()
		c.Reply(&saslInitRet{Mechlist: h.sess.Mechanisms()})
	case procs.AuthSaslStart, procs.AuthSaslStep:
		var in []byte
		var out []byte
		var done bool
		var err error
		if c.Proc == procs.AuthSaslStart {
			var a saslStartArgs
			if err := c.Decode(&a); err != nil {
				c.ReplyError(err)
				return
			}
			if a.Nil == 0 {
				in = bytesOf(a.Data)
			}
			out, done, err = h.sess.Start(a.Mech, in)
		} else {
			var a saslStepArgs
			if err := c.Decode(&a); err != nil {
				c.ReplyError(err)
				return
			}
			if a.Nil == 0 {
				in = bytesOf(a.Data)
			}
			out, done, err = h.sess.Step(in)
		}
		if err != nil {
			*h.log = append(*h.log, h.sess.Reason())
			c.ReplyError(virerr.New(virerr.FromRPC, virerr.ErrAuthFailed, "authentication failed"))
			return
		}
		ret := saslStepRet{Nil: nilFlag(out), Data: int32sOf(out)}
		if done {
			ret.Complete = 1
			*h.log = append(*h.log, fmt.Sprintf("%s %s ssf=%d", h.sess.Mechanism(), h.sess.Username(), h.sess.SSF()))
			if l := h.sess.Layer(); l != nil {
				if err := c.ReplyWithLayer(&ret, l); err != nil {
					h.t.Errorf("layer: %v", err)
				}
				return
			}
		}
		c.Reply(&ret)
	default:
		h.fakeDaemon.Call(ctx, c)
	}
}

func startSASLServer(t *testing.T, network string) (addr string, log *[]string) {
	us := sasl.NewUsers()
	if err := us.SetPassword("alice", "secret", "", 0); err != nil {
		t.Fatal(err)
	}
	cfg := &sasl.Config{Users: func() (*sasl.Users, error) { return us, nil }}
	log = new([]string)
	srv := rpc.NewServer(func(c *rpc.Conn) rpc.Handler {
		return &saslDaemon{fakeDaemon: &fakeDaemon{conn: c, t: t}, cfg: cfg, secure: network == "unix", log: log}
	})
	srv.Logf = t.Logf
	var ln net.Listener
	var err error
	svc := rpc.Service{Transport: rpc.TransportTCP, Auth: rpc.AuthSASL}
	if network == "unix" {
		ln, err = net.Listen("unix", filepath.Join(t.TempDir(), "sock"))
		svc.Transport = rpc.TransportUnix
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeService(ln, svc)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), log
}

func writeAuth(t *testing.T, host, user, password string) {
	path := filepath.Join(t.TempDir(), "auth.conf")
	text := fmt.Sprintf("[credentials-c]\nauthname=%s\npassword=%s\n[auth-libvirt-%s]\ncredentials=c\n", user, password, host)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LIBVIRT_AUTH_FILE", path)
}

// TestSASLDial: the client logs in with auth.conf's credentials:
// SCRAM-SHA-256 on a unix socket, DIGEST-MD5 with its layer on TCP (large
// messages then cross many layer packets both ways); wrong and missing
// credentials fail with libvirt's errors.
func TestSASLDial(t *testing.T) {
	unixAddr, ulog := startSASLServer(t, "unix")
	tcpAddr, tlog := startSASLServer(t, "tcp")
	writeAuth(t, "localhost", "alice", "secret")
	c, err := Dial("test+unix:///default?socket=" + unixAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c, err = Dial("test+unix:///default?socket=" + unixAddr + "&auth=sasl.PLAIN"); err != nil {
		t.Fatalf("PLAIN on the unix socket: %v", err)
	}
	c.Close()
	writeAuth(t, "127.0.0.1", "alice", "secret")
	c, err = Dial("test+tcp://" + tcpAddr + "/default")
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 300<<10)
	for i := 0; i < 3; i++ {
		var r echo
		if err := c.Call(context.Background(), procEcho, &echo{big, int32(i)}, &r); err != nil || r.S != big || r.N != int32(i+1) {
			t.Fatalf("echo over the layer: %v %d", err, len(r.S))
		}
	}
	c.Close()
	if fmt.Sprint(*ulog) != "[SCRAM-SHA-256 alice ssf=0 PLAIN alice ssf=0]" || fmt.Sprint(*tlog) != "[DIGEST-MD5 alice ssf=128]" {
		t.Errorf("logins: %v %v", *ulog, *tlog)
	}
	// auth=sasl.MECH.
	if _, err := Dial("test+tcp://" + tcpAddr + "/default?auth=sasl.SCRAM-SHA-256"); err == nil ||
		err.Error() != "authentication failed: SASL mechanism SCRAM-SHA-256 not supported by server" {
		t.Errorf("SCRAM on TCP: %v", err)
	}
	if _, err := Dial("test+tcp://" + tcpAddr + "/default?auth=polkit"); err == nil ||
		err.Error() != "authentication failed: requested authentication type polkit rejected" {
		t.Errorf("polkit: %v", err)
	}
	writeAuth(t, "127.0.0.1", "alice", "wrong")
	if _, err := Dial("test+tcp://" + tcpAddr + "/default"); err == nil || err.Error() != "authentication failed: authentication failed" {
		t.Errorf("wrong password: %v", err)
	}
	writeAuth(t, "elsewhere", "alice", "secret")
	if _, err := Dial("test+tcp://" + tcpAddr + "/default"); err == nil ||
		err.Error() != "authentication failed: No authentication callback available" {
		t.Errorf("no credentials: %v", err)
	}
}
