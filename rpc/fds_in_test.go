package rpc

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// fdReadHandler answers each call with what its passed descriptors
// (pipes) hold, concatenated, and records that they are closed after.
type fdReadHandler struct{}

func (fdReadHandler) Call(_ context.Context, c *Call) {
	var out []byte
	for _, f := range c.FDs {
		b, _ := io.ReadAll(f)
		out = append(out, b...)
	}
	_ = c.Reply(string(out))
}

func (fdReadHandler) Closed() {}

// callWithFDs writes a CALL_WITH_FDS as libvirt's client does: the frame
// (body = count, then args), then each descriptor on a one-byte message.
func callWithFDs(t *testing.T, uc *net.UnixConn, serial uint32, contents ...string) {
	t.Helper()
	body := binary.BigEndian.AppendUint32(nil, uint32(len(contents)))
	typ := TypeCallWithFDs
	if len(contents) == 0 {
		typ, body = TypeCall, nil
	}
	f, err := EncodeFrame(nil, Header{Prog: ProgramRemote, Vers: ProtocolVersion, Proc: 1, Type: typ, Serial: serial}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// EncodeFrame wrote an empty body: append ours and fix the length.
	f = append(f, body...)
	binary.BigEndian.PutUint32(f, uint32(len(f)))
	if _, err := uc.Write(f); err != nil {
		t.Fatal(err)
	}
	for _, s := range contents {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(s)
		w.Close()
		if _, _, err := uc.WriteMsgUnix([]byte{0}, syscall.UnixRights(int(r.Fd())), nil); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
}

// TestCallWithFDsReceived pipelines calls with and without descriptors
// and checks that each call gets its own, in order.
func TestCallWithFDsReceived(t *testing.T) {
	srv := NewServer(func(*Conn) Handler { return fdReadHandler{} })
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
	want := map[uint32]string{1: "ab", 2: "", 3: "c", 4: "xyz"}
	callWithFDs(t, uc, 1, "a", "b")
	callWithFDs(t, uc, 2)
	callWithFDs(t, uc, 3, "c")
	callWithFDs(t, uc, 4, "x", "y", "z")
	uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var scratch [28]byte
	for range want {
		h, body, err := ReadFrame(uc, scratch[:])
		if err != nil {
			t.Fatal(err)
		}
		if h.Status != StatusOK || len(body) < 4 {
			t.Fatalf("serial %d: status %d body %q", h.Serial, h.Status, body)
		}
		n := binary.BigEndian.Uint32(body)
		if got := string(body[4 : 4+n]); got != want[h.Serial] {
			t.Errorf("serial %d got %q, want %q", h.Serial, got, want[h.Serial])
		}
	}
}
