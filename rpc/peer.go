package rpc

import (
	"errors"
	"net"
	"syscall"
)

// PeerCred is a unix socket peer's identity (SO_PEERCRED).
type PeerCred struct {
	UID, GID uint32
	PID      int32
}

// ErrNoPeerCred is returned for connections that are not unix sockets.
var ErrNoPeerCred = errors.New("rpc: peer credentials need a unix socket")

// PeerCredOf reads the credentials the kernel recorded when the peer
// connected; it cannot be spoofed by the client.
func PeerCredOf(nc net.Conn) (PeerCred, error) {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return PeerCred{}, ErrNoPeerCred
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return PeerCred{}, err
	}
	var cred *syscall.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return PeerCred{}, err
	}
	if serr != nil {
		return PeerCred{}, serr
	}
	return PeerCred{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, nil
}
