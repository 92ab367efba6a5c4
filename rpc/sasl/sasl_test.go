package sasl

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func withNonce(t *testing.T, n string) {
	old := newNonce
	newNonce = func(int) (string, error) { return n, nil }
	t.Cleanup(func() { newNonce = old })
}

func usersWith(t *testing.T, name, password, realm string) *Users {
	t.Helper()
	us := NewUsers()
	if err := us.SetPassword(name, password, realm, 0); err != nil {
		t.Fatal(err)
	}
	return us
}

func config(us *Users) *Config {
	return &Config{Users: func() (*Users, error) { return us, nil }}
}

// RFC 5802 section 5 and RFC 7677 section 3: the examples' exchanges,
// byte for byte, with the examples' salts and server nonces.
func TestSCRAMRFCExamples(t *testing.T) {
	for _, tc := range []struct {
		mech, salt, cnonce, snonce, final, serverFinal string
	}{
		{MechSCRAMSHA1, "QSXCR+Q6sek8bf92", "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j",
			"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="},
		{MechSCRAMSHA256, "W22ZaJ0SNY7soEsUEjb6gQ==", "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
	} {
		salt, _ := base64.StdEncoding.DecodeString(tc.salt)
		v, err := makeVerifier(tc.mech, "pencil", salt, 4096)
		if err != nil {
			t.Fatal(err)
		}
		us := NewUsers()
		us.byName["user"] = &User{Name: "user", scram: map[string]scramVerifier{tc.mech: v}}
		withNonce(t, tc.snonce)
		s := config(us).NewSession(true)
		out, done, err := s.Start(tc.mech, []byte("n,,n=user,r="+tc.cnonce))
		wantFirst := fmt.Sprintf("r=%s%s,s=%s,i=4096", tc.cnonce, tc.snonce, tc.salt)
		if err != nil || done || string(out) != wantFirst {
			t.Fatalf("%s server-first: %q %v %v", tc.mech, out, done, err)
		}
		out, done, err = s.Step([]byte(tc.final))
		if err != nil || !done || string(out) != tc.serverFinal {
			t.Fatalf("%s server-final: %q %v %v (%s)", tc.mech, out, done, err, s.Reason())
		}
		if s.Username() != "user" || s.SSF() != 0 || s.Layer() != nil {
			t.Errorf("%s: user %q ssf %d", tc.mech, s.Username(), s.SSF())
		}
		// The same exchange with one bit of the proof changed fails.
		s = config(us).NewSession(true)
		s.Start(tc.mech, []byte("n,,n=user,r="+tc.cnonce))
		bad := strings.Replace(tc.final, "p=", "p=A", 1)
		bad = bad[:len(bad)-len("=")-1] + "="
		if _, _, err := s.Step([]byte(bad)); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: a bad proof passed", tc.mech)
		}
	}
}

// RFC 2831 section 4's example exchange (qop auth).
func TestDigestRFCExample(t *testing.T) {
	withNonce(t, "OA6MG9tEQGm2hh")
	us := usersWith(t, "chris", "secret", "elwood.innosoft.com")
	cfg := &Config{Realm: "elwood.innosoft.com", Service: "imap", Users: func() (*Users, error) { return us, nil }}
	s := cfg.NewSession(true)
	out, done, err := s.Start(MechDigestMD5, nil)
	if err != nil || done || !strings.Contains(string(out), `nonce="OA6MG9tEQGm2hh"`) || !strings.Contains(string(out), `qop="auth"`) {
		t.Fatalf("challenge: %q %v %v", out, done, err)
	}
	resp := `charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",response=d388dad90d4bbd760a152321f2143af7,qop=auth`
	out, done, err = s.Step([]byte(resp))
	if err != nil || !done || string(out) != "rspauth=ea40f60335c427b5527b84dbabcdfffd" {
		t.Fatalf("rspauth: %q %v %v (%s)", out, done, err, s.Reason())
	}
	if s.Username() != "chris" {
		t.Errorf("user %q", s.Username())
	}
}

