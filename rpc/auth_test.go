package rpc

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"govirt/rpc/xdr"
)

// xorLayer stands in for a SASL layer: every packet is a length byte and
// the bytes XORed with 0x5a.
type xorLayer struct{ in []byte }

func (x *xorLayer) Encode(p []byte) []byte {
	var out []byte
	for len(p) > 0 {
		n := min(len(p), 200)
		out = append(out, byte(n))
		for _, b := range p[:n] {
			out = append(out, b^0x5a)
		}
		p = p[n:]
	}
	return out
}

func (x *xorLayer) Decode(raw []byte) ([]byte, error) {
	x.in = append(x.in, raw...)
	var out []byte
	for len(x.in) > 0 && len(x.in) > int(x.in[0]) {
		n := int(x.in[0])
		for _, b := range x.in[1 : 1+n] {
			out = append(out, b^0x5a)
		}
		x.in = x.in[1+n:]
	}
	return out, nil
}

// layerHandler starts the layer with its reply to proc 7 and echoes
// proc 1.
type layerHandler struct{}

func (layerHandler) Call(_ context.Context, c *Call) {
	switch c.Proc {
	case 7:
		if err := c.ReplyWithLayer(&echoArgs{"switch"}, &xorLayer{}); err != nil {
			panic(err)
		}
	case 1:
		var a echoArgs
		c.Decode(&a)
		c.Reply(&a)
	}
}
func (layerHandler) Closed() {}

// TestReplyWithLayer: the reply that starts a security layer goes in
// clear; everything after it, both ways, goes through the layer.
func TestReplyWithLayer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(func(*Conn) Handler { return layerHandler{} })
	srv.Logf = t.Logf
	go srv.ServeService(ln, Service{Transport: TransportTCP, Auth: AuthSASL})
	defer srv.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	call := func(w io.Writer, proc int32, serial uint32, s string) {
		f, err := EncodeFrame(nil, Header{Prog: ProgramRemote, Vers: ProtocolVersion, Proc: proc, Type: TypeCall, Serial: serial}, &echoArgs{s})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f)
	}
	read := func(r io.Reader) string {
		_, body, err := ReadFrame(r, make([]byte, LenSize+HeaderSize))
		if err != nil {
			t.Fatal(err)
		}
		var a echoArgs
		if err := xdr.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		return a.S
	}
	call(nc, 7, 1, "")
	if got := read(nc); got != "switch" {
		t.Fatalf("clear reply: %q", got)
	}
	cl := &xorLayer{}
	var enc bytes.Buffer
	big := string(bytes.Repeat([]byte("z"), 5000))
	call(&enc, 1, 2, big)
	nc.Write(cl.Encode(enc.Bytes()))
	// Read and decode until a whole frame is there.
	var plain bytes.Buffer
	buf := make([]byte, 4096)
	for plain.Len() < 4 || plain.Len() < int(uint32(plain.Bytes()[0])<<24|uint32(plain.Bytes()[1])<<16|uint32(plain.Bytes()[2])<<8|uint32(plain.Bytes()[3])) {
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := cl.Decode(buf[:n])
		plain.Write(p)
	}
	if got := read(&plain); got != big {
		t.Fatalf("echo through the layer: %d bytes", len(got))
	}
}
