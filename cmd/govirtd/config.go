package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"govirt/drivers/qemu"
	"govirt/drivers/qemu/command"
)

// config is everything govirtd can be told, from flags or a config file
// (flags win). The file uses libvirtd.conf's `key = value` syntax.
type config struct {
	// HostUUID and HostUUIDSource are libvirtd.conf's host_uuid and
	// host_uuid_source.
	HostUUID, HostUUIDSource string
	StateDir                 string
	RunDir                   string
	Socket                   string
	SocketRO                 string
	ListenTCP                string
	LibvirtSockets           bool
	// NoDefaultNetwork keeps the QEMU driver from defining the
	// 'default' network at its first start (default_network = 0).
	NoDefaultNetwork bool
	LogLevel         string
	// VNCPortMin/Max bound the ports autoport VNC displays get (file only).
	VNCPortMin, VNCPortMax int
	// Graphics are qemu.conf's display and audio settings (file only,
	// same keys: vnc_listen, spice_tls, vnc_sasl_dir, ...).
	Graphics command.GraphicsConfig
	// TLS is the --listen-tls transport's settings.
	TLS tlsConfig
	// Auth is the SASL settings (config_sasl.go).
	Auth authConfig
	// AdminSocket serves libvirt's admin program (virt-admin), root only.
	AdminSocket string
	// Limits are libvirtd.conf's processing controls.
	Limits limits
	// LogFilters and LogOutputs are libvirt-style log_filters/log_outputs.
	LogFilters, LogOutputs string
	// ChardevTLS is qemu.conf's chardev_tls, chardev_tls_x509_cert_dir,
	// chardev_tls_x509_verify and chardev_tls_x509_secret_uuid (file
	// only; verify defaults to on, as qemu.conf's default_tls_x509_verify).
	ChardevTLS       command.ChardevTLS
	chardevVerifySet bool
	// MigrateTLS is qemu.conf's migrate_tls_x509_cert_dir,
	// migrate_tls_x509_verify and migrate_tls_force (file only).
	MigrateTLS       qemu.MigrateTLS
	migrateVerifySet bool
	// QEMUUser and QEMUGroup are qemu.conf's user and group (file only):
	// QEMU runs as them, confined, and the guest's files are given to
	// them. Unset keeps QEMU as root with no relabelling.
	QEMUUser, QEMUGroup string
	// NoDynamicOwnership is qemu.conf's dynamic_ownership = 0.
	NoDynamicOwnership bool
	// Sock is libvirtd.conf's socket modes, authentication and access
	// control settings (config_access.go).
	Sock sockConfig
	// Namespaces is qemu.conf's namespaces (file only; NamespacesSet
	// when given): ["mount"] is a private /dev per QEMU, [] none.
	Namespaces    []string
	NamespacesSet bool
	// SwtpmUser and SwtpmGroup are qemu.conf's swtpm_user and
	// swtpm_group (file only).
	SwtpmUser, SwtpmGroup string
}

// limits are the client and worker limits, with libvirtd.conf's names.
type limits struct {
	MaxClients, MaxAnonymousClients, MaxClientRequests int
	MinWorkers, MaxWorkers, PrioWorkers                int
	AdminMaxClients, AdminMaxClientRequests            int
	AdminMinWorkers, AdminMaxWorkers                   int
	// Seconds; 0 turns the timeout off.
	ClientStallTimeout, AnonymousClientTimeout int
}

// libvirtd's defaults (remote_daemon_config.c), and govirtd's own timeouts.
var defaultLimits = limits{
	MaxClients: 5000, MaxAnonymousClients: 20, MaxClientRequests: 5,
	MinWorkers: 5, MaxWorkers: 20, PrioWorkers: 5,
	AdminMaxClients: 5000, AdminMaxClientRequests: 5,
	AdminMinWorkers: 5, AdminMaxWorkers: 20,
	ClientStallTimeout: 30, AnonymousClientTimeout: 60,
}