// digestResponse is a DIGEST-MD5 client's digest-response; it returns
// H(A1) too, for the client's side of the layer.
func digestResponse(user, password, realm, nonce, cnonce, uri, qop, cipher string) (string, []byte) {
	ha0 := md5.Sum([]byte(user + ":" + realm + ":" + password))
	ha1 := md5.Sum([]byte(string(ha0[:]) + ":" + nonce + ":" + cnonce))
	a2 := "AUTHENTICATE:" + uri
	if qop != "auth" {
		a2 += ":00000000000000000000000000000000"
	}
	ha2 := md5.Sum([]byte(a2))
	r := md5.Sum([]byte(hex.EncodeToString(ha1[:]) + ":" + nonce + ":00000001:" + cnonce + ":" + qop + ":" + hex.EncodeToString(ha2[:])))
	msg := fmt.Sprintf(`username="%s",realm="%s",nonce="%s",nc=00000001,cnonce="%s",digest-uri="%s",response=%s,qop=%s,maxbuf=4096`,
		user, realm, nonce, cnonce, uri, hex.EncodeToString(r[:]), qop)
	if cipher != "" {
		msg += ",cipher=" + cipher
	}
	return msg, ha1[:]
}

// TestDigestLayer: over plain TCP only auth-conf is offered; both sides'
// layers talk to each other for every cipher, with packets cut anywhere,
// and a changed, dropped or replayed packet is refused.
func TestDigestLayer(t *testing.T) {
	for _, cipher := range DigestCiphers {
		t.Run(cipher, func(t *testing.T) {
			withNonce(t, "abcdef")
			us := usersWith(t, "alice", "pw", "")
			s := config(us).NewSession(false)
			if got := s.Mechanisms(); got != MechDigestMD5 {
				t.Fatalf("mechanisms on TCP: %q", got)
			}
			out, _, err := s.Start(MechDigestMD5, nil)
			if err != nil || !strings.Contains(string(out), `qop="auth-conf"`) || !strings.Contains(string(out), `cipher="rc4,3des"`) {
				t.Fatalf("challenge %q %v", out, err)
			}
			resp, ha1 := digestResponse("alice", "pw", DefaultRealm, "abcdef", "xyz", "libvirt/host", "auth-conf", cipher)
			if _, done, err := s.Step([]byte(resp)); err != nil || !done {
				t.Fatalf("step: %v (%s)", err, s.Reason())
			}
			srv := s.Layer()
			if srv == nil || srv.SSF() != cipherSSF[cipher] {
				t.Fatalf("layer %v", srv)
			}
			cli, err := newDigestLayerSide(ha1, cipher, Maxbuf, false)
			if err != nil {
				t.Fatal(err)
			}
			// The client announced maxbuf=4096: the server splits.
			big := make([]byte, 20000)
			rand.Read(big)
			wire := srv.Encode(big)
			if len(wire) < len(big)+5*16 {
				t.Errorf("20000 bytes in %d wire bytes: not split for a 4096 buffer", len(wire))
			}
			var got []byte
			for i := 0; i < len(wire); i += 7 {
				p, err := cli.Decode(wire[i:min(i+7, len(wire))])
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, p...)
			}
			if !bytes.Equal(got, big) {
				t.Fatal("server to client: data differs")
			}
			for _, msg := range []string{"hello", strings.Repeat("x", 70000), "a"} {
				p, err := srv.Decode(cli.Encode([]byte(msg)))
				if err != nil || string(p) != msg {
					t.Fatalf("client to server: %v", err)
				}
			}
			pkt := cli.Encode([]byte("tampered"))
			pkt[6] ^= 1
			if _, err := srv.Decode(pkt); !errors.Is(err, ErrLayer) {
				t.Errorf("a changed packet: %v", err)
			}
			cli2, _ := newDigestLayerSide(ha1, cipher, Maxbuf, false)
			if _, err := srv.Decode(cli2.Encode([]byte("replay"))); !errors.Is(err, ErrLayer) {
				t.Errorf("a replayed sequence number: %v", err)
			}
		})
	}
}

