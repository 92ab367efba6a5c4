package remote

import (
	"log/slog"
	"net/url"
	"testing"

	"govirt/access"
	"govirt/driver"
	testdrv "govirt/drivers/test"
	"govirt/rpc/procs"
	"govirt/rpc/xdr"
	"govirt/virerr"
)

// aclHandler is a test-driver connection whose client (no socket: an
// identity with only the unix transport) may read the domain "test" only.
func aclHandler(t *testing.T) (*handler, driver.Domain) {
	t.Helper()
	rs, err := access.ParseRules("allow transport=unix object=connect\nallow transport=unix object=domain name=test perm=getattr,read\n")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("test:///default")
	c, err := testdrv.New().Open(u, false)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(slog.New(slog.DiscardHandler))
	srv.SetAccess(access.NewWithRules(rs))
	h := &handler{session: &session{srv: srv, drv: c}}
	t.Cleanup(h.close)
	other, err := c.(driver.Domains).DomainDefineXML(`<domain type='test'><name>other</name><memory>8192</memory><os><type>hvm</type></os></domain>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h, other
}

func isDenied(err error) bool {
	e, ok := err.(*virerr.Error)
	return ok && e.Code == virerr.ErrAccessDenied && e.Message == "access denied: 'Test' denied access"
}

// A client cannot borrow an allowed name for another domain's UUID: the
// check is made on the domain the UUID names.
func TestACLChecksTheRealObject(t *testing.T) {
	h, other := aclHandler(t)
	test, _ := h.conn().(driver.Domains).LookupDomainByName("test")
	call := func(proc int32, a any) error {
		b, _ := xdr.Marshal(a)
		return h.aclBefore(ProgRemote, proc, b)
	}
	if err := call(procs.DomainGetInfo, DomainGetInfoArgs{Dom: NonnullDomain{Name: "test", UUID: test.UUID}}); err != nil {
		t.Fatalf("test's info: %v", err)
	}
	if err := call(procs.DomainGetInfo, DomainGetInfoArgs{Dom: NonnullDomain{Name: "test", UUID: other.UUID}}); !isDenied(err) {
		t.Fatalf("other's info under test's name: %v", err)
	}
	if err := call(procs.DomainDestroy, DomainDestroyArgs{Dom: NonnullDomain{Name: "test", UUID: test.UUID}}); !isDenied(err) {
		t.Fatalf("destroy: %v", err)
	}
	// A UUID nothing has is left to the procedure's "not found".
	if err := call(procs.DomainDestroy, DomainDestroyArgs{Dom: NonnullDomain{Name: "test", UUID: [16]byte{1}}}); err != nil {
		t.Fatalf("missing domain: %v", err)
	}
	// Flag-dependent checks: read_secure only with the secure flag.
	if err := call(procs.DomainGetXMLDesc, DomainGetXMLDescArgs{Dom: wireDom(test)}); err != nil {
		t.Fatalf("dumpxml: %v", err)
	}
	if err := call(procs.DomainGetXMLDesc, DomainGetXMLDescArgs{Dom: wireDom(test), Flags: 1}); !isDenied(err) {
		t.Fatalf("dumpxml --security-info: %v", err)
	}
	// A definition is checked on the domain its XML names.
	if err := call(procs.DomainDefineXML, DomainDefineXMLArgs{XML: "<domain><name>test</name></domain>"}); !isDenied(err) {
		t.Fatalf("define: %v", err)
	}
}

// The list calls and counts keep only what the client may see.
func TestACLFiltersLists(t *testing.T) {
	h, _ := aclHandler(t)
	run := func(proc int32, a any) any {
		t.Helper()
		var b []byte
		if a != nil {
			b, _ = xdr.Marshal(a)
		}
		ret, err, ok := h.dispatch(proc, b)
		if err != nil || !ok {
			t.Fatalf("%s: %v", procs.Name(proc), err)
		}
		return ret
	}
	r := run(procs.ConnectListAllDomains, ConnectListAllDomainsArgs{NeedResults: 1}).(domainListRet)
	if len(r.doms) != 1 || r.doms[0].Name != "test" || r.ret != 1 {
		t.Fatalf("list all: %+v", r)
	}
	if r := run(procs.ConnectListAllDomains, ConnectListAllDomainsArgs{}).(domainListRet); r.ret != 1 || len(r.doms) != 0 {
		t.Fatalf("count only: %+v", r)
	}
	if n := run(procs.ConnectNumOfDefinedDomains, nil); n.(intRet).V != 0 {
		t.Fatalf("defined count: %+v", n)
	}
	if n := run(procs.ConnectNumOfDomains, nil); n.(intRet).V != 1 {
		t.Fatalf("active count: %+v", n)
	}
	if l := run(procs.ConnectListDefinedDomains, ConnectListDefinedDomainsArgs{Maxnames: 10}); len(l.(ConnectListDefinedDomainsRet).Names) != 0 {
		t.Fatalf("defined names: %+v", l)
	}
	if _, err, _ := h.dispatch(procs.DomainLookupByName, mustXDR(DomainLookupByNameArgs{Name: "other"})); !isDenied(err) {
		t.Fatalf("lookup other: %v", err)
	}
}

func mustXDR(v any) []byte {
	b, err := xdr.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// CONNECT_SET_IDENTITY replaces the identity the rules see.
func TestACLSetIdentity(t *testing.T) {
	rs, _ := access.ParseRules("allow user=alice uid=1000 sasl=al\n")
	u, _ := url.Parse("test:///default")
	c, _ := testdrv.New().Open(u, false)
	srv := NewServer(slog.New(slog.DiscardHandler))
	srv.SetAccess(access.NewWithRules(rs))
	h := &handler{session: &session{srv: srv, drv: c}}
	defer h.close()
	if err := h.aclBefore(ProgRemote, procs.ConnectGetHostname, nil); !isDenied(err) {
		t.Fatalf("before: %v", err)
	}
	args := ConnectSetIdentityArgs{Params: []TypedParam{
		{Field: "user-name", Value: "alice"}, {Field: "unix-user-id", Value: uint64(1000)},
		{Field: "sasl-user-name", Value: "al"}}}
	if _, err := connectSetIdentity(h, mustXDR(args)); err != nil {
		t.Fatal(err)
	}
	if err := h.aclBefore(ProgRemote, procs.ConnectGetHostname, nil); err != nil {
		t.Fatalf("after: %v", err)
	}
}
