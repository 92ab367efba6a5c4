package remote

import (
	"fmt"
	"testing"

	"govirt/rpc/xdr"
)

// The hot paths of the CPU-per-call benchmark: GET_INFO's arguments and
// reply, and LIST_ALL_DOMAINS' reply with 1,000 domains.
func BenchmarkGetInfoCodec(b *testing.B) {
	body, _ := xdr.Marshal(DomainGetInfoArgs{Dom: NonnullDomain{Name: "guest-0001", ID: 7}})
	ret := any(DomainGetInfoRet{State: 1, MaxMem: 1 << 20, Memory: 1 << 20, NrVirtCpu: 2, CpuTime: 12345})
	e := xdr.NewEncoder(nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a, err := args[domArgs](body)
		if err != nil || a.Obj.ID != 7 {
			b.Fatal(err)
		}
		e.Reset(e.Bytes()[:0])
		if err := e.Encode(ret); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListAllDomainsReply(b *testing.B) {
	doms := make([]NonnullDomain, 1000)
	for i := range doms {
		doms[i] = NonnullDomain{Name: fmt.Sprintf("guest-%04d", i), ID: -1}
	}
	ret := any(listRet[NonnullDomain]{Objs: doms, Ret: 1000})
	e := xdr.NewEncoder(nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.Reset(e.Bytes()[:0])
		if err := e.Encode(ret); err != nil {
			b.Fatal(err)
		}
	}
}
