package rpc

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// fdHandler answers every call with a descriptor: a pipe whose write end
// carries a marker, as OPEN_GRAPHICS_FD answers with a socket.
type fdHandler struct{}

func (fdHandler) Call(_ context.Context, c *Call) {
	r, w, err := os.Pipe()
	if err != nil {
		c.ReplyError(err)
		return
	}
	w.WriteString("marker")
	w.Close()
	c.ReplyWithFDs(nil, []*os.File{r})
	r.Close()
}

func (fdHandler) Closed() {}

// TestReplyWithFDs checks the layout libvirt's client expects: a
// REPLY_WITH_FDS frame whose body is the descriptor count, then the
// descriptor as SCM_RIGHTS on a one-byte message right after the frame.
func TestReplyWithFDs(t *testing.T) {
	srv := NewServer(func(*Conn) Handler { return fdHandler{} })
	srv.Logf = t.Logf
	path := filepath.Join(t.TempDir(), "sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	uc := nc.(*net.UnixConn)
	f, err := EncodeFrame(nil, Header{Prog: ProgramRemote, Vers: ProtocolVersion, Proc: 343, Serial: 7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uc.Write(f); err != nil {
		t.Fatal(err)
	}
	uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var scratch [28]byte
	h, body, err := ReadFrame(uc, scratch[:])
	if err != nil {
		t.Fatal(err)
	}
	if h.Type != TypeReplyWithFDs || h.Status != StatusOK || h.Serial != 7 {
		t.Fatalf("header %+v, want an OK REPLY_WITH_FDS to serial 7", h)
	}
	if len(body) != 4 || binary.BigEndian.Uint32(body) != 1 {
		t.Fatalf("body %x, want the count 1", body)
	}
	buf, oob := make([]byte, 1), make([]byte, syscall.CmsgSpace(4))
	n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil || n != 1 {
		t.Fatalf("reading the descriptor: n=%d err=%v", n, err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v %v", msgs, err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("rights: %v %v", fds, err)
	}
	got := os.NewFile(uintptr(fds[0]), "passed")
	defer got.Close()
	data := make([]byte, 16)
	m, _ := got.Read(data)
	if string(data[:m]) != "marker" {
		t.Fatalf("passed descriptor reads %q, want the pipe's marker", data[:m])
	}
}
