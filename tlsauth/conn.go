package tlsauth

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
	"sync"
	"time"

	"govirt/internal/glob"
)

// DN is the certificate's subject as gnutls_x509_crt_get_dn prints it (and
// so virt-pki-query-dn): RFC 4514, most specific attribute first, e.g.
// "CN=client,O=Example,C=GB".
func DN(c *x509.Certificate) (string, error) {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(c.RawSubject, &seq); err != nil {
		return "", fmt.Errorf("certificate distinguished name: %w", err)
	} else if len(rest) != 0 {
		return "", fmt.Errorf("certificate distinguished name: trailing data")
	}
	return seq.String(), nil
}

// MatchDN reports whether dn matches one of the patterns, with
// g_pattern_match_simple's wildcards: '*' any run of characters, '?' one.
func MatchDN(dn string, patterns []string) bool {
	for _, p := range patterns {
		if glob.Match(p, dn) {
			return true
		}
	}
	return false
}

// Listener wraps a TCP listener: accepted connections speak TLS, and their
// first Read or Write runs the handshake, the client check and libvirt's
// confirmation byte. A refused client's socket is closed without a TLS
// close_notify, as libvirtd does.
func (x *Context) Listener(ln net.Listener) net.Listener {
	return &listener{Listener: ln, x: x}
}

type listener struct {
	net.Listener
	x *Context
}

func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: tls.Server(nc, l.x.tls), raw: nc, x: l.x}, nil
}

// Conn is one server-side TLS connection.
type Conn struct {
	*tls.Conn
	raw  net.Conn
	x    *Context
	once sync.Once
	err  error
	dn   string
}

// Handshake runs the TLS handshake and libvirt's access check once; every
// Read and Write waits for it.
func (c *Conn) Handshake() error {
	c.once.Do(func() {
		timeout := c.x.cfg.HandshakeTimeout
		if timeout <= 0 {
			timeout = time.Minute
		}
		_ = c.raw.SetDeadline(time.Now().Add(timeout))
		c.err = c.accept()
		if c.err != nil {
			c.x.logf("TLS client %s refused: %v", c.raw.RemoteAddr(), c.err)
			_ = c.raw.Close()
			return
		}
		_ = c.raw.SetDeadline(time.Time{})
	})
	return c.err
}

func (c *Conn) accept() error {
	if err := c.Conn.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	chain := c.Conn.ConnectionState().PeerCertificates
	if len(chain) > 0 {
		c.dn, _ = DN(chain[0])
	}
	if err := c.x.CheckClient(chain); err != nil {
		if !c.x.cfg.NoVerifyCertificate {
			return fmt.Errorf("failed to verify peer's certificate: %w", err)
		}
		c.x.logf("TLS client %s: ignoring bad certificate at user request: %v", c.raw.RemoteAddr(), err)
	}
	// libvirt's client reads exactly this byte, in its own record, before
	// its first call.
	if _, err := c.Conn.Write([]byte{1}); err != nil {
		return fmt.Errorf("sending TLS confirmation: %w", err)
	}
	return nil
}

// DN is the client's certificate subject once the handshake is done ("" if
// it sent none).
func (c *Conn) DN() string {
	if c.Handshake() != nil {
		return ""
	}
	return c.dn
}

func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
