package main

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"govirt/remote"
	"govirt/rpc"
	"govirt/rpc/sasl"
)

// authConfig is govirt's SASL settings (libvirt's own live in
// /etc/sasl2/libvirt.conf); which listeners use SASL is libvirtd.conf's
// auth_* keys, in sockConfig (config_access.go).
type authConfig struct {
	// SASLUsers is sasl_users: the user file (govirtd sasl-passwd).
	SASLUsers string
	// SASLAllowed is sasl_allowed_username_list; nil when unset.
	SASLAllowed []string
	// SASLMechs is sasl_mechanisms (nil: all govirt implements).
	SASLMechs []string
	// SASLRealm is sasl_realm, DIGEST-MD5's realm.
	SASLRealm string
	// DigestCiphers is sasl_digest_ciphers (nil: rc4 and 3des).
	DigestCiphers []string
}

// DefaultSASLUsers is the user file when sasl_users is not set.
const DefaultSASLUsers = "/etc/govirt/sasl.users"

func (a *authConfig) set(key, raw string) (ok bool, err error) {
	str := strings.Trim(raw, `"`)
	switch key {
	case "sasl_users":
		a.SASLUsers = str
	case "sasl_realm":
		if str == "" || strings.ContainsAny(str, "\"\\, \t#") {
			return true, fmt.Errorf("invalid realm %q", str)
		}
		a.SASLRealm = str
	case "sasl_digest_ciphers":
		list, err := parseStringList(raw)
		if err != nil {
			return true, err
		}
		for _, c := range list {
			if !slices.Contains(sasl.DigestCiphers, c) {
				return true, fmt.Errorf("unknown DIGEST-MD5 cipher %q (govirt has %s)", c, strings.Join(sasl.DigestCiphers, ", "))
			}
		}
		a.DigestCiphers = list
	case "sasl_allowed_username_list", "sasl_mechanisms":
		list, err := parseStringList(raw)
		if err != nil {
			return true, err
		}
		if key == "sasl_mechanisms" {
			for _, m := range list {
				if !knownMech(m) {
					return true, fmt.Errorf("unknown SASL mechanism %q (govirt has %s)", m, strings.Join(sasl.AllMechanisms, ", "))
				}
			}
			a.SASLMechs = list
		} else {
			a.SASLAllowed = list
		}
	default:
		return false, nil
	}
	return true, nil
}

func knownMech(m string) bool {
	for _, k := range sasl.AllMechanisms {
		if strings.EqualFold(k, m) {
			return true
		}
	}
	return false
}

// peerSocket is the read-only socket migration peers on this host may
// query (drivers/qemu/migrate_peer.go), or "" when it demands SASL, which
// govirt's own client cannot do.
func (c *config) peerSocket() string {
	if c.Sock.AuthUnixRO == rpc.AuthSASL {
		return ""
	}
	return c.SocketRO
}

// authName is an auth_* value's name, for the log.
func authName(a int32) string {
	switch a {
	case rpc.AuthNone:
		return "none"
	case rpc.AuthSASL:
		return "sasl"
	case rpc.AuthPolkit:
		return "polkit"
	}
	return fmt.Sprint(a)
}

// anySASL reports whether a listener uses SASL.
func (s *sockConfig) anySASL() bool {
	for _, a := range []int32{s.AuthUnixRW, s.AuthUnixRO, s.AuthTCP, s.AuthTLS} {
		if a == rpc.AuthSASL {
			return true
		}
	}
	return false
}

// saslPolicy builds the server's SASL setup when a listener uses SASL.
// The user file is read at every login when its modification time
// changed, so sasl-passwd takes effect without a restart; one missing or
// broken at start is only logged.
func (c *config) saslPolicy(log *slog.Logger) (*remote.SASLPolicy, error) {
	if !c.Sock.anySASL() {
		return nil, nil
	}
	a := &c.Auth
	path := a.SASLUsers
	if path == "" {
		path = DefaultSASLUsers
	}
	fc := &usersFile{path: path}
	if _, err := fc.get(); err != nil {
		// As libvirtd without its sasldb: the daemon runs and every
		// login fails (logged) until the file is there.
		log.Warn("SASL user file unusable: no SASL login can succeed until it is fixed", "path", path, "err", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("SASL user file is readable by others", "path", path, "mode", fi.Mode().Perm().String())
	}
	return &remote.SASLPolicy{
		Config: &sasl.Config{Mechanisms: a.SASLMechs, Realm: a.SASLRealm, Users: fc.get,
			DigestCiphers: a.DigestCiphers},
		AllowedUsers: a.SASLAllowed,
	}, nil
}

// usersFile caches the parsed user file by modification time and size.
type usersFile struct {
	path  string
	mu    sync.Mutex
	mtime time.Time
	size  int64
	users *sasl.Users
}

func (f *usersFile) get() (*sasl.Users, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, err := os.Stat(f.path)
	if err != nil {
		return nil, err
	}
	if f.users != nil && fi.ModTime().Equal(f.mtime) && fi.Size() == f.size {
		return f.users, nil
	}
	us, err := sasl.LoadUsers(f.path)
	if err != nil {
		return nil, err
	}
	f.users, f.mtime, f.size = us, fi.ModTime(), fi.Size()
	return us, nil
}
