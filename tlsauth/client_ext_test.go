package tlsauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"

	"govirt/tlsauth"
	"govirt/tlsauth/pkitest"
)

func parseLeaf(t *testing.T, l pkitest.Leaf) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	pair, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c, pair
}

// TestClientSideChecks: the server's certificate as libvirt's client
// judges it, and the client's own credentials.
func TestClientSideChecks(t *testing.T) {
	ca, err := pkitest.NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := pkitest.NewCA("other")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	srvLeaf, _ := ca.Server(pkix.Name{CommonName: "server"})
	srv, _ := parseLeaf(t, srvLeaf)
	for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
		if err := tlsauth.CheckServer([]*x509.Certificate{srv}, roots, host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if err := tlsauth.CheckServer([]*x509.Certificate{srv}, roots, "example.com"); err == nil || !strings.Contains(err.Error(), "owner does not match the hostname example.com") {
		t.Errorf("wrong host: %v", err)
	}
	foreignLeaf, _ := other.Server(pkix.Name{CommonName: "server"})
	foreign, _ := parseLeaf(t, foreignLeaf)
	if err := tlsauth.CheckServer([]*x509.Certificate{foreign}, roots, "localhost"); err == nil || !strings.Contains(err.Error(), "hasn't got a known issuer") {
		t.Errorf("another CA: %v", err)
	}
	expiredLeaf, _ := ca.Expired(pkix.Name{CommonName: "server"})
	expired, _ := parseLeaf(t, expiredLeaf)
	if err := tlsauth.CheckServer([]*x509.Certificate{expired}, roots, "localhost"); err == nil {
		t.Error("an expired server certificate passed")
	}
	cliLeaf, _ := ca.Client(pkix.Name{CommonName: "client"})
	_, cliPair := parseLeaf(t, cliLeaf)
	cas := []*x509.Certificate{ca.Cert}
	if err := tlsauth.SanityCheckClient("ca.pem", cas, roots, "cli.pem", []tls.Certificate{cliPair}); err != nil {
		t.Errorf("good client credentials: %v", err)
	}
	if err := tlsauth.SanityCheckClient("ca.pem", cas, roots, "cli.pem", nil); err != nil {
		t.Errorf("no client certificate: %v", err)
	}
	otherCli, _ := other.Client(pkix.Name{CommonName: "client"})
	_, otherPair := parseLeaf(t, otherCli)
	if err := tlsauth.SanityCheckClient("ca.pem", cas, roots, "cli.pem", []tls.Certificate{otherPair}); err == nil ||
		err.Error() != "Our own certificate cli.pem failed validation against ca.pem: The certificate hasn't got a known issuer." {
		t.Errorf("client certificate of another CA: %v", err)
	}
	_, expPair := parseLeaf(t, expiredLeaf)
	if err := tlsauth.SanityCheckClient("ca.pem", cas, roots, "cli.pem", []tls.Certificate{expPair}); err == nil ||
		err.Error() != "The client certificate cli.pem has expired" {
		t.Errorf("expired client certificate: %v", err)
	}
	if err := tlsauth.SanityCheckClient("ca.pem", []*x509.Certificate{srv}, roots, "cli.pem", nil); err == nil ||
		err.Error() != "The certificate ca.pem basic constraints do not show a CA" {
		t.Errorf("a leaf as CA: %v", err)
	}
}
