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
	"runtime"
	"strings"
	"syscall"
	"time"

	"govirt/admin"
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
	if len(os.Args) > 1 && os.Args[1] == "sasl-passwd" {
		os.Exit(saslPasswdMain(os.Args[2:]))
	}
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
	logCtl, err := admin.NewLogControl(parseLevel(cfg.LogLevel), cfg.LogOutputs, cfg.LogFilters)
	if err != nil {
		fmt.Fprintln(os.Stderr, "govirtd:", err)
		os.Exit(2)
	}
	log := logCtl.Logger()
	startGCTune(log)
	stopProfile := startCPUProfile(log)
	stopDebug := startDebugHooks(log)
	stopSnapshots := startSnapshotProfiles(log)
	err = run(cfg, log, logCtl)
	stopSnapshots()
	stopDebug()
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

// listener is one socket the daemon serves.
type listener struct {
	ln    net.Listener
	svc   rpc.Service
	admin bool   // belongs to the admin server
	path  string // unix socket path to remove on exit
}

func run(cfg config, log *slog.Logger, logCtl *admin.LogControl) error {
	raiseFileLimit(log)
	// libvirt's modes: the state directory is private, the run directory
	// 0755 so that the read-only socket in it is reachable by everyone
	// (the sockets carry their own modes).
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return err
	}
	if err := makeRunDir(cfg.RunDir); err != nil {
		return err
	}
	if err := qemu.CheckVNCPortRange(cfg.VNCPortMin, cfg.VNCPortMax); err != nil {
		return err
	}
	var tlsCtx *tlsauth.Context
	if cfg.TLS.Listen != "" {
		var err error
		if tlsCtx, err = loadTLS(cfg.TLS, log); err != nil {
			return err
		}
	}
	hostUUID, err := qemu.ResolveHostUUID(cfg.HostUUID, cfg.HostUUIDSource)
	if err != nil {
		return err
	}
	qemuDrv := qemu.New(qemu.Config{StateDir: cfg.StateDir, RunDir: cfg.RunDir, Log: log,
		VNCPortMin: cfg.VNCPortMin, VNCPortMax: cfg.VNCPortMax, Graphics: cfg.Graphics,
		ChardevTLS: cfg.chardevTLS(), MigrateTLS: cfg.migrateTLS(), HostUUID: hostUUID, PeerSocket: cfg.peerSocket(),
		DefaultNetwork: !cfg.NoDefaultNetwork,
		User:           cfg.QEMUUser, Group: cfg.QEMUGroup, NoDynamicOwnership: cfg.NoDynamicOwnership,
		Namespaces: cfg.Namespaces, NamespacesSet: cfg.NamespacesSet, SwtpmUser: cfg.SwtpmUser, SwtpmGroup: cfg.SwtpmGroup})
	// SIGTERM is caught from here on: one that comes while guests are
	// reconnected or networks and pools autostarted (a restarted daemon
	// reloading firewall rules can take seconds after its sockets open)
	// waits in the channel and stops the daemon cleanly once it is up,
	// instead of killing it half-way.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	// Guests left running are registered before the sockets open, so no
	// client sees a half-known set of guests; their reconnection goes on
	// in the background, holding each guest's job, so that a QEMU slow to
	// answer never keeps the sockets closed. Autostart runs after it.
	if err := qemuDrv.Start(context.Background()); err != nil {
		return fmt.Errorf("qemu driver: %w", err)
	}
	debugDriver.Store(qemuDrv)
	drivers := []driver.Driver{testdrv.New(), qemuDrv}
	srv := remote.NewServer(log, drivers...)
	acl, err := cfg.Sock.accessManager()
	if err != nil {
		return err
	}
	if acl.Enabled() {
		log.Info("access control", "driver", "rules", "file", cfg.Sock.AccessRules)
	}
	srv.SetAccess(acl)

	lns, err := openListeners(cfg, tlsCtx)
	if cfg.ListenTCP != "" {
		warnOpenTCP(log, cfg.ListenTCP, cfg.Sock.AuthTCP)
	}
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
	lv := newServer(cfg, "libvirtd", log)
	lv.MaxRequests = cfg.Limits.MaxClientRequests
	lv.SetWorkerParams(rpc.WorkerParams{Min: uint32(cfg.Limits.MinWorkers), Max: uint32(cfg.Limits.MaxWorkers), Prio: uint32(cfg.Limits.PrioWorkers)})
	if err := lv.SetClientLimits(int64(cfg.Limits.MaxClients), int64(cfg.Limits.MaxAnonymousClients)); err != nil {
		return err
	}
	lv.NewHandler = func(c *rpc.Conn) rpc.Handler { return srv.NewHandler(c.ServiceReadOnly())(c) }
	if srv.SASL, err = cfg.saslPolicy(log); err != nil {
		return err
	}

	adm := newServer(cfg, "admin", log)
	adm.MaxRequests = cfg.Limits.AdminMaxClientRequests
	adm.Programs = admin.Programs
	adm.Admit = admin.AdmitOwner(os.Geteuid())
	adm.SetWorkerParams(rpc.WorkerParams{Min: uint32(cfg.Limits.AdminMinWorkers), Max: uint32(cfg.Limits.AdminMaxWorkers)})
	// libvirt's admin server has no anonymous limit.
	if err := adm.SetClientLimits(int64(cfg.Limits.AdminMaxClients), 0); err != nil {
		return err
	}
	idle := newIdleShutdown(log, lv, adm)
	dmn := &admin.Daemon{Servers: []*rpc.Server{lv, adm}, Log: logCtl, SetTimeout: idle.set, LibVersion: srv.LibVersion}
	adm.NewHandler = dmn.NewHandler

	errc := make(chan error, len(lns))
	for _, l := range lns {
		rs := lv
		if l.admin {
			rs = adm
		}
		attrs := []any{"addr", l.ln.Addr().String(), "server", rs.Name, "read_only", l.svc.ReadOnly, "auth", authName(l.svc.Auth)}
		if l.svc.PeerCheck != nil {
			attrs = append(attrs, "clients", "identified by the kernel's socket table, admitted as the read-write socket's")
		}
		log.Info("listening", attrs...)
		go func(l listener) { errc <- rs.ServeService(l.ln, l.svc) }(l)
	}

	// Pools and networks first: guests' disks and NICs may need them.
	qemuDrv.StorageAutostart()
	qemuDrv.DefineDefaultNetwork()
	qemuDrv.NetworkAutostart()
	go qemuDrv.Autostart(context.Background())
	// Node device events from the kernel's uevents, until shutdown.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	qemuDrv.WatchNodeDevices(watchCtx)

	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	case <-idle.expired:
		log.Info("shutting down", "reason", "no clients for the daemon timeout")
	case err = <-errc:
		if errors.Is(err, rpc.ErrServerClosed) {
			err = nil
		}
	}
	adm.Close()
	lv.Close()
	return err
}