// intKeys maps the numeric config keys to their fields.
func (l *limits) intKeys() map[string]*int {
	return map[string]*int{
		"max_clients": &l.MaxClients, "max_anonymous_clients": &l.MaxAnonymousClients,
		"max_client_requests": &l.MaxClientRequests,
		"min_workers":         &l.MinWorkers, "max_workers": &l.MaxWorkers, "prio_workers": &l.PrioWorkers,
		"admin_max_clients": &l.AdminMaxClients, "admin_max_client_requests": &l.AdminMaxClientRequests,
		"admin_min_workers": &l.AdminMinWorkers, "admin_max_workers": &l.AdminMaxWorkers,
		"client_stall_timeout": &l.ClientStallTimeout, "anonymous_client_timeout": &l.AnonymousClientTimeout,
	}
}

// check refuses settings libvirtd refuses at start.
func (l *limits) check() error {
	for k, v := range l.intKeys() {
		if *v < 0 {
			return fmt.Errorf("%s must not be negative", k)
		}
	}
	if l.MaxClients < l.MaxAnonymousClients {
		return fmt.Errorf("max_clients (%d) must not be less than max_anonymous_clients (%d)", l.MaxClients, l.MaxAnonymousClients)
	}
	if l.MaxClients == 0 || l.AdminMaxClients == 0 {
		return fmt.Errorf("max_clients and admin_max_clients must be at least 1")
	}
	if l.MinWorkers > l.MaxWorkers || l.AdminMinWorkers > l.AdminMaxWorkers {
		return fmt.Errorf("min_workers must not be larger than max_workers")
	}
	if l.MaxClientRequests == 0 || l.AdminMaxClientRequests == 0 {
		return fmt.Errorf("max_client_requests and admin_max_client_requests must be at least 1")
	}
	return nil
}

func defaultConfig() config {
	if os.Geteuid() == 0 {
		return config{StateDir: "/var/lib/govirt", RunDir: "/run/govirt", LogLevel: "info", Limits: defaultLimits, Sock: defaultSockConfig()}
	}
	home, _ := os.UserHomeDir()
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		data = filepath.Join(home, ".local", "share")
	}
	run := os.Getenv("XDG_RUNTIME_DIR")
	if run == "" {
		run = filepath.Join(os.TempDir(), fmt.Sprintf("govirt-%d", os.Getuid()))
	} else {
		run = filepath.Join(run, "govirt")
	}
	return config{StateDir: filepath.Join(data, "govirt"), RunDir: run, LogLevel: "info", Limits: defaultLimits, Sock: defaultSockConfig()}
}

