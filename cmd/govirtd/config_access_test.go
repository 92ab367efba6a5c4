package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/rpc"
)

func TestSockConfig(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	os.WriteFile(rules, []byte("allow uid=0\n"), 0o600)
	file := filepath.Join(dir, "conf")
	os.WriteFile(file, []byte(`unix_sock_group = "0"
unix_sock_ro_perms = "0755"
unix_sock_rw_perms = "0770"
unix_sock_admin_perms = "0700"
unix_sock_dir = "`+dir+`/s"
auth_unix_ro = "sasl"
auth_tcp = "none"
access_drivers = [ "rules" ]
access_rules = "`+rules+`"
`), 0o600)
	cfg, _, err := parseArgs([]string{"--config", file})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sock
	if s.ROPerms != 0o755 || s.RWPerms != 0o770 || s.AdminPerms != 0o700 || s.AuthUnixRO != rpc.AuthSASL || s.AuthUnixRW != rpc.AuthNone {
		t.Fatalf("%+v", s)
	}
	if cfg.Socket != dir+"/s/govirt-sock" || cfg.SocketRO != dir+"/s/govirt-sock-ro" || cfg.AdminSocket != dir+"/s/govirt-admin-sock" {
		t.Fatalf("unix_sock_dir: %s %s %s", cfg.Socket, cfg.SocketRO, cfg.AdminSocket)
	}
	if gid, err := s.sockGID(); err != nil || gid != 0 {
		t.Fatalf("gid %d %v", gid, err)
	}
	m, err := s.accessManager()
	if err != nil || !m.Enabled() {
		t.Fatalf("access manager: %v", err)
	}
	// libvirtd's defaults without polkit.
	d := defaultSockConfig()
	if d.ROPerms != 0o777 || d.RWPerms != 0o700 || d.AdminPerms != 0o700 || d.AuthTCP != rpc.AuthNone {
		t.Fatalf("defaults %+v", d)
	}
	if m, err := d.accessManager(); err != nil || m.Enabled() {
		t.Fatal("no access_drivers must allow everything")
	}
}

func TestSockConfigRefusals(t *testing.T) {
	for line, want := range map[string]string{
		`auth_unix_rw = "polkit"`:              "govirt has no polkit",
		`auth_tls = "krb"`:                     "unsupported auth krb",
		`unix_sock_rw_perms = "0999"`:          "octal mode",
		`unix_sock_ro_perms = "01777"`:         "octal mode",
		`access_drivers = [ "polkit" ]`:        "polkit",
		`access_drivers = [ "rules" ]`:         "needs access_rules",
		`access_drivers = [ "none", "rules" ]`: "expected",
		`access_rules = "/x"`:                  "needs access_drivers",
	} {
		dir := t.TempDir()
		file := filepath.Join(dir, "conf")
		os.WriteFile(file, []byte(line+"\n"), 0o600)
		cfg, _, err := parseArgs([]string{"--config", file})
		if err == nil {
			_, err = cfg.Sock.accessManager()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v (want %q)", line, err, want)
		}
	}
}

// TestOpenTCPNeedsExplicitAuth: an unauthenticated TCP listener other
// hosts can reach is refused unless the config file says auth_tcp.
func TestOpenTCPNeedsExplicitAuth(t *testing.T) {
	if _, _, err := parseArgs([]string{"--run-dir", "/r", "--listen-tcp", "127.0.0.1:16509"}); err != nil {
		t.Errorf("loopback: %v", err)
	}
	_, _, err := parseArgs([]string{"--run-dir", "/r", "--listen-tcp", "0.0.0.0:16509"})
	if err == nil || !strings.Contains(err.Error(), `auth_tcp = "none" to allow it`) {
		t.Errorf("0.0.0.0 without auth_tcp: %v", err)
	}
	for _, v := range []string{"none", "sasl"} {
		path := filepath.Join(t.TempDir(), "c.conf")
		os.WriteFile(path, []byte("auth_tcp = \""+v+"\"\n"), 0o600)
		if _, _, err := parseArgs([]string{"--config", path, "--run-dir", "/r", "--listen-tcp", "0.0.0.0:16509"}); err != nil {
			t.Errorf("auth_tcp = %s: %v", v, err)
		}
	}
}

// TestTCPServicePeerCheck: without auth_tcp the loopback listener admits
// clients as the read-write socket's mode would; with it, as it says.
func TestTCPServicePeerCheck(t *testing.T) {
	cfg, _, err := parseArgs([]string{"--run-dir", "/r", "--listen-tcp", "127.0.0.1:16509"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cfg.tcpService()
	if err != nil || svc.PeerCheck == nil || svc.Auth != rpc.AuthNone {
		t.Fatalf("no auth_tcp: %+v %v", svc, err)
	}
	if err := svc.PeerCheck(rpc.Identity{Unix: true, UID: 0}); err != nil {
		t.Errorf("root refused: %v", err)
	}
	if err := svc.PeerCheck(rpc.Identity{Unix: true, UID: uint32(os.Geteuid())}); err != nil {
		t.Errorf("the daemon's own uid refused: %v", err)
	}
	if err := svc.PeerCheck(rpc.Identity{}); err == nil {
		t.Error("unknown client admitted")
	}
	for _, c := range []struct {
		mode os.FileMode
		id   rpc.Identity
		ok   bool
	}{
		{0o700, rpc.Identity{Unix: true, UID: 4242, GID: 4242}, false},
		{0o700, rpc.Identity{Unix: true, UID: 1000, GID: 1000}, true}, // the owner
		{0o500, rpc.Identity{Unix: true, UID: 1000, GID: 1000}, false},
		{0o770, rpc.Identity{Unix: true, UID: 4242, GID: 555}, true}, // the group
		{0o770, rpc.Identity{Unix: true, UID: 4242, GID: 4242}, false},
		{0o707, rpc.Identity{Unix: true, UID: 4242, GID: 555}, false}, // group bits apply to members
		{0o777, rpc.Identity{Unix: true, UID: 4242, GID: 4242}, true},
		{0o700, rpc.Identity{Unix: true, UID: 0, GID: 0}, true},
	} {
		err := rwSocketCheck(1000, 555, c.mode)(c.id)
		if (err == nil) != c.ok {
			t.Errorf("mode %#o uid %d gid %d: %v", c.mode, c.id.UID, c.id.GID, err)
		}
	}
	path := filepath.Join(t.TempDir(), "c.conf")
	os.WriteFile(path, []byte("auth_tcp = \"none\"\n"), 0o600)
	cfg, _, err = parseArgs([]string{"--config", path, "--run-dir", "/r", "--listen-tcp", "127.0.0.1:16509"})
	if err != nil {
		t.Fatal(err)
	}
	if svc, err := cfg.tcpService(); err != nil || svc.PeerCheck != nil {
		t.Errorf("auth_tcp = none: %+v %v", svc, err)
	}
}
