package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
	"govirt/virerr"
)

// saslEnv is a daemon with SASL on its read-write unix socket and on a
// TCP listener, and users alice (password "secret") and bob ("bobpw").
type saslEnv struct {
	d     *daemon
	tcp   string // 127.0.0.1:PORT
	users string // the user file
	dir   string
}

// saslUser adds a user with govirtd's own sasl-passwd subcommand.
func saslUser(t *testing.T, file, name, password string) {
	t.Helper()
	cmd := exec.Command(buildDaemon(t), "sasl-passwd", "-f", file, "-p", name)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sasl-passwd %s: %v\n%s", name, err, out)
	}
}

func startSASLDaemon(t *testing.T, conf ...string) *saslEnv {
	t.Helper()
	dir := t.TempDir()
	e := &saslEnv{dir: dir, users: filepath.Join(dir, "sasl.users"), tcp: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	saslUser(t, e.users, "alice", "secret")
	saslUser(t, e.users, "bob", "bobpw")
	data, err := os.ReadFile(e.users)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "secret") || strings.Contains(string(data), "bobpw") {
		t.Fatalf("the user file holds a clear password:\n%s", data)
	}
	lines := append([]string{`auth_unix_rw = "sasl"`, `auth_tcp = "sasl"`, `sasl_users = "` + e.users + `"`}, conf...)
	e.d = startDaemon(t, "--config", writeConfig(t, lines...), "--listen-tcp", e.tcp)
	return e
}

// authFile writes a libvirt auth.conf giving user and password for the
// unix socket (host "localhost") and for 127.0.0.1, so virsh never
// prompts, and points LIBVIRT_AUTH_FILE at it.
func (e *saslEnv) authFile(t *testing.T, user, password string) {
	t.Helper()
	path := filepath.Join(e.dir, "auth.conf")
	text := fmt.Sprintf("[credentials-it]\nauthname=%s\npassword=%s\n\n[auth-libvirt-localhost]\ncredentials=it\n\n[auth-libvirt-127.0.0.1]\ncredentials=it\n", user, password)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LIBVIRT_AUTH_FILE", path)
}

func (e *saslEnv) unixURI(mech string) string {
	u := e.d.URI("test")
	if mech != "" {
		u += "&auth=sasl." + mech
	}
	return u
}

func (e *saslEnv) tcpURI(mech string) string {
	u := "test+tcp://" + e.tcp + "/default"
	if mech != "" {
		u += "?auth=sasl." + mech
	}
	return u
}

// TestSASLUnixVirsh: every mechanism logs in over the unix socket with
// the real virsh (cyrus-sasl's client), a wrong password is refused with
// libvirt's error and the daemon logs why, and the read-only socket,
// left at auth "none", still needs nothing.
func TestSASLUnixVirsh(t *testing.T) {
	e := startSASLDaemon(t)
	e.authFile(t, "alice", "secret")
	for _, mech := range []string{"", "SCRAM-SHA-256", "SCRAM-SHA-1", "DIGEST-MD5", "PLAIN"} {
		out, errOut, rc := virsh(t, e.unixURI(mech), "domstate test")
		if rc != 0 || strings.TrimSpace(out) != "running" {
			t.Errorf("mechanism %q: rc=%d %q %s\n%s", mech, rc, out, errOut, e.d.Log())
		}
	}
	if !strings.Contains(e.d.Log(), `mechanism=SCRAM-SHA-256`) || !strings.Contains(e.d.Log(), "identity=alice") {
		t.Errorf("the daemon did not log the logins:\n%s", e.d.Log())
	}
	ro := "test+unix:///default?socket=" + e.d.SockRO
	if out := mustVirsh(t, ro, "domstate test"); strings.TrimSpace(out) != "running" {
		t.Errorf("read-only socket: %q", out)
	}

	e.authFile(t, "alice", "wrong")
	for _, mech := range []string{"SCRAM-SHA-256", "DIGEST-MD5", "PLAIN"} {
		_, errOut, rc := virsh(t, e.unixURI(mech), "domstate test")
		if rc == 0 || !strings.Contains(errOut, "error: authentication failed: authentication failed") {
			t.Errorf("wrong password with %s: rc=%d %s", mech, rc, errOut)
		}
	}
	if !strings.Contains(e.d.Log(), `wrong password for user \"alice\"`) {
		t.Errorf("the daemon did not log the wrong password:\n%s", e.d.Log())
	}
	e.authFile(t, "nobody", "secret")
	if _, errOut, rc := virsh(t, e.unixURI(""), "domstate test"); rc == 0 || !strings.Contains(errOut, "authentication failed") {
		t.Errorf("unknown user: rc=%d %s", rc, errOut)
	}
}

