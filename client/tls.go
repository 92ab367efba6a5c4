package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"govirt/tlsauth"
	"govirt/virerr"
)

// DefaultTLSPort is libvirtd's listen_tls port.
const DefaultTLSPort = "16514"

// libvirt's client credentials (virnettlscontext.c).
const (
	defaultCACert     = "/etc/pki/CA/cacert.pem"
	defaultClientCert = "/etc/pki/libvirt/clientcert.pem"
	defaultClientKey  = "/etc/pki/libvirt/private/clientkey.pem"
)

// tlsFiles are the client's credentials where libvirt's remote driver
// looks for them (virNetTLSContextLocateCredentials): the URI's pkipath
// directory, used whether or not the files exist; else, for users other
// than root, ~/.pki/libvirt for the files found there (the CA alone, the
// certificate and key as a pair); else the system paths.
func tlsFiles(pkipath string) (ca, cert, key string) {
	if pkipath != "" {
		return filepath.Join(pkipath, "cacert.pem"), filepath.Join(pkipath, "clientcert.pem"), filepath.Join(pkipath, "clientkey.pem")
	}
	ca, cert, key = defaultCACert, defaultClientCert, defaultClientKey
	if os.Geteuid() == 0 {
		return
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return
	}
	dir := filepath.Join(home, ".pki", "libvirt")
	if exists(filepath.Join(dir, "cacert.pem")) {
		ca = filepath.Join(dir, "cacert.pem")
	}
	if exists(filepath.Join(dir, "clientcert.pem")) && exists(filepath.Join(dir, "clientkey.pem")) {
		cert, key = filepath.Join(dir, "clientcert.pem"), filepath.Join(dir, "clientkey.pem")
	}
	return
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// tlsParams are the URI's TLS parameters.
type tlsParams struct {
	pkipath  string
	noVerify bool // no_verify=1: a server failing the checks is accepted
	noSanity bool // no_sanity=1: our own credentials are not checked
}

func sysErr(format string, args ...any) error {
	return virerr.New(virerr.FromRPC, virerr.ErrSystemError, format, args...)
}

// errnoText is the strerror part of libvirt's system errors.
func errnoText(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		s := en.Error()
		return string(s[0]-'a'+'A') + s[1:]
	}
	return err.Error()
}

// clientTLS loads the credentials as virNetTLSContextNew does for a
// client: the CA must exist, the certificate and key are optional (the
// server decides whether it wants them), and unless no_sanity=1 they are
// checked as libvirt checks its own.
func clientTLS(p tlsParams) (*x509.CertPool, []tls.Certificate, error) {
	caFile, certFile, keyFile := tlsFiles(p.pkipath)
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, nil, sysErr("Cannot read CA certificate '%s': %s", caFile, errnoText(err))
	}
	cas, err := tlsauth.ParseCerts(caPEM)
	if err != nil {
		return nil, nil, sysErr("Unable to import CA certificate list %s", caFile)
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	var certs []tls.Certificate
	if exists(certFile) && exists(keyFile) {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, nil, sysErr("Unable to set x509 key and certificate: %s, %s: %v", keyFile, certFile, err)
		}
		certs = []tls.Certificate{pair}
	}
	if !p.noSanity {
		if err := tlsauth.SanityCheckClient(caFile, cas, roots, certFile, certs); err != nil {
			return nil, nil, sysErr("%s", err.Error())
		}
	}
	return roots, certs, nil
}

// dialTLS connects, runs the TLS handshake, checks the server's
// certificate as libvirt's client does, and waits for the daemon's
// one-byte confirmation that it accepted ours.
func dialTLS(ctx context.Context, p tlsParams, addr, host string) (net.Conn, error) {
	roots, certs, err := clientTLS(p)
	if err != nil {
		return nil, err
	}
	// Go's own verification is off: libvirt checks after the handshake
	// (with gnutls's host name rules, and no_verify=1 to let a failure
	// pass), which tlsauth.CheckServer does below.
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, Certificates: certs,
		InsecureSkipVerify: true, RootCAs: roots}
	if len(certs) == 0 {
		cfg.Certificates = nil
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		h, port, _ := net.SplitHostPort(addr)
		return nil, sysErr("unable to connect to server at '%s:%s': %s", h, port, errnoText(err))
	}
	tc := tls.Client(raw, cfg)
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, virerr.New(virerr.FromRPC, virerr.ErrAuthFailed, "TLS handshake failed %v", err)
	}
	if err := tlsauth.CheckServer(tc.ConnectionState().PeerCertificates, roots, host); err != nil && !p.noVerify {
		raw.Close()
		return nil, virerr.New(virerr.FromRPC, virerr.ErrAuthFailed, "%s", "Failed to verify peer's certificate")
	}
	// A server refusing us closes the socket without a TLS close_notify,
	// which gnutls reports to libvirt as EIO.
	var b [1]byte
	if _, err := io.ReadFull(tc, b[:]); errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		raw.Close()
		return nil, sysErr("Unable to read TLS confirmation: %s", "Input/output error")
	} else if err != nil {
		raw.Close()
		return nil, sysErr("Unable to read TLS confirmation: %s", errnoText(err))
	} else if b[0] != 1 {
		raw.Close()
		return nil, virerr.New(virerr.FromRPC, virerr.ErrRPC, "%s", "server verification (of our certificate or IP address) failed")
	}
	_ = raw.SetDeadline(time.Time{})
	return tc, nil
}