// parseArgs reads flags, then the config file they name, then fills the
// socket defaults that depend on the run dir.
func parseArgs(args []string) (cfg config, showVersion bool, err error) {
	cfg = defaultConfig()
	fs := flag.NewFlagSet("govirtd", flag.ContinueOnError)
	var file string
	fs.StringVar(&file, "config", "", "config file (key = value lines)")
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "persistent state (definitions)")
	fs.StringVar(&cfg.RunDir, "run-dir", cfg.RunDir, "runtime state (running guests, sockets)")
	fs.StringVar(&cfg.Socket, "socket", "", "read-write unix socket (default RUN-DIR/govirt-sock)")
	fs.StringVar(&cfg.SocketRO, "socket-ro", "", "read-only unix socket (default RUN-DIR/govirt-sock-ro)")
	fs.StringVar(&cfg.ListenTCP, "listen-tcp", "", "TCP address to listen on, e.g. 127.0.0.1:16509 (see auth_tcp)")
	fs.StringVar(&cfg.TLS.Listen, "listen-tls", "", "TCP address to serve TLS on (x509 client certificates), e.g. 0.0.0.0:16514")
	fs.StringVar(&cfg.TLS.PKIDir, "pki-dir", "", "directory holding serverkey.pem, servercert.pem and cacert.pem")
	fs.StringVar(&cfg.AdminSocket, "admin-socket", "", "admin unix socket for virt-admin (default RUN-DIR/govirt-admin-sock)")
	fs.BoolVar(&cfg.LibvirtSockets, "libvirt-sockets", false, "also listen on libvirt's own socket paths")
	fs.BoolVar(&cfg.NoDefaultNetwork, "no-default-network", cfg.NoDefaultNetwork, "do not define the 'default' NAT network at the first start")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	if err = fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if file != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if err = loadFile(file, &cfg, set); err != nil {
			return cfg, false, err
		}
	}
	cfg.TLS.fillFiles()
	sockDir := cfg.RunDir
	if cfg.Sock.Dir != "" { // unix_sock_dir
		sockDir = cfg.Sock.Dir
	}
	if cfg.Socket == "" {
		cfg.Socket = filepath.Join(sockDir, "govirt-sock")
	}
	if cfg.SocketRO == "" {
		cfg.SocketRO = filepath.Join(sockDir, "govirt-sock-ro")
	}
	if cfg.AdminSocket == "" {
		cfg.AdminSocket = filepath.Join(sockDir, "govirt-admin-sock")
	}
	if err = cfg.Limits.check(); err != nil {
		return cfg, false, err
	}
	if err = cfg.checkOpenTCP(); err != nil {
		return cfg, false, err
	}
	return cfg, showVersion, nil
}

