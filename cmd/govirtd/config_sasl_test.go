package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/rpc"
)

func TestSASLFromConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.conf")
	users := filepath.Join(dir, "users")
	os.WriteFile(path, []byte(`auth_unix_rw = "sasl"
auth_tcp = "sasl"
sasl_users = "`+users+`"
sasl_allowed_username_list = ["admin", "ops-*"]
sasl_mechanisms = ["scram-sha-256", "DIGEST-MD5"]
sasl_realm = "example"
sasl_digest_ciphers = ["rc4"]
`), 0o600)
	cfg, _, err := parseArgs([]string{"--config", path, "--run-dir", "/r"})
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Auth
	for svc, want := range map[rpc.Service]int32{
		{Transport: rpc.TransportUnix}:                 rpc.AuthSASL,
		{Transport: rpc.TransportUnix, ReadOnly: true}: rpc.AuthNone,
		{Transport: rpc.TransportTCP}:                  rpc.AuthSASL,
		{Transport: rpc.TransportTLS}:                  rpc.AuthNone,
	} {
		if got := a.listenerAuth(svc); got != want {
			t.Errorf("%+v: %v, want %v", svc, got, want)
		}
	}
	if strings.Join(a.SASLAllowed, ",") != "admin,ops-*" || a.SASLRealm != "example" || len(a.SASLMechs) != 2 || a.DigestCiphers[0] != "rc4" {
		t.Fatalf("%+v", a)
	}
	// The user file must exist at start; once there, it is reread when it
	// changes.
	var logb bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logb, nil))
	if _, err := a.saslPolicy(log); err == nil {
		t.Fatal("missing user file accepted")
	}
	if err := saslPasswd(users, "example", false, true, false, 1, []string{"alice"}, pipeOf(t, "pw\n"), nil); err != nil {
		t.Fatal(err)
	}
	os.Chmod(users, 0o644)
	p, err := a.saslPolicy(log)
	if err != nil || p == nil || !strings.Contains(logb.String(), "readable by others") {
		t.Fatalf("%v %v %s", p, err, logb.String())
	}
	us, err := p.Config.Users()
	if err != nil || us.Lookup("alice") == nil {
		t.Fatalf("%v %v", us, err)
	}
	if err := saslPasswd(users, "example", false, true, false, 1, []string{"bob"}, pipeOf(t, "pw2\n"), nil); err != nil {
		t.Fatal(err)
	}
	if us, _ := p.Config.Users(); us.Lookup("bob") == nil {
		t.Error("a new user is not seen")
	}
	if err := saslPasswd(users, "", true, false, false, 0, []string{"alice"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if us, _ := p.Config.Users(); us.Lookup("alice") != nil {
		t.Error("a deleted user is still there")
	}

	// No SASL listener, no policy; bad values refused.
	if p, err := (&authConfig{}).saslPolicy(log); p != nil || err != nil {
		t.Errorf("%v %v", p, err)
	}
	for _, bad := range []string{`auth_tcp = "polkit"`, `auth_tls = "kerberos"`, `sasl_mechanisms = ["GSSAPI"]`, `sasl_digest_ciphers = ["des"]`, `sasl_allowed_username_list = "x"`} {
		os.WriteFile(path, []byte(bad+"\n"), 0o600)
		if _, _, err := parseArgs([]string{"--config", path}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func pipeOf(t *testing.T, s string) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(s)
	w.Close()
	t.Cleanup(func() { r.Close() })
	return r
}
