package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"govirt/virerr"
)

func TestAuthConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.conf")
	text := `# comment
[credentials-test]
authname=fred
password = 123\s456\\x

[credentials-prod]
authname=bar
password=letmein

[auth-libvirt-test1.example.com]
credentials=test

[auth-libvirt-default]
credentials=prod

[auth-libvirt-broken]
credentials=nothere

[auth-libvirt-nocreds]
foo=bar
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ac, err := loadAuthConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ host, cred, want string }{
		{"test1.example.com", "authname", "fred"},
		{"test1.example.com", "password", `123 456\x`},
		{"test1.example.com", "realm", ""},
		{"other", "authname", "bar"},
		{"", "password", "letmein"},
	} {
		got, err := ac.lookup("libvirt", tc.host, tc.cred)
		if err != nil || got != tc.want {
			t.Errorf("%s %s: %q %v, want %q", tc.host, tc.cred, got, err, tc.want)
		}
	}
	if got, err := ac.lookup("ssh", "test1.example.com", "authname"); got != "" || err != nil {
		t.Errorf("another service: %q %v", got, err)
	}
	_, err = ac.lookup("libvirt", "broken", "authname")
	if ve, ok := err.(*virerr.Error); !ok || ve.Code != virerr.ErrConfSyntax ||
		ve.Message != "configuration file syntax error: Missing group 'credentials-nothere' referenced from group 'auth-libvirt-broken' in '"+path+"'" {
		t.Errorf("missing group: %v", err)
	}
	_, err = ac.lookup("libvirt", "nocreds", "authname")
	if err == nil || !strings.Contains(err.Error(), "Missing item 'credentials' in group 'auth-libvirt-nocreds'") {
		t.Errorf("missing item: %v", err)
	}

	if err := os.WriteFile(path, []byte("authname=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadAuthConfig(path); err == nil {
		t.Error("a key outside a group was accepted")
	}
}

func TestAuthConfigPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("LIBVIRT_AUTH_FILE", "")
	user := filepath.Join(home, ".config", "libvirt", "auth.conf")
	sys := ""
	if _, err := os.Stat("/etc/libvirt/auth.conf"); err == nil {
		sys = "/etc/libvirt/auth.conf"
	}
	if got := authConfigPath(""); got != sys {
		t.Errorf("nothing: %q", got)
	}
	os.MkdirAll(filepath.Dir(user), 0o700)
	os.WriteFile(user, nil, 0o600)
	if got := authConfigPath(""); got != user {
		t.Errorf("user file: %q", got)
	}
	if got := authConfigPath("/uri/file"); got != "/uri/file" {
		t.Errorf("authfile=: %q", got)
	}
	t.Setenv("LIBVIRT_AUTH_FILE", "/env/file")
	if got := authConfigPath("/uri/file"); got != "/env/file" {
		t.Errorf("LIBVIRT_AUTH_FILE: %q", got)
	}
}