// TestSASLTCPDigestLayer: over plain TCP libvirt's client demands a
// security layer of at least 56 bits, so only DIGEST-MD5 with auth-conf
// is offered; after the login every RPC byte travels wrapped in it, large
// messages (split over several layer packets) and streams included.
func TestSASLTCPDigestLayer(t *testing.T) {
	e := startSASLDaemon(t)
	e.authFile(t, "alice", "secret")
	uri := e.tcpURI("")
	if out := mustVirsh(t, uri, "list --all"); !strings.Contains(out, " test ") {
		t.Errorf("list --all over TCP:\n%s", out)
	}
	if !strings.Contains(e.d.Log(), "mechanism=DIGEST-MD5 ssf=128") {
		t.Errorf("the TCP login did not negotiate DIGEST-MD5's layer:\n%s", e.d.Log())
	}
	// SCRAM has no layer: the server does not offer it on TCP.
	if _, errOut, rc := virsh(t, e.tcpURI("SCRAM-SHA-256"), "list"); rc == 0 || !strings.Contains(errOut, "SASL mechanism SCRAM-SHA-256 not supported by server") {
		t.Errorf("SCRAM over TCP: rc=%d %s", rc, errOut)
	}

	// A 200 KiB description crosses the 64 KiB layer packets both ways.
	desc := strings.Repeat("0123456789abcdef", 200<<10/16)
	xml := "<domain type='test'><name>big</name><description>" + desc + "</description><memory>8192</memory><os><type>hvm</type></os></domain>"
	xmlPath := filepath.Join(e.dir, "big.xml")
	if err := os.WriteFile(xmlPath, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustVirsh(t, uri, "define "+xmlPath+"; dumpxml big")
	if !strings.Contains(out, desc) {
		t.Errorf("dumpxml over the layer lost the description (%d bytes back)", len(out))
	}

	// Streams: vol-upload then vol-download, byte for byte.
	in, outPath := filepath.Join(e.dir, "in.img"), filepath.Join(e.dir, "out.img")
	data := make([]byte, 3<<20)
	rand.Read(data)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "vol-create-as default-pool sasl.img 3M; vol-upload sasl.img "+in+
		" --pool default-pool; vol-download sasl.img "+outPath+" --pool default-pool")
	got, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
	}

	e.authFile(t, "alice", "wrong")
	if _, errOut, rc := virsh(t, uri, "list"); rc == 0 || !strings.Contains(errOut, "authentication failed: authentication failed") {
		t.Errorf("wrong password over TCP: rc=%d %s", rc, errOut)
	}
}

// TestSASLAllowedUsers: sasl_allowed_username_list lets in only the names
// matching a glob; others authenticate and are still refused.
func TestSASLAllowedUsers(t *testing.T) {
	e := startSASLDaemon(t, `sasl_allowed_username_list = ["ali*", "carol"]`)
	e.authFile(t, "alice", "secret")
	mustVirsh(t, e.unixURI(""), "domstate test")
	e.authFile(t, "bob", "bobpw")
	for _, uri := range []string{e.unixURI(""), e.tcpURI("")} {
		if _, errOut, rc := virsh(t, uri, "domstate test"); rc == 0 || !strings.Contains(errOut, "authentication failed: authentication failed") {
			t.Errorf("bob on %s: rc=%d %s", uri, rc, errOut)
		}
	}
	if !strings.Contains(e.d.Log(), "SASL client identity not allowed by ACL") || !strings.Contains(e.d.Log(), "identity=bob") {
		t.Errorf("the refusal is not logged:\n%s", e.d.Log())
	}
}

