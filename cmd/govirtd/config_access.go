package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"

	"govirt/access"
	"govirt/rpc"
)

// sockConfig is libvirtd.conf's socket and authentication settings, with
// libvirtd's defaults for a build without polkit (govirt has none):
// read-write and admin sockets 0700, read-only 0777, no authentication on
// the unix sockets and TLS. auth_tcp is "none" too (libvirtd built with
// SASL defaults it to "sasl"); a TCP listener without authentication on a
// non-loopback address is logged as a warning, as libvirtd.conf warns.
type sockConfig struct {
	Group                        string // unix_sock_group
	ROPerms, RWPerms, AdminPerms os.FileMode
	Dir                          string // unix_sock_dir
	AuthUnixRW, AuthUnixRO       int32
	AuthTCP, AuthTLS             int32
	AccessDrivers                []string
	AccessRules                  string
}

func defaultSockConfig() sockConfig {
	return sockConfig{ROPerms: 0o777, RWPerms: 0o700, AdminPerms: 0o700}
}

// set applies one key; ok is false for keys that are not about sockets,
// authentication or access control.
func (s *sockConfig) set(key, raw string) (ok bool, err error) {
	val := strings.Trim(strings.TrimSpace(raw), `"`)
	switch key {
	case "unix_sock_group":
		s.Group = val
	case "unix_sock_dir":
		s.Dir = val
	case "unix_sock_ro_perms", "unix_sock_rw_perms", "unix_sock_admin_perms":
		n, err := strconv.ParseUint(val, 8, 32)
		if err != nil || n > 0o777 {
			return true, fmt.Errorf("expected an octal mode such as \"0770\", not %q", val)
		}
		switch key {
		case "unix_sock_ro_perms":
			s.ROPerms = os.FileMode(n)
		case "unix_sock_rw_perms":
			s.RWPerms = os.FileMode(n)
		default:
			s.AdminPerms = os.FileMode(n)
		}
	case "access_drivers":
		list, err := parseStringList(raw)
		if err != nil {
			return true, err
		}
		s.AccessDrivers = list
	case "access_rules":
		s.AccessRules = val
	default:
		return false, nil
	}
	return true, nil
}

// accessManager builds the configured access control (nil: allow all).
func (s *sockConfig) accessManager() (*access.Manager, error) {
	return access.New(s.AccessDrivers, s.AccessRules)
}

// sockGID resolves unix_sock_group (a name or a number); -1 when unset.
func (s *sockConfig) sockGID() (int, error) {
	if s.Group == "" {
		return -1, nil
	}
	if n, err := strconv.Atoi(s.Group); err == nil {
		return n, nil
	}
	g, err := user.LookupGroup(s.Group)
	if err != nil {
		return -1, fmt.Errorf("unix_sock_group: %v", err)
	}
	n, _ := strconv.Atoi(g.Gid)
	return n, nil
}

// warnOpenTCP logs a TCP listener without authentication reachable from
// other hosts (libvirtd accepts auth_tcp = "none"; libvirtd.conf only
// warns against it).
func warnOpenTCP(log *slog.Logger, addr string, auth int32) {
	if auth != rpc.AuthNone {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
			return
		}
	}
	log.Warn("TCP listener without authentication is reachable from other hosts: any client there has full access", "addr", addr)
}
