package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTCPLoopbackPeer: a loopback TCP listener without auth_tcp in the
// config file is not anonymous. The daemon reads each client's uid from
// the kernel's socket table and admits it as the read-write unix socket
// would: root gets in with no config (the command-line contract), nobody
// is refused with libvirt's "authentication failed" (the log says why),
// and auth_tcp = "none" is the explicit setting that lets anyone in.
func TestTCPLoopbackPeer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run clients as another user")
	}
	tcp := "127.0.0.1:" + strconv.Itoa(freePort(t))
	d := startDaemon(t, "--listen-tcp", tcp)
	for _, uri := range []string{"test+tcp://" + tcp + "/default", "qemu+tcp://" + tcp + "/system"} {
		mustVirsh(t, uri, "list --all")
	}
	if out := mustVirsh(t, "test+tcp://"+tcp+"/default", "domstate test"); strings.TrimSpace(out) != "running" {
		t.Errorf("root's domstate over TCP: %q", out)
	}
	for _, uri := range []string{"test+tcp://" + tcp + "/default", "qemu+tcp://" + tcp + "/system"} {
		_, errs, rc := asNobody(t, "virsh", "-c", uri, "list", "--all")
		if rc == 0 || !strings.Contains(errs, "error: authentication failed: authentication failed") {
			t.Errorf("nobody over loopback TCP without auth_tcp: rc %d %s", rc, errs)
		}
	}
	waitUntil(t, 5*time.Second, func() bool {
		return strings.Contains(d.Log(), "refusing TCP client without authentication") &&
			strings.Contains(d.Log(), "uid 65534 (nobody), as another user, may not use the read-write socket")
	}, "the refusal logged with its reason")
	if strings.Count(d.Log(), "refusing TCP client without authentication") != 2 {
		t.Errorf("want one log line per refused connection:\n%s", d.Log())
	}

	// auth_tcp = "none" is the explicit setting that lets anyone in.
	tcp2 := "127.0.0.1:" + strconv.Itoa(freePort(t))
	startDaemon(t, "--config", writeConfig(t, `auth_tcp = "none"`), "--listen-tcp", tcp2)
	if out, errs, rc := asNobody(t, "virsh", "-c", "test+tcp://"+tcp2+"/default", "list", "--name"); rc != 0 || strings.TrimSpace(out) != "test" {
		t.Errorf("nobody with auth_tcp = none: rc %d %q %s", rc, out, errs)
	}
}

// TestTCPLoopbackPeerACL: a loopback TCP client the socket table names
// carries that unix identity, so access rules on uid and user apply to it
// as on the unix socket; the socket's mode (here 0777) lets nobody in.
func TestTCPLoopbackPeerACL(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run clients as another user")
	}
	rulesPath := filepath.Join(t.TempDir(), "access.rules")
	os.WriteFile(rulesPath, []byte(accessRules), 0o600)
	tcp := "127.0.0.1:" + strconv.Itoa(freePort(t))
	conf := writeConfig(t, `access_drivers = [ "rules" ]`, `access_rules = "`+rulesPath+`"`, `unix_sock_rw_perms = "0777"`)
	startDaemon(t, "--config", conf, "--listen-tcp", tcp)
	uri := "test+tcp://" + tcp + "/default"
	if out, errs, rc := asNobody(t, "virsh", "-c", uri, "list", "--all", "--name"); rc != 0 || strings.TrimSpace(out) != "test" {
		t.Fatalf("nobody's list over TCP: rc %d %q %s", rc, out, errs)
	}
	if _, errs, rc := asNobody(t, "virsh", "-c", uri, "suspend", "test"); rc == 0 || !strings.Contains(errs, "error: access denied: 'Test' denied access") {
		t.Errorf("nobody's suspend over TCP: rc %d %s", rc, errs)
	}
	mustVirsh(t, uri, "suspend test") // root: allow uid=0
}
