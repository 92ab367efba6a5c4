// Command govirtd is the govirt daemon: it serves libvirt's RPC protocol on
// unix sockets (and optionally TCP) for the test and QEMU drivers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"govirt/driver"
	"govirt/drivers/qemu"
	testdrv "govirt/drivers/test"
	"govirt/remote"
	"govirt/rpc"
	"govirt/tlsauth"
)

// Version is the govirt release; set with -ldflags "-X main.Version=...".
var Version = "0.1.0"

func main() {
	cfg, showVersion, err := parseArgs(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "govirtd:", err)
		os.Exit(2)
	}
	if showVersion {
		fmt.Printf("govirtd %s (libvirt protocol 9.0.0)\n", Version)
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: parseLevel(cfg.LogLevel)}))
	stopProfile := startCPUProfile(log)
	err = run(cfg, log)
	stopProfile()
	if err != nil {
		log.Error("govirtd failed", "err", err)
		os.Exit(1)
	}
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// listener is one socket the daemon serves, read-write or read-only.
type listener struct {
	ln       net.Listener
	readOnly bool
	path     string // unix socket path to remove on exit
}

func run(cfg config, log *slog.Logger) error {
	for _, dir := range []string{cfg.StateDir, cfg.RunDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	if cfg.VNCPortMin != 0 || cfg.VNCPortMax != 0 {
		lo, hi := cfg.VNCPortMin, cfg.VNCPortMax
		if lo == 0 {
			lo = 5900
		}
		if hi == 0 {
			hi = 65535
		}
		if err := qemu.SetVNCPortRange(lo, hi); err != nil {
			return err
		}
	}
	var tlsCtx *tlsauth.Context
	if cfg.TLS.Listen != "" {
		var err error
		if tlsCtx, err = loadTLS(cfg.TLS, log); err != nil {
			return err
		}
	}
	qemuDrv := qemu.New(qemu.Config{StateDir: cfg.StateDir, RunDir: cfg.RunDir, Log: log})
	// Guests left running are reconnected before the sockets open, so no
	// client sees a half-known set of guests; autostart runs after.
	if err := qemuDrv.Start(context.Background()); err != nil {
		return fmt.Errorf("qemu driver: %w", err)
	}
	drivers := []driver.Driver{testdrv.New(), qemuDrv}
	srv := remote.NewServer(log, drivers...)

	lns, err := openListeners(cfg, tlsCtx)
	defer func() {
		for _, l := range lns {
			l.ln.Close()
			if l.path != "" {
				os.Remove(l.path)
			}
		}
	}()
	if err != nil {
		return err
	}
	servers := make([]*rpc.Server, 0, len(lns))
	errc := make(chan error, len(lns))
	for _, l := range lns {
		rs := rpc.NewServer(srv.NewHandler(l.readOnly))
		rs.Logf = func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) }
		servers = append(servers, rs)
		log.Info("listening", "addr", l.ln.Addr().String(), "read_only", l.readOnly)
		go func(l listener) { errc <- rs.Serve(l.ln) }(l)
	}

	// Pools and networks first: guests' disks and NICs may need them.
	qemuDrv.StorageAutostart()
	qemuDrv.NetworkAutostart()
	go qemuDrv.Autostart(context.Background())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	case err = <-errc:
		if errors.Is(err, rpc.ErrServerClosed) {
			err = nil
		}
	}
	for _, rs := range servers {
		rs.Close()
	}
	return err
}

// openListeners opens every configured socket; on error the ones already
// open are returned so the caller can close them.
func openListeners(cfg config, tlsCtx *tlsauth.Context) ([]listener, error) {
	var out []listener
	add := func(path string, mode os.FileMode, ro bool) error {
		ln, err := listenUnix(path, mode)
		if err != nil {
			return err
		}
		out = append(out, listener{ln: ln, readOnly: ro, path: path})
		return nil
	}
	// libvirt's permissions: read-write only for the owner (and its group
	// when a socket group is configured), read-only for everyone.
	if err := add(cfg.Socket, 0o700, false); err != nil {
		return out, err
	}
	if err := add(cfg.SocketRO, 0o777, true); err != nil {
		return out, err
	}
	if cfg.LibvirtSockets {
		dir := "/run/libvirt"
		if os.Geteuid() != 0 {
			if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
				dir = filepath.Join(rt, "libvirt")
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return out, err
		}
		if err := add(filepath.Join(dir, "libvirt-sock"), 0o700, false); err != nil {
			return out, err
		}
		if err := add(filepath.Join(dir, "libvirt-sock-ro"), 0o777, true); err != nil {
			return out, err
		}
	}
	if cfg.ListenTCP != "" {
		ln, err := net.Listen("tcp", cfg.ListenTCP)
		if err != nil {
			return out, err
		}
		out = append(out, listener{ln: ln})
	}
	if tlsCtx != nil {
		ln, err := net.Listen("tcp", cfg.TLS.Listen)
		if err != nil {
			return out, err
		}
		out = append(out, listener{ln: tlsCtx.Listener(ln)})
	}
	return out, nil
}

// listenUnix binds path, replacing a stale socket left by a killed daemon
// but never a live one.
func listenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another daemon is already listening", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
