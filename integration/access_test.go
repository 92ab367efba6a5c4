package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"govirt/tlsauth/pkitest"
)

// accessDaemon starts govirtd with the rules driver and a read-write
// socket any local user reaches (unix_sock_rw_perms), so that clients of
// another uid meet the rules rather than the socket's mode.
func accessDaemon(t *testing.T, rules string, extraConf ...string) *daemon {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run clients as another user")
	}
	rulesPath := filepath.Join(t.TempDir(), "access.rules")
	if err := os.WriteFile(rulesPath, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := writeConfig(t, append([]string{`access_drivers = [ "rules" ]`, `access_rules = "` + rulesPath + `"`,
		`unix_sock_rw_perms = "0777"`}, extraConf...)...)
	d := startDaemon(t, "--config", conf)
	// The test's temp directory holds the sockets: let others reach them.
	if err := os.Chmod(d.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// asNobody runs a command as nobody:nogroup with no supplementary groups.
func asNobody(t *testing.T, argv ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, argv...)...)
	home := t.TempDir()
	os.Chmod(home, 0o777)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+home, "XDG_CACHE_HOME="+home, "XDG_CONFIG_HOME="+home,
		"XDG_RUNTIME_DIR="+home, "VIRSH_DEFAULT_CONNECT_URI=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return out.String(), errb.String(), rc
}

const accessRules = `
# root may do everything
allow uid=0
# nobody reads the domain "test" and nothing else
allow user=nobody object=connect perm=getattr,read,search_domains
allow user=nobody object=domain name=test perm=getattr,read
deny  user=nobody
`

const otherDomainXML = `<domain type='test'><name>other</name><memory>8192</memory><os><type>hvm</type></os></domain>`

// TestAccessRulesVirsh: a user allowed only to read one domain sees only it
// in virsh list, gets libvirt's "access denied" on every change and on
// other domains, on the read-write and the read-only socket alike; root's
// rule leaves it everything.
func TestAccessRulesVirsh(t *testing.T) {
	d := accessDaemon(t, accessRules)
	uri := d.URI("test")
	// The test driver's state lives while a connection is open: root
	// keeps one and defines a second domain on it.
	xmlPath := filepath.Join(t.TempDir(), "other.xml")
	os.WriteFile(xmlPath, []byte(otherDomainXML), 0o644)
	root := holdVirsh(t, "-c", uri)
	fmt.Fprintf(root.stdin, "define %s\n", xmlPath)
	waitUntil(t, 10*time.Second, func() bool {
		out, _, _ := virsh(t, uri, "list", "--all", "--name")
		return strings.Contains(out, "other")
	}, "the domain other defined")

	out, errs, rc := asNobody(t, "virsh", "-c", uri, "list", "--all", "--name")
	if rc != 0 || strings.TrimSpace(out) != "test" {
		t.Fatalf("nobody's list: rc %d %q %s", rc, out, errs)
	}
	if out, _, _ := asNobody(t, "virsh", "-c", uri, "dominfo", "test"); !strings.Contains(out, "running") {
		t.Fatalf("nobody's dominfo test: %q", out)
	}
	const denied = "error: access denied: 'Test' denied access"
	// virsh hides the lookup's own error behind its "failed to get
	// domain"; python shows it is libvirt's access denial.
	for _, args := range [][]string{{"dominfo", "other"}, {"dumpxml", "other"}, {"start", "other"}} {
		_, errs, rc := asNobody(t, append([]string{"virsh", "-c", uri}, args...)...)
		if rc == 0 || !strings.Contains(errs, "error: failed to get domain 'other'") {
			t.Errorf("nobody's %v: rc %d, %s", args, rc, errs)
		}
	}
	nobodyXML := filepath.Join(d.dir, "other.xml")
	os.WriteFile(nobodyXML, []byte(strings.Replace(otherDomainXML, "other", "third", 1)), 0o644)
	script := filepath.Join(d.dir, "lookup.py")
	os.WriteFile(script, []byte(lookupScript), 0o644)
	out, errs, rc = asNobody(t, "/usr/bin/python3", script, uri)
	if want := "other 88 55 access denied: 'Test' denied access\nnosuch 42 12\ntest ok\n"; rc != 0 || out != want {
		t.Errorf("python lookups: rc %d\n%s\nwant\n%s%s", rc, out, want, errs)
	}
	for _, args := range [][]string{
		{"destroy", "test"},
		{"suspend", "test"},
		{"define", nobodyXML},
		{"dumpxml", "--security-info", "test"},
	} {
		_, errs, rc := asNobody(t, append([]string{"virsh", "-c", uri}, args...)...)
		if rc == 0 || !strings.Contains(errs, denied) {
			t.Errorf("nobody's %v: rc %d, %s", args, rc, errs)
		}
	}
	// The old list calls and counts are filtered too.
	if out, _, _ := asNobody(t, "virsh", "-c", uri, "list", "--all", "--name", "--no-autostart", "--autostart"); strings.Contains(out, "other") {
		t.Errorf("filtered list shows other: %q", out)
	}

	// Read-only socket: still limited to "test", and a change is refused
	// as read-only before the access rules are asked.
	roURI := "test+unix:///default?socket=" + d.SockRO
	out, errs, rc = asNobody(t, "virsh", "-c", roURI, "list", "--all", "--name")
	if rc != 0 || strings.TrimSpace(out) != "test" {
		t.Fatalf("nobody's read-only list: rc %d %q %s", rc, out, errs)
	}
	_, errs, _ = asNobody(t, "virsh", "-c", roURI, "destroy", "test")
	if !strings.Contains(errs, "read only access prevents virDomainDestroy") {
		t.Errorf("read-only destroy: %s", errs)
	}
	_, errs, _ = asNobody(t, "virsh", "-c", roURI, "dominfo", "other")
	if !strings.Contains(errs, "failed to get domain 'other'") {
		t.Errorf("read-only dominfo other: %s", errs)
	}

	// Root is allowed everything.
	mustVirsh(t, uri, "suspend test")
	mustVirsh(t, uri, "resume test")
	if out := mustVirsh(t, uri, "list --all --name"); !strings.Contains(out, "other") || !strings.Contains(out, "test") {
		t.Fatalf("root's list: %q", out)
	}
}