// loadFile applies the file's settings except those given as flags.
func loadFile(path string, cfg *config, flagSet map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, val, ok := strings.Cut(text, "=")
		if !ok {
			return fmt.Errorf("%s:%d: expected key = value", path, line)
		}
		key = strings.TrimSpace(key)
		raw := strings.TrimSpace(val)
		// A list may run over several lines until its closing bracket.
		for strings.HasPrefix(raw, "[") && !strings.HasSuffix(raw, "]") && sc.Scan() {
			line++
			raw += " " + strings.TrimSpace(sc.Text())
		}
		val = strings.Trim(raw, `"`)
		flagName := strings.ReplaceAll(key, "_", "-")
		if flagSet[flagName] {
			continue
		}
		switch key {
		case "state_dir":
			cfg.StateDir = val
		case "run_dir":
			cfg.RunDir = val
		case "socket":
			cfg.Socket = val
		case "socket_ro":
			cfg.SocketRO = val
		case "admin_socket":
			cfg.AdminSocket = val
		case "log_filters":
			cfg.LogFilters = val
		case "log_outputs":
			cfg.LogOutputs = val
		case "listen_tcp":
			cfg.ListenTCP = val
		case "log_level":
			cfg.LogLevel = val
		case "host_uuid":
			cfg.HostUUID = val
		case "host_uuid_source":
			cfg.HostUUIDSource = val
		case "vnc_port_min", "vnc_port_max":
			n, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("%s:%d: %s: %v", path, line, key, err)
			}
			if key == "vnc_port_min" {
				cfg.VNCPortMin = n
			} else {
				cfg.VNCPortMax = n
			}
		case "chardev_tls", "chardev_tls_x509_verify":
			b, err := parseConfBool(val)
			if err != nil {
				return fmt.Errorf("%s:%d: %s: %v", path, line, key, err)
			}
			if key == "chardev_tls" {
				cfg.ChardevTLS.Default = b
			} else {
				cfg.ChardevTLS.Verify, cfg.chardevVerifySet = b, true
			}
		case "user":
			cfg.QEMUUser = val
		case "group":
			cfg.QEMUGroup = val
		case "dynamic_ownership":
			b, err := parseConfBool(val)
			if err != nil {
				return fmt.Errorf("%s:%d: %s: %v", path, line, key, err)
			}
			cfg.NoDynamicOwnership = !b
		case "namespaces":
			list, err := parseStringList(raw)
			if err != nil {
				return fmt.Errorf("%s:%d: %s: %v", path, line, key, err)
			}
			for _, n := range list {
				// libvirt's errors (virQEMUDriverConfigLoadSecurityEntry).
				if n != "mount" {
					return fmt.Errorf("%s:%d: Unknown namespace: %s", path, line, n)
				}
				if os.Geteuid() != 0 {
					return fmt.Errorf("%s:%d: cannot use namespaces in session mode", path, line)
				}
				if _, err := os.Stat("/proc/self/ns/mnt"); err != nil {
					return fmt.Errorf("%s:%d: %s namespace is not available", path, line, n)
				}
			}
			cfg.Namespaces, cfg.NamespacesSet = list, true
		case "swtpm_user":
			cfg.SwtpmUser = val
		case "swtpm_group":
			cfg.SwtpmGroup = val
		case "migrate_tls_x509_verify", "migrate_tls_force":
			b, err := parseConfBool(val)
			if err != nil {
				return fmt.Errorf("%s:%d: %s: %v", path, line, key, err)
			}
			if key == "migrate_tls_force" {
				cfg.MigrateTLS.Force = b
			} else {
				cfg.MigrateTLS.Verify, cfg.migrateVerifySet = b, true
			}
		case "migrate_tls_x509_cert_dir":
			cfg.MigrateTLS.Dir = val
		case "chardev_tls_x509_cert_dir":
			cfg.ChardevTLS.Dir = val
		case "chardev_tls_x509_secret_uuid":
			cfg.ChardevTLS.SecretUUID = val
		case "default_network":
			b, err := parseConfBool(val)
			if err != nil {
				return fmt.Errorf("%s:%d: %s: %v", path, line, key, err)
			}
			if !flagSet["no-default-network"] { // the flag wins
				cfg.NoDefaultNetwork = !b
			}
		case "libvirt_sockets":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("%s:%d: libvirt_sockets: %v", path, line, err)
			}
			cfg.LibvirtSockets = b
		default:
			if ok, err := cfg.Auth.set(key, raw); ok { // config_sasl.go
				if err != nil {
					return fmt.Errorf("%s:%d: %s: %v", path, line, key, err)
				}
				continue
			}
			if ok, err := setGraphics(&cfg.Graphics, key, val); ok {
				if err != nil {
					return fmt.Errorf("%s:%d: %s: %v", path, line, key, err)
				}
				continue
			}
			if p, isInt := cfg.Limits.intKeys()[key]; isInt {
				n, err := strconv.Atoi(val)
				if err != nil {
					return fmt.Errorf("%s:%d: %s: %v", path, line, key, err)
				}
				*p = n
				continue
			}
			ok, err := cfg.Sock.set(key, raw)
			if !ok && err == nil {
				ok, err = cfg.TLS.set(key, raw)
			}
			if err != nil {
				return fmt.Errorf("%s:%d: %s: %v", path, line, key, err)
			}
			if !ok {
				return fmt.Errorf("%s:%d: unknown setting %q", path, line, key)
			}
		}
	}
	return sc.Err()
}

// parseConfBool reads a qemu.conf boolean: 0 or 1, as libvirt's
// virConfGetValueBool.
func parseConfBool(v string) (bool, error) {
	switch v {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, fmt.Errorf("expected 0 or 1, not %q", v)
}

// chardevTLS is the chardev TLS setting with qemu.conf's default of
// verifying peers.
func (c *config) chardevTLS() command.ChardevTLS {
	t := c.ChardevTLS
	if !c.chardevVerifySet {
		t.Verify = true
	}
	return t
}

// migrateTLS is the migration TLS setting with qemu.conf's defaults:
// the certificates in default_tls_x509_cert_dir, peers verified.
func (c *config) migrateTLS() qemu.MigrateTLS {
	t := c.MigrateTLS
	if !c.migrateVerifySet {
		t.Verify = true
	}
	if t.Dir == "" {
		t.Dir = "/etc/pki/qemu"
	}
	return t
}
