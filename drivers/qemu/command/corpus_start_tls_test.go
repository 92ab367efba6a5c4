package command

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// testTLSDirs are the x509 directories of TestCorpusStartsQEMU's display
// TLS (libvirt's layout: ca-cert.pem, server-cert.pem, server-key.pem):
// plain has the key in the clear, secret has it encrypted with libvirt's
// test secret (vnc_tls_x509_secret_uuid), "" when openssl is missing.
type testTLSDirs struct{ plain, secret string }

// makeTestTLS writes a CA and a server certificate for localhost below
// dir.
func makeTestTLS(dir string) (testTLSDirs, error) {
	var d testTLSDirs
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return d, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "govirt test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return d, err
	}
	srvKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return d, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return d, err
	}
	d.plain = filepath.Join(dir, "tls")
	files := map[string]*pem.Block{
		"ca-cert.pem":     {Type: "CERTIFICATE", Bytes: caDER},
		"server-cert.pem": {Type: "CERTIFICATE", Bytes: srvDER},
		"server-key.pem":  {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(srvKey)},
	}
	if err := os.MkdirAll(d.plain, 0o700); err != nil {
		return d, err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(d.plain, name), pem.EncodeToMemory(b), 0o600); err != nil {
			return d, err
		}
	}
	// The standard library writes no encrypted PKCS#8, which is what
	// QEMU's GnuTLS reads with a password.
	if _, err := exec.LookPath("openssl"); err != nil {
		return d, nil
	}
	sec := filepath.Join(dir, "tls-secret")
	if err := os.MkdirAll(sec, 0o700); err != nil {
		return d, err
	}
	for _, name := range []string{"ca-cert.pem", "server-cert.pem"} {
		if err := os.WriteFile(filepath.Join(sec, name), pem.EncodeToMemory(files[name]), 0o600); err != nil {
			return d, err
		}
	}
	out, err := exec.Command("openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc",
		"-in", filepath.Join(d.plain, "server-key.pem"), "-out", filepath.Join(sec, "server-key.pem"),
		"-passout", "pass:"+corpusSecret).CombinedOutput()
	if err != nil {
		return d, fmt.Errorf("openssl pkcs8: %v: %s", err, out)
	}
	d.secret = sec
	return d, nil
}
