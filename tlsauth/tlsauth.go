// Package tlsauth is the server side of libvirt's TLS transport: it loads
// the daemon's credentials (checking them the way libvirtd does at start),
// verifies each client's certificate after the handshake against the CA and
// tls_allowed_dn_list, and sends libvirt's one-byte confirmation that
// libvirt's client waits for before its first call.
package tlsauth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// libvirt's default credential paths (virnettlscontext.c).
const (
	DefaultKeyFile  = "/etc/pki/libvirt/private/serverkey.pem"
	DefaultCertFile = "/etc/pki/libvirt/servercert.pem"
	DefaultCAFile   = "/etc/pki/CA/cacert.pem"
)

// Config says where the credentials are and how clients are checked, with
// libvirtd.conf's meaning.
type Config struct {
	KeyFile, CertFile, CAFile string
	// NoVerifyCertificate is tls_no_verify_certificate: failed client
	// checks are logged and the client is let in anyway.
	NoVerifyCertificate bool
	// NoSanityCertificate is tls_no_sanity_certificate: the daemon's own
	// certificate is not checked at start.
	NoSanityCertificate bool
	// AllowedDNs is tls_allowed_dn_list; nil checks no DN, an empty
	// (non-nil) list lets no client in.
	AllowedDNs []string
	// Logf receives refusals; nil discards them.
	Logf func(format string, args ...any)
	// HandshakeTimeout bounds the handshake and certificate check; zero
	// means a minute.
	HandshakeTimeout time.Duration
}

// Context is loaded credentials plus the client policy; it wraps
// listeners.
type Context struct {
	cfg   Config
	roots *x509.CertPool
	tls   *tls.Config
}

// New reads and checks the credentials. Errors name the file at fault.
func New(cfg Config) (*Context, error) {
	caPEM, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read CA certificate '%s': %w", cfg.CAFile, err)
	}
	cas, err := parseCerts(caPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate '%s': %w", cfg.CAFile, err)
	}
	certPEM, err := os.ReadFile(cfg.CertFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read server certificate '%s': %w", cfg.CertFile, err)
	}
	if _, err := parseCerts(certPEM); err != nil {
		return nil, fmt.Errorf("server certificate '%s': %w", cfg.CertFile, err)
	}
	keyPEM, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read server key '%s': %w", cfg.KeyFile, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server key '%s' with certificate '%s': %w", cfg.KeyFile, cfg.CertFile, err)
	}
	roots := x509.NewCertPool()
	for _, ca := range cas {
		roots.AddCert(ca)
	}
	if !cfg.NoSanityCertificate {
		if err := sanityCheck(cfg, cas, roots, pair); err != nil {
			return nil, err
		}
	}
	x := &Context{cfg: cfg, roots: roots}
	x.tls = &tls.Config{
		// libvirt's "NORMAL" priority minus what is no longer sane:
		// TLS 1.2 and 1.3 with Go's default (AEAD-first) suites.
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		// As gnutls_certificate_server_set_request(GNUTLS_CERT_REQUEST):
		// the certificate is asked for during the handshake and judged
		// after it, so a refused client learns it from the missing
		// confirmation byte exactly as with libvirtd.
		ClientAuth:             tls.RequestClientCert,
		ClientCAs:              roots,
		SessionTicketsDisabled: true,
	}
	return x, nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// sanityCheck is libvirtd's check of its own credentials: every CA is a
// CA and valid now, and the server certificate is valid now, not a CA,
// usable by a TLS server and signed by the CA.
func sanityCheck(cfg Config, cas []*x509.Certificate, roots *x509.CertPool, pair tls.Certificate) error {
	now := time.Now()
	for _, ca := range cas {
		if err := checkTimes(ca, now); err != nil {
			return fmt.Errorf("CA certificate '%s' %w", cfg.CAFile, err)
		}
		if !ca.BasicConstraintsValid || !ca.IsCA {
			return fmt.Errorf("CA certificate '%s': basic constraints do not show a CA", cfg.CAFile)
		}
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("server certificate '%s': %w", cfg.CertFile, err)
	}
	if err := checkTimes(leaf, now); err != nil {
		return fmt.Errorf("server certificate '%s' %w", cfg.CertFile, err)
	}
	if leaf.BasicConstraintsValid && leaf.IsCA {
		return fmt.Errorf("server certificate '%s': basic constraints show a CA, but a server certificate is needed", cfg.CertFile)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates(pair.Certificate[1:]),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		CurrentTime:   now,
	}); err != nil {
		return fmt.Errorf("server certificate '%s' failed verification against CA certificate '%s': %w", cfg.CertFile, cfg.CAFile, err)
	}
	return nil
}

func checkTimes(c *x509.Certificate, now time.Time) error {
	if now.After(c.NotAfter) {
		return fmt.Errorf("has expired (not after %s)", c.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(c.NotBefore) {
		return fmt.Errorf("is not yet active (not before %s)", c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

func intermediates(ders [][]byte) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, d := range ders {
		if c, err := x509.ParseCertificate(d); err == nil {
			pool.AddCert(c)
		}
	}
	return pool
}

// ErrDNNotAllowed is libvirt's refusal of a DN missing from
// tls_allowed_dn_list.
var ErrDNNotAllowed = errors.New("Client's Distinguished Name is not on the list of allowed clients (tls_allowed_dn_list).  " +
	"Use 'virt-pki-query-dn clientcert.pem' to view the Distinguished Name field in the client certificate, " +
	"or run this daemon with --verbose option.")

// CheckClient judges a client's certificate chain as libvirtd does after
// the handshake: present, signed by the CA for TLS client use, valid now,
// not a CA, and its DN on the allowed list when there is one.
func (x *Context) CheckClient(chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("no client certificate")
	}
	leaf := chain[0]
	pool := x509.NewCertPool()
	for _, c := range chain[1:] {
		pool.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         x.roots,
		Intermediates: pool,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return fmt.Errorf("certificate failed validation: %w", err)
	}
	if leaf.BasicConstraintsValid && leaf.IsCA {
		return errors.New("client certificate's basic constraints show a CA")
	}
	dn, err := DN(leaf)
	if err != nil {
		return err
	}
	if x.cfg.AllowedDNs != nil && !MatchDN(dn, x.cfg.AllowedDNs) {
		return fmt.Errorf("DN %q: %w", dn, ErrDNNotAllowed)
	}
	return nil
}

func (x *Context) logf(format string, args ...any) {
	if x.cfg.Logf != nil {
		x.cfg.Logf(format, args...)
	}
}
