package command

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
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeTLSDir writes a CA and a server certificate for 127.0.0.1 under
// the names QEMU's tls-creds-x509 and SPICE's x509-dir read.
func writeTLSDir(t *testing.T, dir string) {
	t.Helper()
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "govirt test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(srvKey)
	write("ca-cert.pem", "CERTIFICATE", caDER)
	write("server-cert.pem", "CERTIFICATE", srvDER)
	write("server-key.pem", "PRIVATE KEY", keyDER)
}

// freePorts finds n TCP ports of the display range free on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	var out []int
	for p := 5900 + os.Getpid()%20000; p < 65535 && len(out) < n; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			l.Close()
			out = append(out, p)
		}
	}
	if len(out) < n {
		t.Skip("no free display ports")
	}
	return out
}

// QEMU 7.2 starts a guest with qemu.conf's TLS and SASL settings for VNC
// (tls-creds-x509 object, sasl=on, password=on, a websocket) and SPICE
// (tls-port with x509-dir, secure channels, SASL).
func TestQEMUAcceptsDisplayTLS(t *testing.T) {
	if _, err := os.Stat(qemuBinary); err != nil {
		t.Skip("no " + qemuBinary)
	}
	dir, err := os.MkdirTemp("", "gvtls")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	writeTLSDir(t, dir)
	ports := freePorts(t, 4)
	def := displayDomain(t, `<graphics type='vnc' port='`+strconv.Itoa(ports[0])+`' autoport='no' websocket='`+strconv.Itoa(ports[1])+`' passwd='secret'>
  <listen type='address' address='127.0.0.1'/></graphics>
<graphics type='spice' autoport='yes' defaultMode='secure'><listen type='address' address='127.0.0.1'/>
  <channel name='inputs' mode='insecure'/></graphics>
<video><model type='qxl'/></video>`)
	p := Paths{MonitorSocket: filepath.Join(dir, "mon.sock"), DomainDir: dir}
	p.Graphics = GraphicsConfig{VNCTLS: true, VNCTLSx509Verify: false, VNCTLSx509CertDir: dir, VNCSASL: true,
		SpiceTLS: true, SpiceTLSx509CertDir: dir, SpiceSASL: true}
	next := 2
	p.SpicePort = func() (int, error) { next++; return ports[next-1], nil }
	cl, err := Build(def, qemu72(), p)
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Join(cl.Argv, " ")
	for _, want := range []string{`"qom-type":"tls-creds-x509","id":"vnc-tls-creds0","dir":"` + dir,
		",tls-creds=vnc-tls-creds0,sasl=on,", ",password=on,", "tls-port=" + strconv.Itoa(ports[3]), "sasl=on,disable-ticketing=on,x509-dir=" + dir} {
		if !strings.Contains(argv, want) {
			t.Errorf("argv lacks %q:\n%s", want, argv)
		}
	}
	runPaused(t, cl, p.MonitorSocket)
}

// QEMU 7.2 starts a peer-to-peer D-Bus display with its D-Bus audio.
func TestQEMUAcceptsDBusDisplay(t *testing.T) {
	if _, err := os.Stat(qemuBinary); err != nil {
		t.Skip("no " + qemuBinary)
	}
	dir, err := os.MkdirTemp("", "gvdbus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	def := displayDomain(t, `<graphics type='dbus' p2p='yes'><audio id='1'/></graphics><audio id='1' type='dbus'/>`)
	c := qemu72()
	c.flags["display-dbus"] = true
	p := Paths{MonitorSocket: filepath.Join(dir, "mon.sock"), DomainDir: dir}
	cl, err := Build(def, c, p)
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Join(cl.Argv, " ")
	for _, want := range []string{`-audiodev {"id":"audio1","driver":"dbus"}`, "-display dbus,p2p=on,audiodev=audio1"} {
		if !strings.Contains(argv, want) {
			t.Errorf("argv lacks %q:\n%s", want, argv)
		}
	}
	runPaused(t, cl, p.MonitorSocket)
}
