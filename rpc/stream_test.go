package rpc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"govirt/virerr"
)

// streamHandler: proc 100 uploads into got, proc 101 downloads want,
// proc 102 uploads then fails the finish.
type streamHandler struct {
	got    chan []byte
	want   []byte
	closed chan struct{}
}

func (h *streamHandler) Call(ctx context.Context, c *Call) {
	st := c.NewStream()
	c.Reply(nil)
	switch c.Proc {
	case 100, 102:
		b, err := io.ReadAll(st)
		if err != nil {
			h.got <- nil
			return
		}
		h.got <- b
		if c.Proc == 102 {
			st.CloseWithError(virerr.New(virerr.FromStorage, virerr.ErrOperationFailed, "%s", "flush failed"))
			return
		}
		st.Close()
	case 101:
		st.Write(h.want)
		st.Close()
	case 103:
		// Packets as they came, holes spelled out as "<n>".
		var b []byte
		for {
			data, hole, err := st.ReadChunk(1 << 30)
			if err == io.EOF {
				break
			}
			if err != nil {
				h.got <- nil
				return
			}
			if data == nil {
				b = append(b, fmt.Sprintf("<%d>", hole)...)
			}
			b = append(b, data...)
			b = append(b, '|')
		}
		h.got <- b
		st.Close()
	}
}

func (h *streamHandler) Closed() { close(h.closed) }

func startStreamServer(t *testing.T, h *streamHandler) *testServer {
	return startServer(t, func(s *Server) {
		s.NewHandler = func(*Conn) Handler { return h }
	})
}

func streamHdr(proc int32, serial uint32, st Status) Header {
	return Header{Prog: ProgramRemote, Vers: 1, Proc: proc, Type: TypeStream, Serial: serial, Status: st}
}

func TestWireUploadFinishHandshake(t *testing.T) {
	h := &streamHandler{got: make(chan []byte, 1), closed: make(chan struct{})}
	ts := startStreamServer(t, h)
	c := ts.dial(t)
	c.send(call(100, 5), nil)
	if r, _ := c.mustRecv(); r.Type != TypeReply || r.Status != StatusOK || r.Serial != 5 {
		t.Fatalf("reply %+v", r)
	}
	want := bytes.Repeat([]byte("0123456789"), 60000) // > 2 chunks
	for rest := want; len(rest) > 0; {
		n := min(len(rest), StreamChunkMax)
		f, _ := RawFrame(nil, streamHdr(100, 5, StatusContinue), rest[:n])
		c.write(f)
		rest = rest[n:]
	}
	c.send(Header{Prog: ProgramRemote, Vers: 1, Proc: 100, Type: TypeStreamHole, Serial: 5, Status: StatusContinue}, &StreamHoleArgs{Length: 7})
	c.send(streamHdr(100, 5, StatusOK), nil)
	r, body := c.mustRecv()
	if r != streamHdr(100, 5, StatusOK) || len(body) != 0 {
		t.Fatalf("finish confirm %+v len %d", r, len(body))
	}
	got := <-h.got
	if !bytes.Equal(got, append(want, make([]byte, 7)...)) {
		t.Fatalf("upload mismatch: %d bytes", len(got))
	}
}

func TestWireUploadFinishError(t *testing.T) {
	h := &streamHandler{got: make(chan []byte, 1), closed: make(chan struct{})}
	ts := startStreamServer(t, h)
	c := ts.dial(t)
	c.send(call(102, 9), nil)
	c.mustRecv()
	f, _ := RawFrame(nil, streamHdr(102, 9, StatusContinue), []byte("abc"))
	c.write(f)
	c.send(streamHdr(102, 9, StatusOK), nil)
	r, body := c.mustRecv()
	if r != streamHdr(102, 9, StatusError) || DecodeError(body).Code != virerr.ErrOperationFailed {
		t.Fatalf("got %+v %+v", r, DecodeError(body))
	}
}

