package tlsauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/tlsauth"
	"govirt/tlsauth/pkitest"
)

type pki struct {
	dir string
	ca  *pkitest.CA
	cfg tlsauth.Config
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := pkitest.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server(pkix.Name{CommonName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := pkitest.WriteServerDir(dir, ca, srv); err != nil {
		t.Fatal(err)
	}
	return &pki{dir: dir, ca: ca, cfg: tlsauth.Config{
		KeyFile:  filepath.Join(dir, "serverkey.pem"),
		CertFile: filepath.Join(dir, "servercert.pem"),
		CAFile:   filepath.Join(dir, "cacert.pem"),
	}}
}

func TestNewErrorsNameTheFile(t *testing.T) {
	p := newPKI(t)
	other, _ := pkitest.NewCA("other CA")
	foreign, _ := other.Server(pkix.Name{CommonName: "localhost"})
	expired, _ := p.ca.Expired(pkix.Name{CommonName: "localhost"})
	garbage := filepath.Join(p.dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate\n"), 0o600)
	write := func(name string, data []byte) string {
		f := filepath.Join(p.dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	foreignCert, foreignKey := write("fc.pem", foreign.CertPEM), write("fk.pem", foreign.KeyPEM)
	expCert, expKey := write("ec.pem", expired.CertPEM), write("ek.pem", expired.KeyPEM)
	missing := filepath.Join(p.dir, "missing.pem")
	for _, tc := range []struct {
		name   string
		edit   func(*tlsauth.Config)
		want   []string
		noSane bool
	}{
		{"missing CA", func(c *tlsauth.Config) { c.CAFile = missing }, []string{"cannot read CA certificate", missing}, false},
		{"missing cert", func(c *tlsauth.Config) { c.CertFile = missing }, []string{"cannot read server certificate", missing}, false},
		{"missing key", func(c *tlsauth.Config) { c.KeyFile = missing }, []string{"cannot read server key", missing}, false},
		{"garbage CA", func(c *tlsauth.Config) { c.CAFile = garbage }, []string{"CA certificate", garbage, "no PEM certificate"}, false},
		{"garbage cert", func(c *tlsauth.Config) { c.CertFile = garbage }, []string{"server certificate", garbage}, false},
		{"garbage key", func(c *tlsauth.Config) { c.KeyFile = garbage }, []string{"server key", garbage}, false},
		{"key of another cert", func(c *tlsauth.Config) { c.KeyFile = foreignKey }, []string{foreignKey, "private key does not match"}, false},
		{"cert of another CA", func(c *tlsauth.Config) { c.CertFile, c.KeyFile = foreignCert, foreignKey }, []string{foreignCert, "failed verification against CA"}, false},
		{"expired cert", func(c *tlsauth.Config) { c.CertFile, c.KeyFile = expCert, expKey }, []string{expCert, "has expired"}, false},
		{"CA as server cert", func(c *tlsauth.Config) { c.CertFile = c.CAFile }, []string{"server key"}, false},
	} {
		cfg := p.cfg
		tc.edit(&cfg)
		_, err := tlsauth.New(cfg)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
	// tls_no_sanity_certificate lets a server certificate of another CA in.
	cfg := p.cfg
	cfg.CertFile, cfg.KeyFile, cfg.NoSanityCertificate = foreignCert, foreignKey, true
	if _, err := tlsauth.New(cfg); err != nil {
		t.Errorf("no sanity check: %v", err)
	}
}

func TestMatchDN(t *testing.T) {
	dn := "CN=client,O=Red Hat,L=London,ST=London,C=GB"
	for pat, want := range map[string]bool{
		dn:                            true,
		"CN=*,O=Red Hat,L=London,*":   true,
		"*":                           true,
		"CN=clien?,O=Red Hat,*":       true,
		"CN=client":                   false,
		"CN=other,*":                  false,
		"C=GB,ST=London,L=London,O=*": false,
	} {
		if got := tlsauth.MatchDN(dn, []string{pat}); got != want {
			t.Errorf("MatchDN(%q) = %v, want %v", pat, got, want)
		}
	}
	if tlsauth.MatchDN(dn, []string{}) {
		t.Error("an empty list lets a client in")
	}
}

// dial connects a Go TLS client with cli's certificate (none if zero) and
// returns the confirmation byte or the error reading it.
func dial(t *testing.T, addr string, ca *pkitest.CA, cli pkitest.Leaf) (byte, error) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	if cli.CertPEM != nil {
		pair, err := tls.X509KeyPair(cli.CertPEM, cli.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

func serve(t *testing.T, cfg tlsauth.Config) string {
	t.Helper()
	x, err := tlsauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := x.Listener(raw)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// The first read runs the handshake and the check.
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return raw.Addr().String()
}

func TestClientChecks(t *testing.T) {
	p := newPKI(t)
	good, _ := p.ca.Client(pkix.Name{CommonName: "client", Organization: []string{"govirt"}})
	other, _ := pkitest.NewCA("other CA")
	foreign, _ := other.Client(pkix.Name{CommonName: "client", Organization: []string{"govirt"}})

	addr := serve(t, p.cfg)
	if b, err := dial(t, addr, p.ca, good); err != nil || b != 1 {
		t.Errorf("good client: byte %d, %v", b, err)
	}
	if _, err := dial(t, addr, p.ca, pkitest.Leaf{}); err == nil {
		t.Error("client without a certificate was confirmed")
	}
	if _, err := dial(t, addr, p.ca, foreign); err == nil {
		t.Error("client of another CA was confirmed")
	}

	cfg := p.cfg
	cfg.AllowedDNs = []string{"CN=admin,*"}
	addr = serve(t, cfg)
	if _, err := dial(t, addr, p.ca, good); err == nil {
		t.Error("client with a DN off the list was confirmed")
	}
	cfg.AllowedDNs = []string{"CN=client,O=gov*"}
	addr = serve(t, cfg)
	if b, err := dial(t, addr, p.ca, good); err != nil || b != 1 {
		t.Errorf("client on the DN list: byte %d, %v", b, err)
	}

	cfg = p.cfg
	cfg.NoVerifyCertificate = true
	addr = serve(t, cfg)
	if b, err := dial(t, addr, p.ca, foreign); err != nil || b != 1 {
		t.Errorf("tls_no_verify_certificate: byte %d, %v", b, err)
	}
}

func TestDN(t *testing.T) {
	p := newPKI(t)
	leaf, _ := p.ca.Client(pkix.Name{Country: []string{"GB"}, Organization: []string{"Red Hat"}, CommonName: "client"})
	pair, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(pair.Certificate[0])
	dn, err := tlsauth.DN(c)
	if err != nil || dn != "CN=client,O=Red Hat,C=GB" {
		t.Errorf("DN = %q, %v", dn, err)
	}
	if err := (func() error { x, _ := tlsauth.New(p.cfg); return x.CheckClient([]*x509.Certificate{c}) })(); err != nil {
		t.Errorf("CheckClient: %v", err)
	}
}
