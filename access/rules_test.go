package access

import (
	"strings"
	"testing"

	"govirt/rpc"
	"govirt/virerr"
)

const sample = `
# alice reads web1 only
allow user=alice object=connect
allow user=alice object=domain name=web1 perm=getattr,read   # trailing comment
deny  user=alice
allow x509dn="CN=ops,O=Example Corp,*" object=domain perm=*
allow uid=0
allow group=wheel object=storage_vol parent=default perm=storage_vol:getattr
allow sasl=bob driver=qemu
`

func TestParseAndMatch(t *testing.T) {
	rs, err := ParseRules(sample)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 7 {
		t.Fatalf("rules = %d", rs.Len())
	}
	m := NewWithRules(rs)
	alice := &rpc.Identity{Unix: true, UID: 1000, UserName: "alice", Groups: []string{"alice"}}
	root := &rpc.Identity{Unix: true, UID: 0, UserName: "root"}
	ops := &rpc.Identity{Transport: rpc.TransportTLS, X509DName: "CN=ops,O=Example Corp,C=GB"}
	wheel := &rpc.Identity{Unix: true, UID: 7, Groups: []string{"users", "wheel"}}
	bob := &rpc.Identity{Transport: rpc.TransportTCP, SASLUser: "bob"}
	web1 := Object{Kind: KindDomain, Driver: "QEMU", Name: "web1"}
	db := Object{Kind: KindDomain, Driver: "QEMU", Name: "db"}
	conn := Object{Kind: KindConnect, Driver: "QEMU"}
	vol := Object{Kind: KindStorageVol, Driver: "QEMU", Name: "a.qcow2", Parent: "default"}
	for _, c := range []struct {
		id   *rpc.Identity
		obj  Object
		perm string
		want bool
	}{
		{alice, conn, "getattr", true},
		{alice, conn, "search_domains", true},
		{alice, web1, "getattr", true},
		{alice, web1, "read", true},
		{alice, web1, "start", false},
		{alice, db, "getattr", false},
		{root, db, "delete", true},
		{ops, db, "stop", true},
		{ops, conn, "getattr", false},
		{wheel, vol, "getattr", true},
		{wheel, vol, "delete", false},
		{wheel, Object{Kind: KindStorageVol, Parent: "other"}, "getattr", false},
		{bob, db, "start", true},
		{bob, Object{Kind: KindDomain, Driver: "Test"}, "start", false},
		{&rpc.Identity{}, conn, "getattr", false},
	} {
		if got := m.Allowed(c.id, c.obj, c.perm); got != c.want {
			t.Errorf("%+v %+v %s: got %v", c.id, c.obj, c.perm, got)
		}
	}
	err = m.Ensure(alice, db, "getattr")
	ve, ok := err.(*virerr.Error)
	if !ok || ve.Code != virerr.ErrAccessDenied || ve.Domain != virerr.FromAccess || ve.Message != "access denied: 'QEMU' denied access" {
		t.Fatalf("denial = %#v", err)
	}
	var nilMgr *Manager
	if !nilMgr.Allowed(alice, db, "delete") || nilMgr.Enabled() {
		t.Fatal("no manager must allow everything")
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		"permit user=a",
		"allow user",
		"allow object=dom",
		"allow object=domain perm=search_domains",
		"allow perm=domain:bogus",
		"allow object=network perm=domain:read",
		"allow perm=nosuch",
		"allow uid=abc",
		"allow transport=ssh",
		"allow user=a user=b",
		`allow x509dn="CN=a`,
		`allow name="a\n"`,
		"allow colour=red",
	} {
		if _, err := ParseRules(src); err == nil {
			t.Errorf("%q: accepted", src)
		} else if !strings.HasPrefix(err.Error(), "line 1: ") {
			t.Errorf("%q: %v", src, err)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"*b*", "abc", true}, {"é?", "éx", true}, {"x", "xx", false},
	} {
		if glob(c.p, c.s) != c.want {
			t.Errorf("glob(%q, %q) != %v", c.p, c.s, c.want)
		}
	}
}

func TestParseCheck(t *testing.T) {
	c, err := ParseCheck("domain:save:!VIR_DOMAIN_AFFECT_CONFIG|VIR_DOMAIN_AFFECT_LIVE")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Applies(0, 0) || c.Applies(1, 0) || c.Applies(2, 0) {
		t.Fatal("negated flags")
	}
	c, _ = ParseCheck("domain:read_secure:VIR_DOMAIN_XML_SECURE")
	if c.Applies(0, 0) || !c.Applies(1, 0) {
		t.Fatal("flags")
	}
	c, _ = ParseCheck("domain:write::source:VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT")
	if c.Param != "Source" || c.Applies(0, 0) || !c.Applies(0, 1) {
		t.Fatalf("param %+v", c)
	}
	for _, bad := range []string{"domain", "domain:fly", "domain:read:VIR_NOPE", "a:b:c:d"} {
		if _, err := ParseCheck(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseRules: any text either parses or is refused with an error
// naming its line, and checks on what parsed never panic.
func FuzzParseRules(f *testing.F) {
	f.Add(sample)
	f.Add(`allow x509dn="a\"b" name=*`)
	f.Add("deny\nallow perm=*")
	f.Fuzz(func(t *testing.T, src string) {
		rs, err := ParseRules(src)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error without line: %v", err)
			}
			return
		}
		m := NewWithRules(rs)
		id := &rpc.Identity{Unix: true, UserName: src, Groups: []string{src}, X509DName: src, SASLUser: src}
		for k, perms := range Perms {
			m.Allowed(id, Object{Kind: k, Name: src, UUID: src, Parent: src, Driver: src}, perms[0])
		}
	})
}
