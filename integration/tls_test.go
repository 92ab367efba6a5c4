package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/tlsauth/pkitest"
)

// tlsSetup is a CA, a server PKI dir and client pkipaths for the
// refusal cases.
type tlsSetup struct {
	ca                  *pkitest.CA
	serverDir           string
	good, foreign, none string // virsh pkipath directories
}

func newTLSSetup(t *testing.T) *tlsSetup {
	t.Helper()
	ca, err := pkitest.NewCA("govirt test CA")
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(err)
	other, err := pkitest.NewCA("another CA")
	check(err)
	dir := t.TempDir()
	s := &tlsSetup{ca: ca, serverDir: filepath.Join(dir, "server"), good: filepath.Join(dir, "good"),
		foreign: filepath.Join(dir, "foreign"), none: filepath.Join(dir, "none")}
	srv, err := ca.Server(pkix.Name{CommonName: "localhost", Organization: []string{"govirt"}})
	check(err)
	check(pkitest.WriteServerDir(s.serverDir, ca, srv))
	cli, err := ca.Client(pkix.Name{CommonName: "client", Organization: []string{"govirt"}, Country: []string{"GB"}})
	check(err)
	check(pkitest.WriteClientDir(s.good, ca, cli))
	// The foreign client trusts both CAs, so libvirt's own sanity check of
	// its credentials passes and only the server can refuse it.
	fcli, err := other.Client(pkix.Name{CommonName: "client", Organization: []string{"govirt"}, Country: []string{"GB"}})
	check(err)
	check(pkitest.WriteClientDir(s.foreign, &pkitest.CA{PEM: append(append([]byte{}, ca.PEM...), other.PEM...)}, fcli))
	check(pkitest.WriteClientDir(s.none, ca, pkitest.Leaf{}))
	return s
}

// startTLSDaemon runs govirtd with --listen-tls on a free loopback port and
// returns it with the TLS address.
func startTLSDaemon(t *testing.T, s *tlsSetup, extra ...string) (*daemon, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d := startDaemon(t, append([]string{"--listen-tls", addr, "--pki-dir", s.serverDir}, extra...)...)
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TLS port %s never opened: %v\n%s", addr, err, d.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d, addr
}

func tlsURI(drv, addr, pkipath string) string {
	path := "/default"
	if drv == "qemu" {
		path = "/system"
	}
	return fmt.Sprintf("%s+tls://%s%s?pkipath=%s", drv, addr, path, pkipath)
}

func TestTLSVirsh(t *testing.T) {
	s := newTLSSetup(t)
	_, addr := startTLSDaemon(t, s)
	uri := tlsURI("test", addr, s.good)

	if out := mustVirsh(t, uri, "list --all"); !strings.Contains(out, " test ") {
		t.Errorf("list --all:\n%s", out)
	}
	if out := mustVirsh(t, uri, "dominfo test"); !strings.Contains(out, "Name:           test") {
		t.Errorf("dominfo:\n%s", out)
	}
	// The qemu driver answers over the same transport.
	mustVirsh(t, tlsURI("qemu", addr, s.good), "list --all")

	// A read-only connection (virsh -r) is refused changes, as over TCP.
	if out, errOut, rc := virsh(t, uri, "-r", "destroy test"); rc == 0 || !strings.Contains(errOut, "read only access") {
		t.Errorf("read-only destroy: rc=%d %s %s", rc, out, errOut)
	}

	// Streams: vol-upload then vol-download, byte for byte.
	dir := t.TempDir()
	in, outPath := filepath.Join(dir, "in.img"), filepath.Join(dir, "out.img")
	data := make([]byte, 8<<20)
	rand.Read(data)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "vol-create-as default-pool tls.img 8M; vol-upload tls.img "+in+
		" --pool default-pool; vol-download tls.img "+outPath+" --pool default-pool")
	got, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
	}
}

// refusedVirsh runs virsh and expects libvirt's client to report that the
// server did not confirm the connection.
func refusedVirsh(t *testing.T, what, uri string) {
	t.Helper()
	out, errOut, rc := virsh(t, uri, "list --all")
	if rc == 0 {
		t.Errorf("%s: connected:\n%s", what, out)
		return
	}
	t.Logf("%s: %s", what, strings.TrimSpace(errOut))
	if !strings.Contains(errOut, "TLS confirmation") && !strings.Contains(errOut, "server verification") {
		t.Errorf("%s: unexpected error:\n%s", what, errOut)
	}
}

func TestTLSRefusals(t *testing.T) {
	s := newTLSSetup(t)
	d, addr := startTLSDaemon(t, s)
	refusedVirsh(t, "no client certificate", tlsURI("test", addr, s.none))
	refusedVirsh(t, "client certificate of another CA", tlsURI("test", addr, s.foreign))
	// gnutls (libvirt's client) sends no certificate when its issuer is
	// not among the CAs the server names, so the foreign client may be
	// refused as certificate-less; both refusals are logged.
	if n := strings.Count(d.Log(), "failed to verify peer's certificate"); n != 2 {
		t.Errorf("%d refusals logged, want 2:\n%s", n, d.Log())
	}
	// The daemon still serves good clients afterwards.
	mustVirsh(t, tlsURI("test", addr, s.good), "list --all")
}

func TestTLSAllowedDNList(t *testing.T) {
	s := newTLSSetup(t)
	conf := filepath.Join(t.TempDir(), "govirtd.conf")
	os.WriteFile(conf, []byte(`tls_allowed_dn_list = ["CN=admin,*"]`+"\n"), 0o600)
	d, addr := startTLSDaemon(t, s, "--config", conf)
	refusedVirsh(t, "DN not allowed", tlsURI("test", addr, s.good))
	if !strings.Contains(d.Log(), "tls_allowed_dn_list") || !strings.Contains(d.Log(), "CN=client,O=govirt,C=GB") {
		t.Errorf("DN refusal not logged with the DN:\n%s", d.Log())
	}

	os.WriteFile(conf, []byte(`tls_allowed_dn_list = ["CN=admin,*", "CN=client,O=gov*"]`+"\n"), 0o600)
	_, addr = startTLSDaemon(t, s, "--config", conf)
	mustVirsh(t, tlsURI("test", addr, s.good), "list --all")
}

const pyTLSKeepalive = `
import sys, threading, time
import libvirt
libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
conn = libvirt.open(sys.argv[1])
assert conn.isEncrypted() == 1, conn.isEncrypted()
assert conn.isSecure() == 1, conn.isSecure()
conn.setKeepAlive(1, 2)
time.sleep(4)  # several keepalive rounds: an unanswered one would close the connection
assert conn.isAlive() == 1
assert conn.lookupByName("test").info()[0] == libvirt.VIR_DOMAIN_RUNNING
conn.close()
print("ok")
`

// TestTLSPython runs python-libvirt over TLS: the lifecycle script (with
// events) and keepalive.
func TestTLSPython(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	s := newTLSSetup(t)
	_, addr := startTLSDaemon(t, s)
	uri := tlsURI("test", addr, s.good)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, argv := range [][]string{
		{"testdata/python/lifecycle.py", uri},
		{"-c", pyTLSKeepalive, uri},
	} {
		out, err := exec.CommandContext(ctx, "/usr/bin/python3", argv...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ok") {
			t.Errorf("python %s: %v\n%s", argv[0], err, out)
		}
	}
}
