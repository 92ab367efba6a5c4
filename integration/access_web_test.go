package integration

import (
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/tlsauth/pkitest"
)

// TestAccessRulesWebGuests is issue 16's ACL scenario for a unix user and
// a TLS client certificate alike: a rule lets each see and start only the
// guests named web-*; `list --all` shows only those, starting another is
// refused with libvirt's access-denied error, and root (and the TLS
// client the rules give everything) still sees every guest.
func TestAccessRulesWebGuests(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run clients as another user")
	}
	s := newTLSSetup(t)
	webCert, err := s.ca.Client(pkix.Name{CommonName: "web", Organization: []string{"govirt"}, Country: []string{"GB"}})
	if err != nil {
		t.Fatal(err)
	}
	webPKI := filepath.Join(t.TempDir(), "web")
	if err := pkitest.WriteClientDir(webPKI, s.ca, webCert); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(t.TempDir(), "access.rules")
	os.WriteFile(rules, []byte(`
allow uid=0
allow x509dn="CN=client,O=govirt,C=GB"
allow user=nobody object=connect perm=getattr,read,search_domains
allow user=nobody object=domain name=web-* perm=getattr,read,start
allow x509dn="CN=web,*" object=connect perm=getattr,read,search_domains
allow x509dn="CN=web,*" object=domain name=web-* perm=getattr,read,start
deny
`), 0o600)
	conf := writeConfig(t, `access_drivers = [ "rules" ]`, `access_rules = "`+rules+`"`, `unix_sock_rw_perms = "0777"`)
	d, addr := startTLSDaemon(t, s, "--config", conf)
	if err := os.Chmod(d.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	uri := d.URI("test")
	// The test driver's guests live while a connection is open: root
	// holds one and defines the guests on it.
	root := holdVirsh(t, "-c", uri)
	for _, name := range []string{"web-1", "web-2", "db-1"} {
		p := filepath.Join(t.TempDir(), name+".xml")
		os.WriteFile(p, []byte(strings.Replace(otherDomainXML, "other", name, 1)), 0o644)
		fmt.Fprintf(root.stdin, "define %s\n", p)
	}
	waitUntil(t, 10*time.Second, func() bool {
		out, _, _ := virsh(t, uri, "list", "--all", "--name")
		return strings.Contains(out, "db-1") && strings.Contains(out, "web-2")
	}, "the guests defined")

	const denied = "access denied: 'Test' denied access"
	type client struct {
		name string
		run  func(args ...string) (string, string, int)
	}
	for _, c := range []client{
		{"unix user nobody", func(args ...string) (string, string, int) {
			return asNobody(t, append([]string{"virsh", "-c", uri}, args...)...)
		}},
		{"TLS CN=web", func(args ...string) (string, string, int) {
			return virsh(t, tlsURI("test", addr, webPKI), args...)
		}},
	} {
		out, errs, rc := c.run("list", "--all", "--name")
		if got := strings.Fields(out); rc != 0 || strings.Join(got, " ") != "web-1 web-2" {
			t.Errorf("%s: list --all: rc %d %q %s", c.name, rc, out, errs)
		}
		if _, errs, rc := c.run("start", "web-1"); rc != 0 {
			t.Errorf("%s: start web-1: rc %d %s", c.name, rc, errs)
		}
		if _, errs, rc := c.run("destroy", "web-1"); rc == 0 || !strings.Contains(errs, denied) {
			t.Errorf("%s: destroy web-1: rc %d %s", c.name, rc, errs)
		}
		// db-1 is hidden: virsh's lookup fails before start is tried.
		if _, errs, rc := c.run("start", "db-1"); rc == 0 || !strings.Contains(errs, "failed to get domain 'db-1'") {
			t.Errorf("%s: start db-1: rc %d %s", c.name, rc, errs)
		}
		mustVirsh(t, uri, "destroy web-1")
	}
	out := mustVirsh(t, uri, "list --all --name")
	for _, name := range []string{"test", "web-1", "web-2", "db-1"} {
		if !strings.Contains(out, name) {
			t.Errorf("root's list lacks %s: %q", name, out)
		}
	}
	if out := mustVirsh(t, tlsURI("test", addr, s.good), "list --all --name"); !strings.Contains(out, "db-1") {
		t.Errorf("the TLS client with every right: %q", out)
	}
}
