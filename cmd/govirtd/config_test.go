package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLimitsFromConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.conf")
	os.WriteFile(path, []byte("max_clients = 100\nmax_anonymous_clients = 0\nmax_client_requests = 2\nmin_workers = 1\nmax_workers = 4\nprio_workers = 0\nadmin_socket = \"/x/admin\"\nclient_stall_timeout = 0\nlog_filters = \"1:rpc\"\n"), 0o600)
	cfg, _, err := parseArgs([]string{"--config", path, "--run-dir", "/r"})
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if l.MaxClients != 100 || l.MaxAnonymousClients != 0 || l.MaxClientRequests != 2 || l.MinWorkers != 1 || l.MaxWorkers != 4 ||
		l.PrioWorkers != 0 || l.ClientStallTimeout != 0 || l.AnonymousClientTimeout != 60 || cfg.AdminSocket != "/x/admin" || cfg.LogFilters != "1:rpc" {
		t.Fatalf("%+v %q", l, cfg.AdminSocket)
	}
	cfg, _, err = parseArgs([]string{"--run-dir", "/r"})
	if err != nil || cfg.Limits != defaultLimits || cfg.AdminSocket != "/r/govirt-admin-sock" {
		t.Fatalf("%+v %v", cfg, err)
	}
	if l := defaultLimits; l.MaxClients != 5000 || l.MaxAnonymousClients != 20 || l.MaxClientRequests != 5 {
		t.Fatalf("libvirt defaults: %+v", l)
	}
	for _, bad := range []string{"max_clients = 5\nmax_anonymous_clients = 6", "max_workers = 1\nmin_workers = 2", "max_client_requests = 0", "max_clients = x", "max_clients = -1"} {
		os.WriteFile(path, []byte(bad+"\n"), 0o600)
		if _, _, err := parseArgs([]string{"--config", path}); err == nil {
			t.Errorf("%q accepted", strings.ReplaceAll(bad, "\n", "; "))
		}
	}
}

// qemu.conf's display settings go to the QEMU driver as they are written.
func TestGraphicsFromConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.conf")
	os.WriteFile(path, []byte("vnc_listen = \"0.0.0.0\"\nspice_tls = 1\nspice_tls_x509_cert_dir = \"/etc/pki/spice\"\nvnc_sasl = 1\nvnc_sasl_dir = \"/etc/sasl2\"\nnogfx_allow_host_audio = 0\n"), 0o600)
	cfg, _, err := parseArgs([]string{"--config", path, "--run-dir", "/r"})
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Graphics
	if g.VNCListen != "0.0.0.0" || !g.SpiceTLS || g.SpiceTLSx509CertDir != "/etc/pki/spice" || !g.VNCSASL ||
		g.VNCSASLDir != "/etc/sasl2" || g.NogfxAllowHostAudio {
		t.Fatalf("%+v", g)
	}
	os.WriteFile(path, []byte("spice_tls = yes\n"), 0o600)
	if _, _, err := parseArgs([]string{"--config", path}); err == nil {
		t.Error("spice_tls = yes accepted (qemu.conf booleans are 0/1)")
	}
}

func TestChardevTLSFromConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.conf")
	cfg, _, err := parseArgs([]string{"--run-dir", "/r"})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.chardevTLS(); c.Default || c.Dir != "" || !c.Verify {
		t.Errorf("defaults: %+v", c)
	}
	os.WriteFile(path, []byte("chardev_tls = 1\nchardev_tls_x509_cert_dir = \"/etc/pki/x\"\nchardev_tls_x509_verify = 0\nchardev_tls_x509_secret_uuid = \"6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea\"\n"), 0o600)
	cfg, _, err = parseArgs([]string{"--config", path, "--run-dir", "/r"})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.chardevTLS(); !c.Default || c.Dir != "/etc/pki/x" || c.Verify || c.SecretUUID != "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea" {
		t.Errorf("from file: %+v", c)
	}
	os.WriteFile(path, []byte("chardev_tls = maybe\n"), 0o600)
	if _, _, err := parseArgs([]string{"--config", path}); err == nil {
		t.Error("chardev_tls = maybe accepted")
	}
}

func TestQEMUUserFromConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.conf")
	cfg, _, err := parseArgs([]string{"--run-dir", "/r"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QEMUUser != "" || cfg.QEMUGroup != "" || cfg.NoDynamicOwnership {
		t.Errorf("defaults: %q %q %v", cfg.QEMUUser, cfg.QEMUGroup, cfg.NoDynamicOwnership)
	}
	os.WriteFile(path, []byte("user = \"govirt-qemu\"\ngroup = \"+64055\"\ndynamic_ownership = 0\n"), 0o600)
	cfg, _, err = parseArgs([]string{"--config", path, "--run-dir", "/r"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QEMUUser != "govirt-qemu" || cfg.QEMUGroup != "+64055" || !cfg.NoDynamicOwnership {
		t.Errorf("from file: %q %q %v", cfg.QEMUUser, cfg.QEMUGroup, cfg.NoDynamicOwnership)
	}
	os.WriteFile(path, []byte("dynamic_ownership = yes\n"), 0o600)
	if _, _, err := parseArgs([]string{"--config", path}); err == nil {
		t.Error("dynamic_ownership = yes accepted")
	}
}

func TestDefaultNetworkSwitch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.conf")
	for _, c := range []struct {
		file string
		args []string
		off  bool
	}{
		{"", nil, false},
		{"default_network = 1\n", nil, false},
		{"default_network = 0\n", nil, true},
		{"", []string{"--no-default-network"}, true},
		{"default_network = 1\n", []string{"--no-default-network"}, true},
	} {
		os.WriteFile(path, []byte(c.file), 0o600)
		cfg, _, err := parseArgs(append([]string{"--config", path, "--run-dir", "/r"}, c.args...))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.NoDefaultNetwork != c.off {
			t.Errorf("%q %v: NoDefaultNetwork %v", c.file, c.args, cfg.NoDefaultNetwork)
		}
	}
	os.WriteFile(path, []byte("default_network = yes\n"), 0o600)
	if _, _, err := parseArgs([]string{"--config", path}); err == nil {
		t.Error("default_network = yes accepted")
	}
}

// TestNamespacesSetting: qemu.conf's namespaces list, swtpm_user and
// swtpm_group, with libvirt's refusals.
func TestNamespacesSetting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.conf")
	cfg, _, err := parseArgs([]string{"--run-dir", "/r"})
	if err != nil || cfg.NamespacesSet {
		t.Fatalf("default: set=%v %v", cfg.NamespacesSet, err)
	}
	os.WriteFile(path, []byte("namespaces = []\nswtpm_user = \"tss\"\nswtpm_group = \"+110\"\n"), 0o600)
	cfg, _, err = parseArgs([]string{"--config", path, "--run-dir", "/r"})
	if err != nil || !cfg.NamespacesSet || len(cfg.Namespaces) != 0 || cfg.SwtpmUser != "tss" || cfg.SwtpmGroup != "+110" {
		t.Errorf("namespaces = []: %+v %v", cfg.Namespaces, err)
	}
	os.WriteFile(path, []byte("namespaces = [ \"net\" ]\n"), 0o600)
	if _, _, err := parseArgs([]string{"--config", path}); err == nil || !strings.Contains(err.Error(), "Unknown namespace: net") {
		t.Errorf("unknown namespace: %v", err)
	}
	if os.Geteuid() == 0 {
		os.WriteFile(path, []byte("namespaces = [\"mount\"]\n"), 0o600)
		cfg, _, err = parseArgs([]string{"--config", path, "--run-dir", "/r"})
		if err != nil || len(cfg.Namespaces) != 1 || cfg.Namespaces[0] != "mount" {
			t.Errorf("namespaces = [\"mount\"]: %+v %v", cfg.Namespaces, err)
		}
	}
}

func TestMigrateTLSFromConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.conf")
	cfg, _, err := parseArgs([]string{"--run-dir", "/r"})
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.migrateTLS(); m.Dir != "/etc/pki/qemu" || !m.Verify || m.Force {
		t.Errorf("defaults: %+v", m)
	}
	os.WriteFile(path, []byte("migrate_tls_x509_cert_dir = \"/etc/pki/mig\"\nmigrate_tls_x509_verify = 0\nmigrate_tls_force = 1\n"), 0o600)
	if cfg, _, err = parseArgs([]string{"--config", path, "--run-dir", "/r"}); err != nil {
		t.Fatal(err)
	}
	if m := cfg.migrateTLS(); m.Dir != "/etc/pki/mig" || m.Verify || !m.Force {
		t.Errorf("from file: %+v", m)
	}
	os.WriteFile(path, []byte("migrate_tls_force = yes\n"), 0o600)
	if _, _, err := parseArgs([]string{"--config", path}); err == nil {
		t.Error("migrate_tls_force = yes accepted")
	}
}
