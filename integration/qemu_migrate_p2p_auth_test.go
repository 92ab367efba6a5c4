package integration

import (
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/tlsauth/pkitest"
)

// writeAuthConf writes a libvirt auth.conf giving user and password to
// every host (the [auth-libvirt-default] group).
func writeAuthConf(t *testing.T, path, user, password string) {
	t.Helper()
	text := fmt.Sprintf("# p2p credentials\n[credentials-dest]\nauthname = %s\npassword = %s\n\n[auth-libvirt-default]\ncredentials = dest\n", user, password)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestQEMUMigrateP2PAuth: peer-to-peer migration to a destination that
// demands SASL, the source daemon taking its credentials from the
// auth.conf that LIBVIRT_AUTH_FILE names in its environment, as
// libvirtd's qemuMigrationSrcPerformPeer2Peer does: over plain TCP
// (DIGEST-MD5, every byte then in its layer) and over TLS (SCRAM-SHA-256,
// the source presenting the client certificate of the URI's pkipath). A
// wrong password, missing credentials and TLS credentials the server or
// the client refuses fail with libvirt's errors and leave the guest
// running on the source.
func TestQEMUMigrateP2PAuth(t *testing.T) {
	s := newTLSSetup(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "sasl.users")
	saslUser(t, users, "alice", "secret")
	conf := writeConfig(t, `auth_tcp = "sasl"`, `auth_tls = "sasl"`, `sasl_users = "`+users+`"`)
	tcp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dst, tlsAddr := startTLSDaemon(t, s, "--config", conf, "--listen-tcp", tcp)
	authConf := filepath.Join(dir, "auth.conf")
	writeAuthConf(t, authConf, "alice", "secret")
	src := startDaemonEnv(t, []string{"LIBVIRT_AUTH_FILE=" + authConf})
	t.Cleanup(func() {
		killGuests(src)
		killGuests(dst)
		if t.Failed() {
			t.Logf("source daemon:\n%s\ndestination daemon:\n%s", src.Log(), dst.Log())
		}
	})
	tcpURI := "qemu+tcp://" + tcp + "/system"
	tlsURI := tlsURI("qemu", tlsAddr, s.good)

	image, sock, sock2 := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "console"), filepath.Join(dir, "console2")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "define "+writeXML(t, "p2pauth", noVNC(migrateGuestXML(t, "p2pauth", image, sock))))
	mustVirsh(t, src.URI("qemu"), "start p2pauth")
	con := waitBoot(t, sock)
	want := guestWrite(t, con, "/dev/vda", 21, 1024)

	refused := func(what, uri, wantErr string) {
		t.Helper()
		out, rc := migrateP2P(t, src, uri, "p2pauth", "", sock, sock2)
		if rc == 0 || !strings.Contains(out, wantErr) {
			t.Errorf("%s: rc=%d %s, want %q", what, rc, out, wantErr)
		}
		if got := domState(t, src, "p2pauth"); got != "running (booted)" {
			t.Fatalf("%s: source %q", what, got)
		}
	}

	// A wrong password: the destination's refusal, word for word.
	writeAuthConf(t, authConf, "alice", "wrong")
	refused("wrong password over TCP", tcpURI, "error: authentication failed: authentication failed")
	refused("wrong password over TLS", tlsURI, "error: authentication failed: authentication failed")
	if !strings.Contains(dst.Log(), `wrong password for user \"alice\"`) {
		t.Errorf("the destination did not log the wrong password:\n%s", dst.Log())
	}
	// No credentials for the host: there is no one to ask.
	if err := os.WriteFile(authConf, []byte("[credentials-x]\nauthname=alice\npassword=secret\n[auth-libvirt-otherhost]\ncredentials=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	refused("no credentials", tcpURI, "error: authentication failed: No authentication callback available")
	writeAuthConf(t, authConf, "alice", "secret")

	// TLS credentials: a CA that did not sign the server's certificate,
	// and a client certificate the server does not trust.
	other, err := pkitest.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := other.Client(pkix.Name{CommonName: "client", Organization: []string{"govirt"}})
	if err != nil {
		t.Fatal(err)
	}
	foreignCA := filepath.Join(dir, "foreign-ca")
	if err := pkitest.WriteClientDir(foreignCA, other, cli); err != nil {
		t.Fatal(err)
	}
	refused("missing CA", tlsURI+"-missing", "Cannot read CA certificate")
	refused("server not signed by our CA", fmt.Sprintf("qemu+tls://%s/system?pkipath=%s", tlsAddr, foreignCA),
		"error: authentication failed: Failed to verify peer's certificate")
	refused("client certificate of another CA", fmt.Sprintf("qemu+tls://%s/system?pkipath=%s", tlsAddr, s.foreign),
		"error: Unable to read TLS confirmation: Input/output error")

	// Over TCP: DIGEST-MD5 with its confidentiality layer, the only
	// mechanism libvirt's client accepts without TLS.
	out, rc := migrateP2P(t, src, tcpURI, "p2pauth", "", sock, sock2)
	if rc != 0 {
		t.Fatalf("migrate --p2p to a SASL destination over TCP: rc=%d\n%s", rc, out)
	}
	if !strings.Contains(dst.Log(), "mechanism=DIGEST-MD5 ssf=128") {
		t.Errorf("the TCP login did not negotiate DIGEST-MD5's layer:\n%s", dst.Log())
	}
	if got := domState(t, dst, "p2pauth"); got != "running (migrated)" {
		t.Fatalf("destination after TCP: %q", got)
	}
	con = console(t, sock2)
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after the SASL/TCP migration: %s, want %s", got, want)
	}
	want = guestWrite(t, con, "/dev/vda", 22, 1024)

	// Back over the source's unix socket (no authentication there).
	out, rc = migrateP2P(t, dst, "qemu+unix:///system?socket="+src.Socket, "p2pauth", "", sock2, sock)
	if rc != 0 {
		t.Fatalf("migrate back: rc=%d\n%s", rc, out)
	}

	// Over TLS: SCRAM-SHA-256 (TLS protects the channel), a plain live
	// p2p migration as `virsh migrate --live --p2p GUEST qemu+tls://...`.
	out, rc = migrateP2P(t, src, tlsURI, "p2pauth", "", sock, sock2)
	if rc != 0 {
		t.Fatalf("migrate --p2p to a SASL destination over TLS: rc=%d\n%s", rc, out)
	}
	if !strings.Contains(dst.Log(), "mechanism=SCRAM-SHA-256 ssf=0") {
		t.Errorf("the TLS login did not use SCRAM-SHA-256:\n%s", dst.Log())
	}
	if got := domState(t, dst, "p2pauth"); got != "running (migrated)" {
		t.Fatalf("destination after TLS: %q", got)
	}
	con = console(t, sock2)
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after the SASL/TLS migration: %s, want %s", got, want)
	}
	mustVirsh(t, dst.URI("qemu"), "destroy p2pauth")
}
