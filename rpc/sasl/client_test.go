package sasl

import (
	"bytes"
	"errors"
	"testing"
)

func TestChooseMechanism(t *testing.T) {
	for _, tc := range []struct {
		list   string
		secure bool
		want   string
	}{
		{"SCRAM-SHA-256,SCRAM-SHA-1,DIGEST-MD5,PLAIN", true, MechSCRAMSHA256},
		// As cyrus: the order matters, SCRAM adds no layer over DIGEST-MD5.
		{"PLAIN,DIGEST-MD5,SCRAM-SHA-1,SCRAM-SHA-256", true, MechDigestMD5},
		{"PLAIN,SCRAM-SHA-1,SCRAM-SHA-256", true, MechSCRAMSHA1},
		{"PLAIN DIGEST-MD5", true, MechDigestMD5},
		{"GSSAPI,PLAIN", true, MechPlain},
		{"SCRAM-SHA-256,SCRAM-SHA-1,DIGEST-MD5,PLAIN", false, MechDigestMD5},
		{"DIGEST-MD5", false, MechDigestMD5},
		{"scram-sha-256", true, MechSCRAMSHA256},
		{"SCRAM-SHA-256,PLAIN", false, ""},
		{"GSSAPI", true, ""},
		{"", true, ""},
	} {
		got, err := ChooseMechanism(tc.list, tc.secure)
		if got != tc.want || (tc.want == "") != errors.Is(err, ErrNoMechanism) {
			t.Errorf("%q secure=%v: %q %v, want %q", tc.list, tc.secure, got, err, tc.want)
		}
	}
}

// login runs a client session against a server session as libvirt's
// remoteAuthSASL drives them, and returns both.
func login(t *testing.T, cfg *Config, mech string, creds Credentials, secure bool) (*ClientSession, *Session, error) {
	t.Helper()
	cl, err := NewClient(mech, "libvirt", "host", creds, secure)
	if err != nil {
		t.Fatal(err)
	}
	srv := cfg.NewSession(secure)
	out, err := cl.Start()
	if err != nil {
		return cl, srv, err
	}
	in, complete, err := srv.Start(mech, out)
	if err != nil {
		return cl, srv, err
	}
	for i := 0; i < 5; i++ {
		out, done, err := cl.Step(in)
		if err != nil {
			return cl, srv, err
		}
		if done && complete {
			return cl, srv, nil
		}
		if complete {
			t.Fatalf("%s: the server completed and the client wants more", mech)
		}
		in, complete, err = srv.Step(out)
		if err != nil {
			return cl, srv, err
		}
	}
	t.Fatalf("%s: no end", mech)
	return nil, nil, nil
}

func TestClientAgainstServer(t *testing.T) {
	us := usersWith(t, "alice", "s3cr=t,x", "")
	if err := us.SetPassword("a=b,c", "pw", "", 0); err != nil {
		t.Fatal(err)
	}
	cfg := config(us)
	for _, mech := range []string{MechSCRAMSHA256, MechSCRAMSHA1, MechDigestMD5, MechPlain} {
		cl, srv, err := login(t, cfg, mech, Credentials{Authname: "alice", Password: "s3cr=t,x"}, true)
		if err != nil || srv.Username() != "alice" || cl.Layer() != nil {
			t.Errorf("%s: %v (%s) user %q", mech, err, srv.Reason(), srv.Username())
		}
		_, srv, err = login(t, cfg, mech, Credentials{Authname: "alice", Password: "wrong"}, true)
		if !errors.Is(err, ErrAuth) {
			t.Errorf("%s with a wrong password: %v", mech, err)
		}
		t.Logf("%s wrong password: %s", mech, srv.Reason())
	}
	// Names with SCRAM's escaped characters.
	if _, srv, err := login(t, cfg, MechSCRAMSHA256, Credentials{Authname: "a=b,c", Password: "pw"}, true); err != nil || srv.Username() != "a=b,c" {
		t.Errorf("escaped name: %v (%s) %q", err, srv.Reason(), srv.Username())
	}
}

// TestClientDigestLayer: on plain TCP the client asks for auth-conf and
// both ends' layers talk to each other.
func TestClientDigestLayer(t *testing.T) {
	us := usersWith(t, "alice", "pw", "")
	for _, cipher := range DigestCiphers {
		cfg := config(us)
		cfg.DigestCiphers = []string{cipher}
		cl, srv, err := login(t, cfg, MechDigestMD5, Credentials{Authname: "alice", Password: "pw"}, false)
		if err != nil {
			t.Fatalf("%s: %v (%s)", cipher, err, srv.Reason())
		}
		if cl.SSF() != cipherSSF[cipher] || srv.SSF() != cipherSSF[cipher] {
			t.Fatalf("%s: ssf %d/%d", cipher, cl.SSF(), srv.SSF())
		}
		big := bytes.Repeat([]byte("0123456789"), 20000)
		got, err := srv.Layer().Decode(cl.Layer().Encode(big))
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("%s client to server: %v", cipher, err)
		}
		got, err = cl.Layer().Decode(srv.Layer().Encode(big[:777]))
		if err != nil || !bytes.Equal(got, big[:777]) {
			t.Fatalf("%s server to client: %v", cipher, err)
		}
	}
}

// A server that does not know the password cannot fake SCRAM's final
// message or DIGEST-MD5's rspauth.
func TestClientChecksServer(t *testing.T) {
	cl, _ := NewClient(MechSCRAMSHA256, "libvirt", "h", Credentials{Authname: "u", Password: "p"}, true)
	first, _ := cl.Start()
	_, _, _, cnonce, _ := ParseClientFirst(string(first))
	if _, _, err := cl.Step([]byte("r=" + cnonce + "xyz,s=c2FsdA==,i=4096")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.Step([]byte("v=AAAA")); err == nil {
		t.Error("a wrong server signature passed")
	}
	cl, _ = NewClient(MechSCRAMSHA256, "libvirt", "h", Credentials{Authname: "u", Password: "p"}, true)
	cl.Start()
	if _, _, err := cl.Step([]byte("r=othernonce,s=c2FsdA==,i=4096")); err == nil {
		t.Error("a nonce not extending the client's passed")
	}
	cl, _ = NewClient(MechDigestMD5, "libvirt", "h", Credentials{Authname: "u", Password: "p"}, true)
	if _, _, err := cl.Step([]byte(`realm="r",nonce="n",qop="auth",charset=utf-8,algorithm=md5-sess`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.Step([]byte("rspauth=00000000000000000000000000000000")); err == nil {
		t.Error("a wrong rspauth passed")
	}
}
