package qemu

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"govirt/client"
	"govirt/driver"
	"govirt/rpc/procs"
	"govirt/uuid"
	"govirt/virerr"
)

// A daemon killed between Perform and Confirm (source) or during Finish
// (destination) cannot tell by itself which side the guest lives on: the
// client that knew went away with the old daemon's sockets. libvirt leaves
// such a source paused for a third party to decide, and keeps a
// destination that had started the guest's CPUs even when the source then
// resumed it too. govirt asks the other daemon instead: each side names, in
// its migration cookie, the read-only socket the other can reach it at (a
// unix socket, so only on the same host), and a restarted daemon asks the
// peer what it has of the guest before deciding.

// peerView is what the peer daemon has of a guest.
type peerView int

const (
	peerUnreachable peerView = iota // no answer: nothing can be decided
	peerAbsent                      // no such guest, or shut off
	peerMigrating                   // paused for the migration: not decided yet
	peerOwns                        // active and not waiting for the migration
)

func (p peerView) String() string {
	return [...]string{"unreachable", "absent", "migrating", "owns"}[p]
}

// peerURI is the URI this daemon gives its migration peers, "" when it
// has no read-only socket to offer.
func (d *Driver) peerURI() string {
	if d.cfg.PeerSocket == "" {
		return ""
	}
	return strings.Replace(d.uri, "qemu://", "qemu+unix://", 1) + "?socket=" + url.QueryEscape(d.cfg.PeerSocket)
}

// cookiePeer is the peer URI a cookie names, when usable from here: a
// unix socket is only meaningful on the host that sent it.
func cookiePeer(b []byte) string {
	ck, err := parseCookie(b)
	if err != nil || ck.Peer == "" {
		return ""
	}
	if host, _ := os.Hostname(); ck.Hostname != host {
		return ""
	}
	return ck.Peer
}

// queryPeer asks the daemon at uri about the guest with that UUID.
func queryPeer(ctx context.Context, uri string, id uuid.UUID) (peerView, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.DialOptions(ctx, uri, client.Options{ReadOnly: true, DialTimeout: 2 * time.Second})
	if err != nil {
		return peerUnreachable, err
	}
	defer c.Close()
	var l peerLookupRet
	if err := c.Call(ctx, procs.DomainLookupByUUID, peerLookupArgs{UUID: id}, &l); err != nil {
		var ve *virerr.Error
		if errors.As(err, &ve) && ve.Code == virerr.ErrNoDomain {
			return peerAbsent, nil
		}
		return peerUnreachable, err
	}
	var st peerStateRet
	if err := c.Call(ctx, procs.DomainGetState, peerStateArgs{Dom: l.Dom}, &st); err != nil {
		var ve *virerr.Error
		if errors.As(err, &ve) && ve.Code == virerr.ErrNoDomain {
			return peerAbsent, nil
		}
		return peerUnreachable, err
	}
	switch s := driver.State(st.State); {
	case s == driver.StateShutoff || s == driver.StateCrashed || s == driver.StateNoState:
		return peerAbsent, nil
	case s == driver.StateRunning:
		// A running guest is the peer's even while its migration job
		// ends: a destination whose CPUs run either finishes or, killed,
		// asks this side, which then no longer runs it.
		return peerOwns, nil
	case s == driver.StatePaused && st.Reason == driver.PausedMigration:
		return peerMigrating, nil
	}
	// Paused for another reason, or being shut down: the peer's unless
	// its migration job is still on (a guest paused before it was
	// migrated, a source stopping its copy because this side runs it).
	var ji peerJobInfoRet
	if err := c.Call(ctx, procs.DomainGetJobInfo, peerDomArgs{Dom: l.Dom}, &ji); err != nil {
		return peerUnreachable, err
	}
	if ji.Type != 0 {
		return peerMigrating, nil
	}
	return peerOwns, nil
}

// Recovery asks the peer every peerPoll while it is migrating or cannot be
// reached: for up to peerWaitStart before the daemon serves clients (the
// peer normally settles within a client round trip), then in the
// background, holding the guest's migration job, for up to peerWaitMax.
var (
	peerPoll      = 200 * time.Millisecond
	peerWaitStart = 5 * time.Second
	peerWaitMax   = 10 * time.Minute
	// peerWaitConfirm bounds a cancelled Confirm's question: the client
	// waits for it, and has told this side to resume.
	peerWaitConfirm = 30 * time.Second
)

// waitPeer asks the peer until it owns the guest or has none of it, or
// until the deadline; it returns the last answer.
func (d *Driver) waitPeer(ctx context.Context, v *vm, m *migration, deadline time.Time) peerView {
	var last peerView
	var lastErr error
	for {
		last, lastErr = queryPeer(ctx, m.Peer, v.uuid)
		if last == peerAbsent || last == peerOwns || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(peerPoll):
		}
	}
	d.log.Info("migration peer asked", "domain", v.name, "peer", m.Peer, "answer", last.String(), "err", lastErr)
	return last
}

// faultAt kills the daemon with SIGKILL when point is the fault point
// GOVIRT_FAULT_POINT names: the fault-injection tests use it to crash at
// an exact step of a migration, which random kills hit only by chance.
func (d *Driver) faultAt(point string) {
	if d.faultPoint == "" || d.faultPoint != point {
		return
	}
	d.log.Warn("fault point reached: killing the daemon", "point", point)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // never go on past the point
}

// The few wire messages queryPeer sends, encoded by rpc/xdr's reflection
// codec with remote_protocol.x's layouts. They are declared here because
// the generated ones live in package remote, which imports the drivers.
type (
	peerDomain struct {
		Name string
		UUID [16]byte
		ID   int32
	}
	peerLookupArgs struct{ UUID [16]byte }
	peerLookupRet  struct{ Dom peerDomain }
	peerStateArgs  struct {
		Dom   peerDomain
		Flags uint32
	}
	peerStateRet struct{ State, Reason int32 }
	peerDomArgs  struct{ Dom peerDomain }
	// peerJobInfoRet is remote_domain_get_job_info_ret: type and eleven
	// counters.
	peerJobInfoRet struct {
		Type     int32
		Counters [11]uint64
	}
)