// lookupScript looks up a hidden, a missing and a visible domain: the
// hidden one is refused (VIR_ERR_ACCESS_DENIED from VIR_FROM_ACCESS), the
// missing one is reported missing, as libvirt checks after the lookup.
const lookupScript = `
import libvirt, sys
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
for n in ("other", "nosuch", "test"):
    try:
        c.lookupByName(n)
        print(n, "ok")
    except libvirt.libvirtError as e:
        print(n, e.get_error_code(), e.get_error_domain(), *([e.get_error_message()] if e.get_error_code() == 88 else []))
`

const eventScript = `
import libvirt, sys, threading, time
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open(sys.argv[1])
seen = []
def cb(conn, dom, event, detail, opaque):
    seen.append(dom.name())
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, None)
def loop():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
print("ready", flush=True)
sys.stdin.readline()
time.sleep(1)
print("events", " ".join(seen), flush=True)
`

// TestAccessRulesEvents: a client gets the events of the domains it may
// see, not the others'.
func TestAccessRulesEvents(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no python3")
	}
	d := accessDaemon(t, accessRules)
	uri := d.URI("test")
	xmlPath := filepath.Join(t.TempDir(), "other.xml")
	os.WriteFile(xmlPath, []byte(otherDomainXML), 0o644)
	root := holdVirsh(t, "-c", uri)
	fmt.Fprintf(root.stdin, "define %s\n", xmlPath)
	waitUntil(t, 10*time.Second, func() bool {
		out, _, _ := virsh(t, uri, "list", "--all", "--name")
		return strings.Contains(out, "other")
	}, "the domain other defined")
	script := filepath.Join(d.dir, "events.py")
	if err := os.WriteFile(script, []byte(eventScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", script, uri)
	cmd.Env = append(os.Environ(), "HOME=/tmp")
	in, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	br := bufio.NewReader(outPipe)
	line, err := br.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("event client: %q %v %s", line, err, errb.String())
	}
	mustVirsh(t, uri, "start other")
	mustVirsh(t, uri, "suspend test")
	mustVirsh(t, uri, "resume test")
	mustVirsh(t, uri, "destroy other")
	io.WriteString(in, "\n")
	line, err = br.ReadString('\n')
	if err != nil {
		t.Fatalf("event client: %v %s", err, errb.String())
	}
	got := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "events"))
	if len(got) != 2 || got[0] != "test" || got[1] != "test" {
		t.Fatalf("nobody's events: %q (want test's suspend and resume only)", got)
	}
	cmd.Wait()
}

