package rpc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"

	"govirt/internal/tcppeer"
)

// Identity is who a client is, as libvirt's virIdentity records it for the
// access control drivers: the unix peer credentials (SO_PEERCRED) and the
// names they resolve to, the TLS client certificate's distinguished name
// and the SASL user name. It is the one place every transport and
// authentication step writes the client's identity; the access rules
// (package access) read it.
type Identity struct {
	Transport Transport
	// Unix is true when UID, GID and PID come from SO_PEERCRED.
	Unix     bool
	UID, GID uint32
	PID      int32
	// UserName and GroupName are UID's and GID's names ("" when the host
	// has none); Groups are every group the user is a member of
	// (primary and supplementary), by name, as polkit's isInGroup sees them.
	UserName, GroupName string
	Groups              []string
	// X509DName is the TLS client certificate's subject, as
	// virt-pki-query-dn prints it ("" without TLS or certificate).
	X509DName string
	// SASLUser is the SASL user name once a SASL step succeeded ("" before
	// or without SASL).
	SASLUser string
}

// dnConn is a transport that knows its peer's certificate subject
// (tlsauth.Conn), kept as an interface so rpc does not import tlsauth.
type dnConn interface{ DN() string }

// identityState is a Conn's identity, computed once on first use.
type identityState struct {
	once sync.Once
	mu   sync.Mutex
	id   Identity
	// refused is why Service.PeerCheck turned the client away.
	refused error
}

// Identity returns the client's identity. The unix credentials and names
// are read once; the SASL user name is whatever SetSASLUser last set.
func (c *Conn) Identity() Identity {
	s := &c.ident
	s.once.Do(func() {
		id := Identity{Transport: c.svc.Transport}
		var refused error
		if cred, err := PeerCredOf(c.nc); err == nil {
			id.Unix, id.UID, id.GID, id.PID = true, cred.UID, cred.GID, cred.PID
			id.UserName, id.GroupName, id.Groups = unixNames(cred.UID, cred.GID)
		} else if c.svc.PeerCheck != nil {
			refused = tcpPeerIdentity(c.nc, &id)
			if refused == nil {
				refused = c.svc.PeerCheck(id)
			}
		}
		if d, ok := c.nc.(dnConn); ok {
			id.X509DName = d.DN()
		}
		s.mu.Lock()
		sasl := s.id.SASLUser
		s.id = id
		s.id.SASLUser = sasl
		s.refused = refused
		s.mu.Unlock()
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.id
	id.Groups = append([]string(nil), s.id.Groups...)
	return id
}

// PeerRefused is why a client of a listener with Service.PeerCheck may
// not in (nil when it may, or the listener has no such check).
func (c *Conn) PeerRefused() error {
	c.Identity()
	c.ident.mu.Lock()
	defer c.ident.mu.Unlock()
	return c.ident.refused
}

// procEGID is a process's effective gid (/proc/PID/status "Gid:" real,
// effective, saved, fs).
func procEGID(pid int) (uint32, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Gid:"); ok {
			if f := strings.Fields(v); len(f) >= 2 {
				if g, err := strconv.ParseUint(f[1], 10, 32); err == nil {
					return uint32(g), true
				}
			}
		}
	}
	return 0, false
}

// tcpPeerIdentity fills in the unix identity of a loopback TCP client from
// the kernel's socket table: the uid that owns the client's socket, the
// process that holds it and that process's gid.
func tcpPeerIdentity(nc net.Conn, id *Identity) error {
	la, lok := nc.LocalAddr().(*net.TCPAddr)
	ra, rok := nc.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok {
		return errors.New("not a TCP connection")
	}
	if !ra.IP.IsLoopback() {
		return fmt.Errorf("client %v is not on this host", ra)
	}
	e, err := tcppeer.Find(la.AddrPort(), ra.AddrPort())
	if err != nil {
		return fmt.Errorf("client %v: %w", ra, err)
	}
	// The process holding the socket gives the pid and its effective
	// gid, as SO_PEERCRED would; without it, the user's primary group
	// (and a uid the host does not name gets no group, (gid_t)-1, not 0).
	id.Unix, id.UID, id.GID = true, e.UID, ^uint32(0)
	if pid := tcppeer.OwnerPID(e.Inode, e.UID); pid > 0 {
		if gid, ok := procEGID(pid); ok {
			id.PID, id.GID = int32(pid), gid
		}
	}
	if id.PID == 0 {
		if u, err := user.LookupId(strconv.FormatUint(uint64(e.UID), 10)); err == nil {
			if gid, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
				id.GID = uint32(gid)
			}
		}
	}
	id.UserName, id.GroupName, id.Groups = unixNames(id.UID, id.GID)
	return nil
}

// SetSASLUser records the user name a SASL authentication established.
func (c *Conn) SetSASLUser(name string) {
	c.ident.mu.Lock()
	c.ident.id.SASLUser = name
	c.ident.mu.Unlock()
}

// unixNames resolves a uid and gid to names and the user's groups; an
// identity the host does not know keeps only its numbers.
func unixNames(uid, gid uint32) (userName, groupName string, groups []string) {
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		groupName = g.Name
		groups = append(groups, g.Name)
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return "", groupName, groups
	}
	userName = u.Username
	gids, _ := u.GroupIds()
	for _, id := range gids {
		if id == strconv.FormatUint(uint64(gid), 10) {
			continue
		}
		if g, err := user.LookupGroupId(id); err == nil {
			groups = append(groups, g.Name)
		}
	}
	return userName, groupName, groups
}

// remote_auth_type values (REMOTE_AUTH_*).
const (
	AuthNone   int32 = 0
	AuthSASL   int32 = 1
	AuthPolkit int32 = 2
)

// ServiceAuth is the authentication the client's listener demands.
func (c *Conn) ServiceAuth() int32 { return c.svc.Auth }
