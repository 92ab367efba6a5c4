package rpc

import (
	"testing"

	"govirt/rpc/xdr"
)

func FuzzDecodeFrame(f *testing.F) {
	good, _ := EncodeFrame(nil, Header{Prog: ProgramRemote, Vers: 1, Proc: 1, Type: TypeReply, Serial: 3, Status: StatusError},
		ToRemoteError(ErrUnknownProc(5)))
	f.Add(good)
	f.Add(good[:20])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 28, 0x20, 0, 0x80, 0x86, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, body, err := DecodeFrame(data)
		if err != nil {
			return
		}
		if len(body) != len(data)-LenSize-HeaderSize {
			t.Fatalf("body length %d for frame %d", len(body), len(data))
		}
		// Every body decoder the server runs on untrusted input.
		_ = DecodeError(body)
		var hole StreamHoleArgs
		_ = xdr.Unmarshal(body, &hole)
		var params []xdr.TypedParam
		_ = xdr.Unmarshal(body, &params)
		re, err := EncodeFrame(nil, h, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h2, _, err := DecodeFrame(re); err != nil || h2 != h {
			t.Fatalf("header round trip: %+v vs %+v (%v)", h, h2, err)
		}
	})
}