func TestDigestRefusals(t *testing.T) {
	us := usersWith(t, "alice", "pw", "")
	for name, mod := range map[string]func(string) string{
		"wrong password": func(string) string {
			r, _ := digestResponse("alice", "bad", DefaultRealm, "n1", "c", "libvirt/h", "auth-conf", "rc4")
			return r
		},
		"other service": func(string) string {
			r, _ := digestResponse("alice", "pw", DefaultRealm, "n1", "c", "imap/h", "auth-conf", "rc4")
			return r
		},
		"no layer on TCP": func(string) string {
			r, _ := digestResponse("alice", "pw", DefaultRealm, "n1", "c", "libvirt/h", "auth", "")
			return r
		},
		"unknown cipher": func(string) string {
			r, _ := digestResponse("alice", "pw", DefaultRealm, "n1", "c", "libvirt/h", "auth-conf", "des")
			return r
		},
		"other nonce": func(string) string {
			r, _ := digestResponse("alice", "pw", DefaultRealm, "n2", "c", "libvirt/h", "auth-conf", "rc4")
			return r
		},
		"unknown user": func(string) string {
			r, _ := digestResponse("bob", "pw", DefaultRealm, "n1", "c", "libvirt/h", "auth-conf", "rc4")
			return r
		},
		"garbage": func(string) string { return `username="alice,` },
	} {
		withNonce(t, "n1")
		s := config(us).NewSession(false)
		s.Start(MechDigestMD5, nil)
		if _, _, err := s.Step([]byte(mod(""))); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPlain(t *testing.T) {
	us := usersWith(t, "alice", "pw", "")
	cfg := config(us)
	s := cfg.NewSession(true)
	if out, done, err := s.Start(MechPlain, []byte("\x00alice\x00pw")); err != nil || !done || out != nil || s.Username() != "alice" {
		t.Fatalf("PLAIN: %q %v %v %s", out, done, err, s.Reason())
	}
	for _, in := range []string{"\x00alice\x00bad", "bob\x00alice\x00pw", "\x00bob\x00pw", "alice"} {
		if _, _, err := cfg.NewSession(true).Start(MechPlain, []byte(in)); err == nil {
			t.Errorf("PLAIN %q accepted", in)
		}
	}
	// Never on plain TCP, and only the configured mechanisms.
	if _, _, err := cfg.NewSession(false).Start(MechPlain, []byte("\x00alice\x00pw")); err == nil {
		t.Error("PLAIN accepted on TCP")
	}
	cfg.Mechanisms = []string{"scram-sha-256"}
	if got := cfg.NewSession(true).Mechanisms(); got != MechSCRAMSHA256 {
		t.Errorf("configured list: %q", got)
	}
	if got := cfg.NewSession(false).Mechanisms(); got != "" {
		t.Errorf("configured list on TCP: %q", got)
	}
}

func TestSCRAMUnknownUserLooksKnown(t *testing.T) {
	us := usersWith(t, "alice", "pw", "")
	a, _, _ := config(us).NewSession(true).Start(MechSCRAMSHA256, []byte("n,,n=nobody,r=abc"))
	b, _, _ := config(us).NewSession(true).Start(MechSCRAMSHA256, []byte("n,,n=nobody,r=abc"))
	salt := func(m []byte) string { return strings.Split(string(m), ",")[1] }
	if salt(a) != salt(b) || !strings.HasSuffix(string(a), ",i=4096") {
		t.Errorf("an unknown user's salt changes or looks different: %q %q", a, b)
	}
}

func TestUsersFileRoundTrip(t *testing.T) {
	us := usersWith(t, "alice", "secret", "")
	if err := us.SetPassword("bob", "x", "r2", 5000); err != nil {
		t.Fatal(err)
	}
	text := us.Format()
	if bytes.Contains(text, []byte("secret")) {
		t.Fatal("clear password written")
	}
	back, err := ParseUsers(bytes.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Format(), text) {
		t.Errorf("round trip:\n%s\n%s", text, back.Format())
	}
	for _, bad := range []string{"alice", "alice scram-sha-256 0 AA== AA== AA==", "alice digest-md5 r zz", "alice frob x", "al#ice digest-md5 r 00"} {
		if _, err := ParseUsers(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