// newServer is an rpc server with the shared timeouts and logging.
func newServer(cfg config, name string, log *slog.Logger) *rpc.Server {
	rs := &rpc.Server{Name: name, Logf: rpcLogf(log)}
	rs.StallTimeout = seconds(cfg.Limits.ClientStallTimeout)
	rs.AnonymousTimeout = seconds(cfg.Limits.AnonymousClientTimeout)
	return rs
}

// seconds maps a config value to a timeout; 0 means never.
func seconds(n int) time.Duration {
	if n == 0 {
		return -1
	}
	return time.Duration(n) * time.Second
}

// rpcLogf logs the rpc layer's diagnostics at debug level (warnings for
// refused or dropped clients), attributed to the rpc package so that log
// filters on "rpc" match them.
func rpcLogf(log *slog.Logger) func(string, ...any) {
	return func(format string, args ...any) {
		level := slog.LevelDebug
		if strings.Contains(format, "dropping") || strings.Contains(format, "refusing") ||
			strings.Contains(format, "accept on") || strings.Contains(format, "client limits") {
			level = slog.LevelWarn
		}
		if !log.Enabled(context.Background(), level) {
			return
		}
		var pcs [1]uintptr
		runtime.Callers(2, pcs[:])
		r := slog.NewRecord(time.Now(), level, fmt.Sprintf(format, args...), pcs[0])
		_ = log.Handler().Handle(context.Background(), r)
	}
}

