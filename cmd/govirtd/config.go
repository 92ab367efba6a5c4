package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// config is everything govirtd can be told, from flags or a config file
// (flags win). The file uses libvirtd.conf's `key = value` syntax.
type config struct {
	StateDir       string
	RunDir         string
	Socket         string
	SocketRO       string
	ListenTCP      string
	LibvirtSockets bool
	LogLevel       string
	// VNCPortMin/Max bound the ports autoport VNC displays get (file only).
	VNCPortMin, VNCPortMax int
	// TLS is the --listen-tls transport's settings.
	TLS tlsConfig
}

func defaultConfig() config {
	if os.Geteuid() == 0 {
		return config{StateDir: "/var/lib/govirt", RunDir: "/run/govirt", LogLevel: "info"}
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
	return config{StateDir: filepath.Join(data, "govirt"), RunDir: run, LogLevel: "info"}
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
	fs.StringVar(&cfg.ListenTCP, "listen-tcp", "", "TCP address to listen on with auth none, e.g. 127.0.0.1:16509")
	fs.StringVar(&cfg.TLS.Listen, "listen-tls", "", "TCP address to serve TLS on (x509 client certificates), e.g. 0.0.0.0:16514")
	fs.StringVar(&cfg.TLS.PKIDir, "pki-dir", "", "directory holding serverkey.pem, servercert.pem and cacert.pem")
	fs.BoolVar(&cfg.LibvirtSockets, "libvirt-sockets", false, "also listen on libvirt's own socket paths")
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
	if cfg.Socket == "" {
		cfg.Socket = filepath.Join(cfg.RunDir, "govirt-sock")
	}
	if cfg.SocketRO == "" {
		cfg.SocketRO = filepath.Join(cfg.RunDir, "govirt-sock-ro")
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
		case "listen_tcp":
			cfg.ListenTCP = val
		case "log_level":
			cfg.LogLevel = val
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
		case "libvirt_sockets":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("%s:%d: libvirt_sockets: %v", path, line, err)
			}
			cfg.LibvirtSockets = b
		default:
			ok, err := cfg.TLS.set(key, raw)
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
