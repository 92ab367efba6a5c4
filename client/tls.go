package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// DefaultTLSPort is libvirtd's listen_tls port.
const DefaultTLSPort = "16514"

// tlsFiles are the client's credentials, where libvirt's remote driver
// looks for them: the URI's pkipath directory, else the system PKI paths
// for root and ~/.pki/libvirt for other users.
func tlsFiles(pkipath string) (ca, cert, key string) {
	if pkipath != "" {
		return filepath.Join(pkipath, "cacert.pem"), filepath.Join(pkipath, "clientcert.pem"), filepath.Join(pkipath, "clientkey.pem")
	}
	if os.Geteuid() != 0 {
		if home, err := os.UserHomeDir(); err == nil {
			dir := filepath.Join(home, ".pki", "libvirt")
			if _, err := os.Stat(filepath.Join(dir, "clientcert.pem")); err == nil {
				return filepath.Join(dir, "cacert.pem"), filepath.Join(dir, "clientcert.pem"), filepath.Join(dir, "clientkey.pem")
			}
		}
	}
	return "/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/clientcert.pem", "/etc/pki/libvirt/private/clientkey.pem"
}

// tlsConfig is the TLS client configuration a URI asks for (pkipath=,
// no_verify=1).
func tlsConfig(uri, host string) (*tls.Config, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	caFile, certFile, keyFile := tlsFiles(q.Get("pkipath"))
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if q.Get("no_verify") == "1" {
		cfg.InsecureSkipVerify = true
	} else {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("client: reading CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: no certificate in %s", caFile)
		}
		cfg.RootCAs = pool
	}
	if _, err := os.Stat(certFile); err == nil {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client: loading client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// dialTLS connects, runs the TLS handshake and waits for the daemon's
// one-byte confirmation that it accepted the client's certificate.
func dialTLS(ctx context.Context, uri, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cfg, err := tlsConfig(uri, host)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: connecting to %s: %w", addr, err)
	}
	tc := tls.Client(raw, cfg)
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("client: TLS handshake with %s: %w", addr, err)
	}
	var b [1]byte
	if _, err := tc.Read(b[:]); err != nil || b[0] != 1 {
		raw.Close()
		if err == nil {
			err = fmt.Errorf("unexpected byte %d", b[0])
		}
		return nil, fmt.Errorf("client: server refused the TLS client: %w", err)
	}
	_ = raw.SetDeadline(time.Time{})
	return tc, nil
}