// raiseFileLimit lifts the soft descriptor limit to the hard one: every
// client costs a descriptor. (Go does this itself at start on Linux; this
// covers a limit lowered since, and says what the limit is.)
func raiseFileLimit(log *slog.Logger) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			log.Warn("cannot raise the open file limit", "err", err)
		}
	}
	log.Debug("open file limit", "limit", rl.Cur)
}

// makeRunDir creates the run directory 0755, as libvirt's, whatever the
// umask; an existing directory left 0700 by an older govirtd is opened up.
func makeRunDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.Chmod(dir, 0o755)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case fi.Mode().Perm() == 0o700:
		return os.Chmod(dir, 0o755)
	}
	return nil
}

// openListeners opens every configured socket; on error the ones already
// open are returned so the caller can close them.
func openListeners(cfg config, tlsCtx *tlsauth.Context) ([]listener, error) {
	var out []listener
	gid, err := cfg.Sock.sockGID()
	if err != nil {
		return nil, err
	}
	add := func(path string, ro bool) error {
		mode, auth := cfg.Sock.RWPerms, cfg.Sock.AuthUnixRW
		if ro {
			mode, auth = cfg.Sock.ROPerms, cfg.Sock.AuthUnixRO
		}
		ln, err := listenUnix(path, mode, gid)
		if err != nil {
			return err
		}
		out = append(out, listener{ln: ln, svc: rpc.Service{ReadOnly: ro, Transport: rpc.TransportUnix, Auth: auth}, path: path})
		return nil
	}
	addAdmin := func(path string) error {
		ln, err := listenUnix(path, cfg.Sock.AdminPerms, gid)
		if err != nil {
			return err
		}
		out = append(out, listener{ln: ln, svc: rpc.Service{Transport: rpc.TransportUnix}, admin: true, path: path})
		return nil
	}
	// libvirt's permissions (unix_sock_*_perms): by default read-write
	// and admin only for the owner, read-only for everyone.
	if err := add(cfg.Socket, false); err != nil {
		return out, err
	}
	if err := add(cfg.SocketRO, true); err != nil {
		return out, err
	}
	if err := addAdmin(cfg.AdminSocket); err != nil {
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
		if err := add(filepath.Join(dir, "libvirt-sock"), false); err != nil {
			return out, err
		}
		if err := add(filepath.Join(dir, "libvirt-sock-ro"), true); err != nil {
			return out, err
		}
		if err := addAdmin(filepath.Join(dir, "libvirt-admin-sock")); err != nil {
			return out, err
		}
	}
	if cfg.ListenTCP != "" {
		svc, err := cfg.tcpService()
		if err != nil {
			return out, err
		}
		ln, err := net.Listen("tcp", cfg.ListenTCP)
		if err != nil {
			return out, err
		}
		out = append(out, listener{ln: ln, svc: svc})
	}
	if tlsCtx != nil {
		ln, err := net.Listen("tcp", cfg.TLS.Listen)
		if err != nil {
			return out, err
		}
		out = append(out, listener{ln: tlsCtx.Listener(ln), svc: rpc.Service{Transport: rpc.TransportTLS, Auth: cfg.Sock.AuthTLS}})
	}
	return out, nil
}

// listenUnix binds path, replacing a stale socket left by a killed daemon
// but never a live one, and gives it mode and (gid >= 0,
// unix_sock_group) that group.
func listenUnix(path string, mode os.FileMode, gid int) (net.Listener, error) {
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
	if gid >= 0 {
		if err := os.Lchown(path, -1, gid); err != nil {
			ln.Close()
			return nil, err
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
