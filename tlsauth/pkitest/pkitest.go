// Package pkitest makes throwaway certificate authorities and certificates
// for tests, laid out as govirtd's --pki-dir and virsh's pkipath expect.
package pkitest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  []byte
}

func nextSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

// NewCA makes a self-signed CA named cn.
func NewCA(cn string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"govirt test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, PEM: pemBlock("CERTIFICATE", der)}, nil
}

// Leaf is an issued certificate and its key, PEM-encoded.
type Leaf struct {
	CertPEM, KeyPEM []byte
}

// Server issues a TLS server certificate for 127.0.0.1, ::1 and localhost.
func (ca *CA) Server(subject pkix.Name) (Leaf, error) {
	return ca.issue(subject, x509.ExtKeyUsageServerAuth, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// Client issues a TLS client certificate.
func (ca *CA) Client(subject pkix.Name) (Leaf, error) {
	return ca.issue(subject, x509.ExtKeyUsageClientAuth, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// Expired issues a server certificate that expired an hour ago.
func (ca *CA) Expired(subject pkix.Name) (Leaf, error) {
	return ca.issue(subject, x509.ExtKeyUsageServerAuth, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
}

func (ca *CA) issue(subject pkix.Name, use x509.ExtKeyUsage, from, to time.Time) (Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               subject,
		NotBefore:             from,
		NotAfter:              to,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{use},
	}
	if use == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return Leaf{}, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Leaf{}, err
	}
	return Leaf{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: pemBlock("EC PRIVATE KEY", kder)}, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// WriteServerDir writes govirtd's --pki-dir layout: cacert.pem,
// servercert.pem, serverkey.pem.
func WriteServerDir(dir string, ca *CA, srv Leaf) error {
	return writeAll(dir, map[string][]byte{
		"cacert.pem":     ca.PEM,
		"servercert.pem": srv.CertPEM,
		"serverkey.pem":  srv.KeyPEM,
	})
}

// WriteClientDir writes a client's credentials: cacert.pem, clientcert.pem
// and clientkey.pem, which is where libvirt 9.0 looks with ?pkipath=DIR, and
// private/clientkey.pem as in /etc/pki/libvirt. A zero Leaf writes the CA
// only.
func WriteClientDir(dir string, ca *CA, cli Leaf) error {
	files := map[string][]byte{"cacert.pem": ca.PEM}
	if cli.CertPEM != nil {
		files["clientcert.pem"] = cli.CertPEM
		files["clientkey.pem"] = cli.KeyPEM
		files[filepath.Join("private", "clientkey.pem")] = cli.KeyPEM
	}
	return writeAll(dir, files)
}

func writeAll(dir string, files map[string][]byte) error {
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
