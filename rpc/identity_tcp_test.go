package rpc

import (
	"net"
	"os"
	"testing"
)

// TestTCPPeerIdentity: a loopback TCP client is identified from the
// kernel's socket table as this process: its uid, pid and gid.
func TestTCPPeerIdentity(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var id Identity
	if err := tcpPeerIdentity(s, &id); err != nil {
		t.Fatal(err)
	}
	if !id.Unix || id.UID != uint32(os.Geteuid()) || id.GID != uint32(os.Getegid()) || id.PID != int32(os.Getpid()) {
		t.Errorf("identity %+v, want uid %d gid %d pid %d", id, os.Geteuid(), os.Getegid(), os.Getpid())
	}
}
