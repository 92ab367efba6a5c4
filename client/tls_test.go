package client

import (
	"crypto/x509/pkix"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"govirt/rpc"
	"govirt/tlsauth"
	"govirt/tlsauth/pkitest"
)

// TestTLSDial: libvirt's client checks against a govirtd-style TLS
// listener (tlsauth): the CA must exist, the server must be signed by it
// and name the URI's host unless no_verify=1, and a server refusing our
// certificate is libvirt's "Unable to read TLS confirmation".
func TestTLSDial(t *testing.T) {
	ca, err := pkitest.NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := pkitest.NewCA("other")
	dir := t.TempDir()
	srvLeaf, _ := ca.Server(pkix.Name{CommonName: "server"})
	cli, _ := ca.Client(pkix.Name{CommonName: "client"})
	ocli, _ := other.Client(pkix.Name{CommonName: "client"})
	for name, err := range map[string]error{
		"server":  pkitest.WriteServerDir(filepath.Join(dir, "server"), ca, srvLeaf),
		"good":    pkitest.WriteClientDir(filepath.Join(dir, "good"), ca, cli),
		"foreign": pkitest.WriteClientDir(filepath.Join(dir, "foreign"), other, ocli),
	} {
		if err != nil {
			t.Fatal(name, err)
		}
	}
	x, err := tlsauth.New(tlsauth.Config{KeyFile: filepath.Join(dir, "server", "serverkey.pem"),
		CertFile: filepath.Join(dir, "server", "servercert.pem"), CAFile: filepath.Join(dir, "server", "cacert.pem")})
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(func(c *rpc.Conn) rpc.Handler { return &fakeDaemon{conn: c, t: t} })
	srv.Logf = t.Logf
	t.Cleanup(func() { srv.Close() })
	listen := func(addr string) string {
		raw, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skip(err)
		}
		go srv.ServeService(x.Listener(raw), rpc.Service{Transport: rpc.TransportTLS})
		return raw.Addr().(*net.TCPAddr).String()
	}
	addr := listen("127.0.0.1:0")
	_, port, _ := net.SplitHostPort(addr)
	uri := func(host, q string) string { return "test+tls://" + net.JoinHostPort(host, port) + "/default?" + q }
	good := "pkipath=" + filepath.Join(dir, "good")
	for _, host := range []string{"127.0.0.1", "localhost"} {
		c, err := Dial(uri(host, good))
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		c.Close()
	}
	for _, tc := range []struct{ host, q, want string }{
		{"127.0.0.1", "pkipath=" + filepath.Join(dir, "none"), "Cannot read CA certificate '" + filepath.Join(dir, "none", "cacert.pem") + "': No such file or directory"},
		{"127.0.0.1", "pkipath=" + filepath.Join(dir, "foreign"), "authentication failed: Failed to verify peer's certificate"},
		{"127.0.0.1", "pkipath=" + filepath.Join(dir, "foreign") + "&no_verify=1", "Unable to read TLS confirmation: Input/output error"},
	} {
		if _, err := Dial(uri(tc.host, tc.q)); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.q, err, tc.want)
		}
	}
	// An address the certificate does not name.
	addr2 := listen("127.0.0.2:" + port)
	if _, err := Dial("test+tls://" + addr2 + "/default?" + good); err == nil || !strings.Contains(err.Error(), "Failed to verify peer's certificate") {
		t.Errorf("unnamed host: %v", err)
	}
	c, err := Dial("test+tls://" + addr2 + "/default?" + good + "&no_verify=1")
	if err != nil {
		t.Fatalf("unnamed host with no_verify=1: %v", err)
	}
	c.Close()
}
