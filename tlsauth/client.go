package tlsauth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// The client side's checks, as libvirt's client makes them (govirt's own
// client uses them for peer-to-peer migration): its own credentials before
// connecting (virNetTLSContextSanityCheckCredentials), and the server's
// certificate after the handshake (virNetTLSContextValidCertificate).

// ParseCerts returns the PEM certificates of data.
func ParseCerts(data []byte) ([]*x509.Certificate, error) { return parseCerts(data) }

var (
	oidKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
)

func critical(c *x509.Certificate, oid asn1.ObjectIdentifier) (present, crit bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true, e.Critical
		}
	}
	return false, false
}

// checkUsage is libvirt's key usage and key purpose check of a leaf for
// role "client" or "server": only a critical extension that forbids the
// use fails (a non-critical one is merely warned about by libvirt).
func checkUsage(c *x509.Certificate, name, role string) error {
	if present, crit := critical(c, oidKeyUsage); present && crit {
		if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return fmt.Errorf("Certificate %s usage does not permit digital signature", name)
		}
		if c.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
			return fmt.Errorf("Certificate %s usage does not permit key encipherment", name)
		}
	}
	if present, crit := critical(c, oidExtKeyUsage); present && crit {
		want := x509.ExtKeyUsageServerAuth
		if role == "client" {
			want = x509.ExtKeyUsageClientAuth
		}
		ok := len(c.UnknownExtKeyUsage) > 0
		for _, u := range c.ExtKeyUsage {
			if u == want || (u != x509.ExtKeyUsageServerAuth && u != x509.ExtKeyUsageClientAuth && u != x509.ExtKeyUsageAny) {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("Certificate %s purpose does not allow use for with a TLS %s", name, role)
		}
	}
	return nil
}

func timesErr(c *x509.Certificate, now time.Time, what, name string) error {
	if now.After(c.NotAfter) {
		return fmt.Errorf("The %s certificate %s has expired", what, name)
	}
	if now.Before(c.NotBefore) {
		return fmt.Errorf("The %s certificate %s is not yet active", what, name)
	}
	return nil
}

// verifyReason is libvirt's wording of a failed chain check.
func verifyReason(err error) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var ia x509.InsecureAlgorithmError
	switch {
	case errors.As(err, &ua):
		return "The certificate hasn't got a known issuer."
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return "The certificate is not trusted."
	case errors.As(err, &ia):
		return "The certificate uses an insecure algorithm"
	}
	return "Invalid certificate"
}

// SanityCheckClient checks a client's own credentials before it
// connects: each CA valid now and a CA; the certificate, when there is
// one, valid now, not a CA, usable by a TLS client and signed by the CA.
// The errors are libvirt's.
func SanityCheckClient(caFile string, cas []*x509.Certificate, roots *x509.CertPool, certFile string, certs []tls.Certificate) error {
	now := time.Now()
	var leaf *x509.Certificate
	if len(certs) > 0 {
		var err error
		if leaf, err = x509.ParseCertificate(certs[0].Certificate[0]); err != nil {
			return fmt.Errorf("Unable to import client certificate %s", certFile)
		}
		if err := timesErr(leaf, now, "client", certFile); err != nil {
			return err
		}
		if leaf.BasicConstraintsValid && leaf.IsCA {
			return fmt.Errorf("The certificate %s basic constraints show a CA, but we need one for a client", certFile)
		}
		if err := checkUsage(leaf, certFile, "client"); err != nil {
			return err
		}
	}
	for _, ca := range cas {
		if err := timesErr(ca, now, "CA", caFile); err != nil {
			return err
		}
		if !ca.BasicConstraintsValid {
			return fmt.Errorf("The certificate %s is missing basic constraints for a CA", caFile)
		}
		if !ca.IsCA {
			return fmt.Errorf("The certificate %s basic constraints do not show a CA", caFile)
		}
	}
	if leaf != nil {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates(certs[0].Certificate[1:]),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: now}); err != nil {
			return fmt.Errorf("Our own certificate %s failed validation against %s: %s", certFile, caFile, verifyReason(err))
		}
	}
	return nil
}

// CheckServer judges the server's chain as libvirt's client does after
// the handshake: signed by the CA, every certificate valid now, the
// leaf's names matching host (gnutls_x509_crt_check_hostname), not a CA
// and usable by a TLS server.
func CheckServer(chain []*x509.Certificate, roots *x509.CertPool, host string) error {
	if len(chain) == 0 {
		return errors.New("The certificate has no peers")
	}
	leaf := chain[0]
	pool := x509.NewCertPool()
	for _, c := range chain[1:] {
		pool.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: pool,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("Certificate failed validation: %s", verifyReason(err))
	}
	if !MatchHostname(leaf, host) {
		return fmt.Errorf("Certificate [session] owner does not match the hostname %s", host)
	}
	if leaf.BasicConstraintsValid && leaf.IsCA {
		return errors.New("The certificate [session] basic constraints show a CA, but we need one for a server")
	}
	return checkUsage(leaf, "[session]", "server")
}

// MatchHostname is gnutls_x509_crt_check_hostname: an IP address matches
// the iPAddress names; otherwise (and for an IP written as a DNS name)
// the dNSName names, with a leading "*" wildcard for one label; the
// subject's common name only when there is no dNSName and the
// certificate may serve TLS.
func MatchHostname(c *x509.Certificate, host string) bool {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if ip := net.ParseIP(host); ip != nil {
		for _, a := range c.IPAddresses {
			if a.Equal(ip) {
				return true
			}
		}
	}
	for _, n := range c.DNSNames {
		if matchName(n, host) {
			return true
		}
	}
	if len(c.DNSNames) > 0 {
		return false
	}
	serverOK := len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0
	for _, u := range c.ExtKeyUsage {
		serverOK = serverOK || u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny
	}
	return serverOK && c.Subject.CommonName != "" && matchName(c.Subject.CommonName, host)
}

// matchName compares a certificate name with host, case-insensitively;
// "*" in the first label matches within that label only, and not in a
// name of fewer than three labels ("*.com").
func matchName(pattern, host string) bool {
	pattern, host = strings.ToLower(strings.TrimSuffix(pattern, ".")), strings.ToLower(host)
	first, rest, ok := strings.Cut(pattern, ".")
	if !strings.Contains(first, "*") {
		return pattern == host
	}
	if !ok || !strings.Contains(rest, ".") || net.ParseIP(host) != nil {
		return false
	}
	hfirst, hrest, ok := strings.Cut(host, ".")
	if !ok || hrest != rest {
		return false
	}
	pre, post, _ := strings.Cut(first, "*")
	return len(hfirst) >= len(pre)+len(post) && strings.HasPrefix(hfirst, pre) && strings.HasSuffix(hfirst, post)
}
