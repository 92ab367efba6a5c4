package main

import (
	"errors"
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
// the unix sockets and TLS. Without auth_tcp in the config file (libvirtd
// built with SASL defaults it to "sasl") a loopback TCP listener identifies
// its clients by the kernel's socket table and admits them as the
// read-write unix socket would (tcpService); one that other hosts reach
// needs auth_tcp set (checkOpenTCP), and with "none" it is logged as a
// warning, as libvirtd.conf warns.
type sockConfig struct {
	Group                        string // unix_sock_group
	ROPerms, RWPerms, AdminPerms os.FileMode
	Dir                          string // unix_sock_dir
	AuthUnixRW, AuthUnixRO       int32
	AuthTCP, AuthTLS             int32
	// AuthTCPSet: auth_tcp was in the config file (checkOpenTCP).
	AuthTCPSet    bool
	AccessDrivers []string
	AccessRules   string
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
	case "auth_unix_rw", "auth_unix_ro", "auth_tcp", "auth_tls":
		a, err := parseAuth(val)
		if err != nil {
			return true, err
		}
		*map[string]*int32{"auth_unix_rw": &s.AuthUnixRW, "auth_unix_ro": &s.AuthUnixRO,
			"auth_tcp": &s.AuthTCP, "auth_tls": &s.AuthTLS}[key] = a
		s.AuthTCPSet = s.AuthTCPSet || key == "auth_tcp"
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

// parseAuth reads an auth_* value. "polkit" is libvirtd's default for a
// privileged daemon built with polkit; govirt has no polkit and says so.
func parseAuth(v string) (int32, error) {
	switch v {
	case "none":
		return rpc.AuthNone, nil
	case "sasl":
		return rpc.AuthSASL, nil
	case "polkit":
		return 0, fmt.Errorf("unsupported auth polkit: govirt has no polkit; use \"none\" with access_drivers = [ \"rules\" ], or \"sasl\"")
	}
	return 0, fmt.Errorf("unsupported auth %s", v)
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

// loopbackAddr says whether a listen address is only reachable from
// this host.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() || host == "localhost"
}

// checkOpenTCP refuses a TCP listener other hosts can reach without
// authentication unless the configuration says auth_tcp = "none"
// itself: an unauthenticated listener gives every client full access.
// A loopback address (the command-line contract's --listen-tcp
// 127.0.0.1:PORT) is allowed without it: its clients are identified by
// the kernel's socket table instead (tcpPeerCheck).
func (c *config) checkOpenTCP() error {
	if c.ListenTCP == "" || c.Sock.AuthTCP != rpc.AuthNone || c.Sock.AuthTCPSet || loopbackAddr(c.ListenTCP) {
		return nil
	}
	return fmt.Errorf("TCP listener %s is reachable from other hosts without authentication: set auth_tcp = \"sasl\" in the config file, or auth_tcp = \"none\" to allow it", c.ListenTCP)
}

// tcpService is the TCP listener's service. With auth_tcp in the config
// file it is that; without it (a loopback listener, checkOpenTCP) a client
// is not anonymous: the daemon reads its uid from the kernel's socket
// table and lets it in as the read-write unix socket would (its mode,
// owner and group, and auth_unix_rw), with that unix identity.
func (c *config) tcpService() (rpc.Service, error) {
	svc := rpc.Service{Transport: rpc.TransportTCP, Auth: c.Sock.AuthTCP}
	if c.Sock.AuthTCPSet {
		return svc, nil
	}
	gid, err := c.Sock.sockGID()
	if err != nil {
		return svc, err
	}
	if gid < 0 {
		gid = os.Getegid()
	}
	svc.Auth = c.Sock.AuthUnixRW
	svc.PeerCheck = rwSocketCheck(uint32(os.Geteuid()), uint32(gid), c.Sock.RWPerms)
	return svc, nil
}

// rwSocketCheck is the kernel's permission check for connecting to a unix
// socket (write permission) owned by owner:group with mode, for the
// identity the socket table gave: root always, the owner by the owner's
// bits, a member of the group (primary or supplementary) by the group's,
// anyone else by the others'.
func rwSocketCheck(owner, group uint32, mode os.FileMode) func(rpc.Identity) error {
	return func(id rpc.Identity) error {
		if !id.Unix {
			return errors.New("client's uid is unknown")
		}
		var bit os.FileMode
		var as string
		switch {
		case id.UID == 0:
			return nil
		case id.UID == owner:
			bit, as = 0o200, "the socket's owner"
		case inGroup(id, group):
			bit, as = 0o020, "a member of the socket's group"
		default:
			bit, as = 0o002, "another user"
		}
		if mode&bit != 0 {
			return nil
		}
		return fmt.Errorf("uid %d (%s), as %s, may not use the read-write socket (unix_sock_rw_perms %#o, owner %d, group %d); set auth_tcp = \"none\" or \"sasl\" to let other users in", id.UID, id.UserName, as, mode, owner, group)
	}
}

// inGroup: gid is the identity's group or one the user is a member of.
func inGroup(id rpc.Identity, gid uint32) bool {
	if id.GID == gid {
		return true
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(id.UID), 10))
	if err != nil {
		return false
	}
	gids, _ := u.GroupIds()
	want := strconv.FormatUint(uint64(gid), 10)
	for _, g := range gids {
		if g == want {
			return true
		}
	}
	return false
}

// warnOpenTCP logs a TCP listener without authentication reachable from
// other hosts (allowed only by an explicit auth_tcp = "none").
func warnOpenTCP(log *slog.Logger, addr string, auth int32) {
	if auth != rpc.AuthNone || loopbackAddr(addr) {
		return
	}
	log.Warn("TCP listener without authentication is reachable from other hosts: any client there has full access", "addr", addr)
}