// TestAccessRulesTLSDN: rules on the TLS client certificate's subject.
func TestAccessRulesTLSDN(t *testing.T) {
	s := newTLSSetup(t)
	viewerCert, err := s.ca.Client(pkix.Name{CommonName: "viewer", Organization: []string{"govirt"}, Country: []string{"GB"}})
	if err != nil {
		t.Fatal(err)
	}
	viewer := filepath.Join(t.TempDir(), "viewer")
	if err := pkitest.WriteClientDir(viewer, s.ca, viewerCert); err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(t.TempDir(), "access.rules")
	os.WriteFile(rulesPath, []byte(`
allow x509dn="CN=client,O=govirt,C=GB"
allow x509dn="CN=viewer,*" driver=test object=connect
allow x509dn="CN=viewer,*" object=domain perm=getattr,read
deny
`), 0o600)
	conf := writeConfig(t, `access_drivers = [ "rules" ]`, `access_rules = "`+rulesPath+`"`)
	d, addr := startTLSDaemon(t, s, "--config", conf)

	if out := mustVirsh(t, tlsURI("test", addr, viewer), "list --all --name"); strings.TrimSpace(out) != "test" {
		t.Errorf("viewer's list: %q", out)
	}
	if _, errs, rc := virsh(t, tlsURI("test", addr, viewer), "suspend", "test"); rc == 0 || !strings.Contains(errs, "error: access denied: 'Test' denied access") {
		t.Errorf("viewer's suspend: rc %d %s", rc, errs)
	}
	if _, errs, rc := virsh(t, tlsURI("qemu", addr, viewer), "list", "--all"); rc == 0 || !strings.Contains(errs, "access denied: 'QEMU' denied access") {
		t.Errorf("viewer's qemu list: rc %d %s", rc, errs)
	}
	mustVirsh(t, tlsURI("test", addr, s.good), "suspend test")
	// The unix socket's client has no certificate: no rule matches it,
	// so even opening the connection (connect:getattr) is refused.
	if _, errs, rc := virsh(t, d.URI("test"), "list"); rc == 0 || !strings.Contains(errs, "access denied: 'Test' denied access") {
		t.Errorf("unix client: rc %d %s", rc, errs)
	}
}

// TestSocketSettings: libvirtd.conf's socket modes and group are given to
// the sockets, and the auth list each socket advertises follows its
// auth_* setting (a client then has to authenticate with SASL there).
func TestSocketSettings(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the sockets a group")
	}
	users := filepath.Join(t.TempDir(), "sasl.users")
	saslUser(t, users, "alice", "secret")
	conf := writeConfig(t, `unix_sock_group = "nogroup"`, `unix_sock_rw_perms = "0770"`, `unix_sock_ro_perms = "0775"`,
		`auth_unix_ro = "sasl"`, `sasl_users = "`+users+`"`)
	d := startDaemon(t, "--config", conf)
	os.Chmod(d.dir, 0o755)
	for path, mode := range map[string]os.FileMode{d.Socket: 0o770, d.SockRO: 0o775} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != mode || st.Gid != 65534 {
			t.Errorf("%s: mode %v gid %d, want %v and nogroup", path, fi.Mode().Perm(), st.Gid, mode)
		}
	}
	// nobody is in nogroup only with its primary group: setpriv keeps it.
	if out, errs, rc := asNobody(t, "virsh", "-c", d.URI("test"), "list", "--name"); rc != 0 || strings.TrimSpace(out) != "test" {
		t.Errorf("nobody through the group's mode: rc %d %q %s", rc, out, errs)
	}
	// The read-only socket asks for SASL: without credentials the client
	// cannot log in.
	t.Setenv("LIBVIRT_AUTH_FILE", "/dev/null")
	ro := "test+unix:///default?socket=" + d.SockRO
	if _, errs, rc := virsh(t, ro, "list"); rc == 0 {
		t.Errorf("read-only socket with auth_unix_ro = sasl, no credentials: rc %d %s", rc, errs)
	}
	auth := filepath.Join(t.TempDir(), "auth.conf")
	os.WriteFile(auth, []byte("[credentials-it]\nauthname=alice\npassword=secret\n\n[auth-libvirt-localhost]\ncredentials=it\n"), 0o600)
	t.Setenv("LIBVIRT_AUTH_FILE", auth)
	if out, errs, rc := virsh(t, ro, "list", "--name"); rc != 0 || strings.TrimSpace(out) != "test" {
		t.Errorf("read-only socket after a SASL login: rc %d %q %s", rc, out, errs)
	}
}

// TestAccessRulesSASLUserReadOnly: rules on the SASL user name a login set.
func TestAccessRulesSASLUserReadOnly(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "access.rules")
	os.WriteFile(rules, []byte("allow sasl=alice\nallow sasl=bob object=connect\nallow sasl=bob object=domain perm=getattr,read\ndeny\n"), 0o600)
	e := startSASLDaemon(t, `access_drivers = [ "rules" ]`, `access_rules = "`+rules+`"`)
	e.authFile(t, "bob", "bobpw")
	if out := mustVirsh(t, e.unixURI(""), "domstate test"); strings.TrimSpace(out) != "running" {
		t.Errorf("bob's domstate: %q", out)
	}
	if _, errs, rc := virsh(t, e.unixURI(""), "suspend", "test"); rc == 0 || !strings.Contains(errs, "error: access denied: 'Test' denied access") {
		t.Errorf("bob's suspend: rc %d %s", rc, errs)
	}
	e.authFile(t, "alice", "secret")
	mustVirsh(t, e.unixURI(""), "suspend test")
	// The read-only socket has no SASL here: no user name, no rule.
	if _, errs, rc := virsh(t, "test+unix:///default?socket="+e.d.SockRO, "list"); rc == 0 || !strings.Contains(errs, "access denied") {
		t.Errorf("read-only socket without a SASL user: rc %d %s", rc, errs)
	}
}