func TestWireDownloadFinishHandshake(t *testing.T) {
	want := bytes.Repeat([]byte{1, 2, 3}, 200000)
	h := &streamHandler{want: want, closed: make(chan struct{})}
	ts := startStreamServer(t, h)
	c := ts.dial(t)
	c.send(call(101, 3), nil)
	if r, _ := c.mustRecv(); r.Type != TypeReply {
		t.Fatalf("reply %+v", r)
	}
	var got []byte
	for {
		r, body := c.mustRecv()
		if r.Type != TypeStream || r.Serial != 3 || r.Proc != 101 {
			t.Fatalf("unexpected %+v", r)
		}
		if len(body) > StreamChunkMax {
			t.Fatalf("chunk of %d bytes", len(body))
		}
		if r.Status == StatusContinue && len(body) == 0 {
			break // end of data, as libvirtd sends it
		}
		if r.Status != StatusContinue {
			t.Fatalf("data packet with status %d", r.Status)
		}
		got = append(got, body...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("download mismatch")
	}
	// virStreamFinish: the client's OK must be confirmed with an empty OK.
	c.send(streamHdr(101, 3, StatusOK), nil)
	if r, body := c.mustRecv(); r != streamHdr(101, 3, StatusOK) || len(body) != 0 {
		t.Fatalf("confirm %+v", r)
	}
}

func TestWireClientAbort(t *testing.T) {
	h := &streamHandler{got: make(chan []byte, 1), closed: make(chan struct{})}
	ts := startStreamServer(t, h)
	c := ts.dial(t)
	c.send(call(100, 4), nil)
	c.mustRecv()
	c.send(streamHdr(100, 4, StatusError), nil)
	if r, _ := c.mustRecv(); r != streamHdr(100, 4, StatusOK) {
		t.Fatalf("abort confirm %+v", r)
	}
	if got := <-h.got; got != nil {
		t.Fatal("aborted upload read as complete")
	}
	// Late data for the dead stream is ignored, connection stays usable.
	f, _ := RawFrame(nil, streamHdr(100, 4, StatusContinue), []byte("late"))
	c.write(f)
	c.send(Header{Prog: ProgramKeepalive, Vers: 1, Proc: KeepalivePing, Type: TypeMessage}, nil)
	if r, _ := c.mustRecv(); r.Proc != KeepalivePong {
		t.Fatalf("got %+v", r)
	}
}

// ReadChunk hands over each packet without a copy; the pooled buffers it
// lends are recycled only after the next call, so nothing read is
// overwritten by later packets.
func TestWireUploadReadChunk(t *testing.T) {
	h := &streamHandler{got: make(chan []byte, 1), closed: make(chan struct{})}
	ts := startStreamServer(t, h)
	c := ts.dial(t)
	c.send(call(103, 7), nil)
	c.mustRecv()
	var want []byte
	for i := range 40 {
		pkt := bytes.Repeat([]byte{byte('a' + i%26)}, StreamChunkMax-i)
		f, _ := RawFrame(nil, streamHdr(103, 7, StatusContinue), pkt)
		c.write(f)
		want = append(append(want, pkt...), '|')
		if i%10 == 9 {
			c.send(Header{Prog: ProgramRemote, Vers: 1, Proc: 103, Type: TypeStreamHole, Serial: 7, Status: StatusContinue}, &StreamHoleArgs{Length: int64(i)})
			want = append(want, fmt.Sprintf("<%d>|", i)...)
		}
	}
	c.send(streamHdr(103, 7, StatusOK), nil)
	if r, _ := c.mustRecv(); r != streamHdr(103, 7, StatusOK) {
		t.Fatalf("finish confirm %+v", r)
	}
	if got := <-h.got; !bytes.Equal(got, want) {
		t.Fatalf("upload mismatch: %d bytes, want %d", len(got), len(want))
	}
}