// TestSASLUnauthenticatedCalls: before authenticating, a client gets
// libvirt's "authentication required" for every call but the
// authentication ones, on both programs, and SASL calls out of order fail.
func TestSASLUnauthenticatedCalls(t *testing.T) {
	e := startSASLDaemon(t)
	dial := func() *client.Client {
		nc, err := net.Dial("unix", e.d.Socket)
		if err != nil {
			t.Fatal(err)
		}
		c := client.New(nc)
		t.Cleanup(func() { c.Close() })
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dial()
	var al remote.AuthListRet
	if err := c.Call(ctx, procs.AuthList, nil, &al); err != nil || len(al.Types) != 1 || al.Types[0] != remote.RemoteAuthSasl {
		t.Fatalf("AUTH_LIST: %v %v", al, err)
	}
	wantErr := func(what string, err error, code virerr.Code, msg string) {
		t.Helper()
		ve, ok := err.(*virerr.Error)
		if !ok || ve.Code != code || ve.Message != msg {
			t.Errorf("%s: got %#v, want code %d %q", what, err, code, msg)
		}
	}
	name := "test:///default"
	err := c.Call(ctx, procs.ConnectOpen, remote.ConnectOpenArgs{Name: &name}, nil)
	wantErr("CONNECT_OPEN", err, virerr.ErrRPC, "authentication required")
	var lv remote.ConnectGetLibVersionRet
	wantErr("CONNECT_GET_LIB_VERSION", c.Call(ctx, procs.ConnectGetLibVersion, nil, &lv), virerr.ErrRPC, "authentication required")
	var fr remote.ConnectSupportsFeatureRet
	wantErr("CONNECT_SUPPORTS_FEATURE", c.Call(ctx, procs.ConnectSupportsFeature, remote.ConnectSupportsFeatureArgs{Feature: 10}, &fr), virerr.ErrRPC, "authentication required")
	err = c.CallProg(ctx, procs.ProgramQemu, 1, procs.QemuDomainMonitorCommand, remote.QemuDomainMonitorCommandArgs{Cmd: "x"}, nil)
	wantErr("QEMU_PROC_DOMAIN_MONITOR_COMMAND", err, virerr.ErrRPC, "authentication required")
	// START before INIT, and a mechanism that is not offered.
	var sr remote.AuthSaslStartRet
	wantErr("START before INIT", c.Call(ctx, procs.AuthSaslStart, remote.AuthSaslStartArgs{Mech: "PLAIN", Nil: 1}, &sr), virerr.ErrAuthFailed, "authentication failed: authentication failed")
	var ir remote.AuthSaslInitRet
	if err := c.Call(ctx, procs.AuthSaslInit, nil, &ir); err != nil || ir.Mechlist != "SCRAM-SHA-256,SCRAM-SHA-1,DIGEST-MD5,PLAIN" {
		t.Fatalf("AUTH_SASL_INIT: %q %v", ir.Mechlist, err)
	}
	wantErr("second INIT", c.Call(ctx, procs.AuthSaslInit, nil, &ir), virerr.ErrAuthFailed, "authentication failed: authentication failed")

	c = dial()
	if err := c.Call(ctx, procs.AuthSaslInit, nil, &ir); err != nil {
		t.Fatal(err)
	}
	wantErr("unknown mechanism", c.Call(ctx, procs.AuthSaslStart, remote.AuthSaslStartArgs{Mech: "GSSAPI", Nil: 1}, &sr), virerr.ErrAuthFailed, "authentication failed: authentication failed")
	// A failed attempt ends the session: STEP now has nothing to step.
	var st remote.AuthSaslStepRet
	wantErr("STEP after failure", c.Call(ctx, procs.AuthSaslStep, remote.AuthSaslStepArgs{Nil: 1}, &st), virerr.ErrAuthFailed, "authentication failed: authentication failed")
	// The still unauthenticated client is refused as before.
	wantErr("CONNECT_OPEN after failure", c.Call(ctx, procs.ConnectOpen, remote.ConnectOpenArgs{Name: &name}, nil), virerr.ErrRPC, "authentication required")

	// On a listener without SASL, INIT fails as libvirtd's does.
	nc, err := net.Dial("unix", e.d.SockRO)
	if err != nil {
		t.Fatal(err)
	}
	ro := client.New(nc)
	defer ro.Close()
	if err := ro.Call(ctx, procs.AuthList, nil, &al); err != nil || al.Types[0] != remote.RemoteAuthNone {
		t.Fatalf("AUTH_LIST on the read-only socket: %v %v", al, err)
	}
	wantErr("INIT without SASL", ro.Call(ctx, procs.AuthSaslInit, nil, &ir), virerr.ErrAuthFailed, "authentication failed: authentication failed")
}

// TestSASLTLS: SASL on top of TLS (auth_tls = "sasl"): SCRAM and PLAIN are
// offered since TLS already protects the channel.
func TestSASLTLS(t *testing.T) {
	s := newTLSSetup(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "sasl.users")
	saslUser(t, users, "alice", "secret")
	_, addr := startTLSDaemon(t, s, "--config", writeConfig(t, `auth_tls = "sasl"`, `sasl_users = "`+users+`"`))
	e := &saslEnv{dir: dir}
	e.authFile(t, "alice", "secret")
	for _, mech := range []string{"SCRAM-SHA-256", "PLAIN", "DIGEST-MD5"} {
		uri := tlsURI("test", addr, s.good) + "&auth=sasl." + mech
		if out := mustVirsh(t, uri, "domstate test"); strings.TrimSpace(out) != "running" {
			t.Errorf("TLS with %s: %q", mech, out)
		}
	}
	e.authFile(t, "alice", "nope")
	if _, errOut, rc := virsh(t, tlsURI("test", addr, s.good), "domstate test"); rc == 0 || !strings.Contains(errOut, "authentication failed: authentication failed") {
		t.Errorf("TLS wrong password: rc=%d %s", rc, errOut)
	}
}

const saslPython = `
import sys, libvirt
uri, user, password = sys.argv[1:4]
def cb(creds, data):
    for c in creds:
        if c[0] == libvirt.VIR_CRED_AUTHNAME:
            c[4] = user
        elif c[0] == libvirt.VIR_CRED_PASSPHRASE:
            c[4] = password
        else:
            return -1
    return 0
libvirt.registerErrorHandler(lambda *a: None, None)
auth = [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE], cb, None]
try:
    c = libvirt.openAuth(uri, auth, 0)
except libvirt.libvirtError as e:
    print("error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
    sys.exit(0)
print("ok", c.lookupByName("test").state()[0], c.getLibVersion())
`

// TestSASLPython: python3-libvirt's openAuth with a credential callback,
// over the unix socket and TCP.
func TestSASLPython(t *testing.T) {
	e := startSASLDaemon(t)
	script := filepath.Join(e.dir, "auth.py")
	if err := os.WriteFile(script, []byte(saslPython), 0o644); err != nil {
		t.Fatal(err)
	}
	// An empty auth file: the callback answers (a missing file fails
	// libvirt's open).
	empty := filepath.Join(e.dir, "empty.conf")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LIBVIRT_AUTH_FILE", empty)
	for _, uri := range []string{e.unixURI(""), e.tcpURI("")} {
		if got := pythonStdout(t, script, uri, "alice", "secret"); len(got) != 1 || got[0] != "ok 1 9000000" {
			t.Errorf("openAuth %s: %q", uri, got)
		}
		// VIR_ERR_AUTH_FAILED (45) from VIR_FROM_RPC (7).
		if got := pythonStdout(t, script, uri, "alice", "bad"); len(got) != 1 || got[0] != "error 45 7 authentication failed: authentication failed" {
			t.Errorf("openAuth %s with a wrong password: %q", uri, got)
		}
	}
}

// TestSASLClientInfo: virt-admin client-info shows the SASL user name, as
// libvirtd's sasl_user_name identity attribute.
func TestSASLClientInfo(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "sasl.users")
	saslUser(t, users, "alice", "secret")
	tcp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	d := startAdminDaemon(t, "--config", writeConfig(t, `auth_tcp = "sasl"`, `sasl_users = "`+users+`"`), "--listen-tcp", tcp)
	e := &saslEnv{d: d, dir: dir, tcp: tcp}
	e.authFile(t, "alice", "secret")
	h := holdVirsh(t, "-c", e.tcpURI(""))
	adm := d.adminSocket()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for id := range clientIDs(t, adm, "libvirtd") {
			info := adminFields(mustAdmin(t, adm, "client-info", "libvirtd", id))
			if info["sasl_user_name"] == "alice" {
				if !strings.HasPrefix(info["sock_addr"], "127.0.0.1:") {
					t.Errorf("client-info: %v", info)
				}
				fmt.Fprintln(h.stdin, "quit")
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no client with sasl_user_name alice:\n%s", d.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
