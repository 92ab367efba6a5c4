package remote

import (
	"bytes"
	"testing"

	"govirt/driver"
	"govirt/rpc/xdr"
)

// The hand-written list reply must be byte for byte the generated one.
func TestDomainListRetMatchesGenerated(t *testing.T) {
	doms := []driver.Domain{{Name: "a", ID: 3}, {Name: "guest-two", ID: -1}}
	doms[1].UUID[0], doms[1].UUID[15] = 0xab, 0xcd
	want, err := xdr.Marshal(ConnectListAllDomainsRet{Domains: mapSlice(doms, wireDom), Ret: 2})
	if err != nil {
		t.Fatal(err)
	}
	got, err := xdr.Marshal(domainListRet{doms: doms, ret: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
}
