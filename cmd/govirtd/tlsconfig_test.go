package main

import (
	"crypto/x509/pkix"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"govirt/tlsauth"
	"govirt/tlsauth/pkitest"
)

func TestTLSFlagsAndDefaults(t *testing.T) {
	cfg, _, err := parseArgs([]string{"--listen-tls", "127.0.0.1:16514"})
	if err != nil {
		t.Fatal(err)
	}
	want := tlsConfig{Listen: "127.0.0.1:16514", KeyFile: tlsauth.DefaultKeyFile,
		CertFile: tlsauth.DefaultCertFile, CAFile: tlsauth.DefaultCAFile}
	if !reflect.DeepEqual(cfg.TLS, want) {
		t.Errorf("defaults: %+v", cfg.TLS)
	}
	cfg, _, err = parseArgs([]string{"--listen-tls", ":1", "--pki-dir", "/p"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.KeyFile != "/p/serverkey.pem" || cfg.TLS.CertFile != "/p/servercert.pem" || cfg.TLS.CAFile != "/p/cacert.pem" {
		t.Errorf("pki-dir: %+v", cfg.TLS)
	}
}

func TestTLSConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "govirtd.conf")
	os.WriteFile(file, []byte(`listen_tls = "0.0.0.0:16514"
pki_dir = "/pki"
ca_file = "/etc/ca.pem"
tls_no_sanity_certificate = 1
tls_allowed_dn_list = ["CN=admin,*",
    'C=GB,ST=London,L=London,O=Red Hat,CN=*' ]
`), 0o600)
	cfg, _, err := parseArgs([]string{"--config", file, "--listen-tls", "127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	want := tlsConfig{Listen: "127.0.0.1:9", PKIDir: "/pki", KeyFile: "/pki/serverkey.pem",
		CertFile: "/pki/servercert.pem", CAFile: "/etc/ca.pem", NoSanityCertificate: true,
		AllowedDNs: []string{"CN=admin,*", "C=GB,ST=London,L=London,O=Red Hat,CN=*"}}
	if !reflect.DeepEqual(cfg.TLS, want) {
		t.Errorf("got  %+v\nwant %+v", cfg.TLS, want)
	}

	os.WriteFile(file, []byte("tls_allowed_dn_list = []\n"), 0o600)
	if cfg, _, err = parseArgs([]string{"--config", file}); err != nil || cfg.TLS.AllowedDNs == nil || len(cfg.TLS.AllowedDNs) != 0 {
		t.Errorf("empty list: %#v, %v", cfg.TLS.AllowedDNs, err)
	}
	for _, bad := range []string{
		`tls_allowed_dn_list = "CN=x"`,
		`tls_allowed_dn_list = [CN=x]`,
		`tls_allowed_dn_list = ["CN=x" "CN=y"]`,
		`tls_allowed_dn_list = ["CN=x]`,
		`tls_no_verify_certificate = maybe`,
	} {
		os.WriteFile(file, []byte(bad+"\n"), 0o600)
		if _, _, err := parseArgs([]string{"--config", file}); err == nil || !strings.Contains(err.Error(), "govirtd.conf:1") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// TestTLSStartupErrors runs the daemon (this test binary, re-executed) with
// broken credentials: it must exit non-zero naming the file.
func TestTLSStartupErrors(t *testing.T) {
	if args := os.Getenv("GOVIRTD_TEST_MAIN"); args != "" {
		os.Args = append([]string{"govirtd"}, strings.Split(args, "\n")...)
		main()
		os.Exit(0)
	}
	ca, err := pkitest.NewCA("CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := ca.Server(pkix.Name{CommonName: "localhost"})
	pki := t.TempDir()
	if err := pkitest.WriteServerDir(pki, ca, srv); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(pki, "bad.pem"), []byte("junk"), 0o600)
	conf := filepath.Join(t.TempDir(), "c.conf")
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"missing key", "key_file = \"" + pki + "/nokey.pem\"", "cannot read server key '" + pki + "/nokey.pem'"},
		{"missing cert", "cert_file = \"" + pki + "/nocert.pem\"", "cannot read server certificate '" + pki + "/nocert.pem'"},
		{"missing CA", "ca_file = \"" + pki + "/noca.pem\"", "cannot read CA certificate '" + pki + "/noca.pem'"},
		{"invalid CA", "ca_file = \"" + pki + "/bad.pem\"", "CA certificate '" + pki + "/bad.pem'"},
	} {
		os.WriteFile(conf, []byte(tc.conf+"\n"), 0o600)
		dir := t.TempDir()
		args := []string{"--config", conf, "--state-dir", dir + "/s", "--run-dir", dir + "/r",
			"--listen-tls", "127.0.0.1:0", "--pki-dir", pki}
		cmd := exec.Command(os.Args[0], "-test.run=^TestTLSStartupErrors$")
		cmd.Env = append(os.Environ(), "GOVIRTD_TEST_MAIN="+strings.Join(args, "\n"))
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() == 0 {
			t.Errorf("%s: exit %v\n%s", tc.name, err, out)
			continue
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: output lacks %q:\n%s", tc.name, tc.want, out)
		}
		if _, err := os.Stat(dir + "/r/govirt-sock"); err == nil {
			t.Errorf("%s: sockets opened before the credentials were checked", tc.name)
		}
	}
}
