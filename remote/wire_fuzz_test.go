package remote

import (
	"bytes"
	"encoding/binary"
	"testing"

	"govirt/rpc/procs"
	"govirt/rpc/xdr"
)

// FuzzArgsDecode feeds every procedure's generated argument decoder
// arbitrary bytes: it must never panic, and whatever it accepts must
// re-encode (the bounds are the same both ways) to bytes that decode to
// the same encoding again.
func FuzzArgsDecode(f *testing.F) {
	seed := func(proc int32, v any) {
		b, err := xdr.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append(binary.BigEndian.AppendUint16(nil, uint16(proc)), b...))
	}
	seed(procs.DomainGetXMLDesc, DomainGetXMLDescArgs{Dom: NonnullDomain{Name: "d"}, Flags: 1})
	seed(procs.DomainSetSchedulerParametersFlags, DomainSetSchedulerParametersFlagsArgs{Params: []TypedParam{{Field: "a", Value: "b"}}})
	seed(procs.DomainGetVcpus, DomainGetVcpusArgs{Maxinfo: 1, Maplen: 1})
	seed(procs.DomainMigratePrepare3Params, DomainMigratePrepare3ParamsArgs{CookieIn: []byte{1, 2, 3}})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		proc := int32(binary.BigEndian.Uint16(data))
		a := newArgs(procs.ProgramRemote, proc%(procs.Max+1))
		if a == nil {
			return
		}
		if err := xdr.Unmarshal(data[2:], a); err != nil {
			return
		}
		if c, ok := a.(countChecker); ok {
			_ = c.checkCounts()
		}
		enc, err := xdr.Marshal(a)
		if err != nil {
			t.Fatalf("proc %d: decoded value does not re-encode: %v", proc, err)
		}
		b := newArgs(procs.ProgramRemote, proc%(procs.Max+1))
		if err := xdr.Unmarshal(enc, b); err != nil {
			t.Fatalf("proc %d: re-encoded value does not decode: %v", proc, err)
		}
		if enc2, _ := xdr.Marshal(b); !bytes.Equal(enc, enc2) {
			t.Fatalf("proc %d: encoding not stable", proc)
		}
	})
}
