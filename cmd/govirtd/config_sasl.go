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

// authConfig is libvirtd.conf's per-listener auth_* settings and govirt's
// SASL settings (libvirt's own live in /etc/sasl2/libvirt.conf).
type authConfig struct {
	// UnixRW, UnixRO, TCP and TLS are auth_unix_rw, auth_unix_ro,
	// auth_tcp and auth_tls: "none" or "sasl" ("polkit" is refused).
	UnixRW, UnixRO, TCP, TLS string
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
	case "auth_unix_rw", "auth_unix_ro", "auth_tcp", "auth_tls":
		if _, err := authValue(str); err != nil {
			return true, err
		}
		switch key {
		case "auth_unix_rw":
			a.UnixRW = str
		case "auth_unix_ro":
			a.UnixRO = str
		case "auth_tcp":
			a.TCP = str
		case "auth_tls":
			a.TLS = str
		}
	case "sasl_users":
		a.SASLUsers = str
	case "sasl_realm":
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

// authValue reads an auth_* value (this file owns the auth_* keys;
// config_access.go's sockConfig has the socket modes and access control).
func authValue(s string) (int32, error) {
	switch s {
	case "", "none":
		return rpc.AuthNone, nil
	case "sasl":
		return rpc.AuthSASL, nil
	case "polkit":
		return 0, fmt.Errorf("polkit authentication is not supported by govirtd")
	}
	return 0, fmt.Errorf("unknown authentication type %q (none or sasl)", s)
}

// listenerAuth is the scheme of a listener.
func (a *authConfig) listenerAuth(svc rpc.Service) int32 {
	var s string
	switch svc.Transport {
	case rpc.TransportUnix:
		s = a.UnixRW
		if svc.ReadOnly {
			s = a.UnixRO
		}
	case rpc.TransportTCP:
		s = a.TCP
	case rpc.TransportTLS:
		s = a.TLS
	}
	v, _ := authValue(s)
	return v
}

func (a *authConfig) anySASL() bool {
	for _, s := range []string{a.UnixRW, a.UnixRO, a.TCP, a.TLS} {
		if s == "sasl" {
			return true
		}
	}
	return false
}

// saslPolicy builds the server's SASL setup when a listener uses SASL.
// The user file must be readable at start; it is read again (when its
// modification time changed) at every login, so sasl-passwd takes effect
// without a restart.
func (a *authConfig) saslPolicy(log *slog.Logger) (*remote.SASLPolicy, error) {
	if !a.anySASL() {
		return nil, nil
	}
	path := a.SASLUsers
	if path == "" {
		path = DefaultSASLUsers
	}
	fc := &usersFile{path: path}
	if _, err := fc.get(); err != nil {
		return nil, fmt.Errorf("sasl_users: %w", err)
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
