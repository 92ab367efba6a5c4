package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// treeListing lists every path under root (relative), with the ones under
// skip left out.
func treeListing(t *testing.T, root string, skip ...string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		for _, s := range skip {
			if rel == s || strings.HasPrefix(rel, s+"/") {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return out
}

func writeDoc(t *testing.T, dir, file, doc string) string {
	t.Helper()
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHostileNamesTestDriver: libvirt refuses '/' and empty names with its
// errors, and a newline at define; ".", ".." and a newline at create are
// accepted, as by libvirt's test driver.
func TestHostileNamesTestDriver(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir()
	doc := func(name string) string {
		return "<domain type='test'><name>" + name + "</name><memory>1024</memory><os><type>hvm</type></os></domain>"
	}
	for _, c := range []struct{ name, cmd, want string }{
		{"a/b", "define", "error: XML error: name a/b cannot contain '/'"},
		{"../../x", "define", "error: XML error: name ../../x cannot contain '/'"},
		{"../../../../elsewhere/victim", "create", "error: XML error: name ../../../../elsewhere/victim cannot contain '/'"},
		{"", "define", "error: missing name information"},
		{"", "create", "error: missing name information"},
		{"a\nb", "define", "error: invalid char in name: \n"},
	} {
		p := writeDoc(t, dir, "d.xml", doc(c.name))
		out, errOut, rc := virsh(t, d.URI("test"), c.cmd+" "+p)
		if rc == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s %q: rc=%d %q %q, want %q", c.cmd, c.name, rc, out, errOut, c.want)
		}
	}
	for _, c := range []struct{ name, cmd string }{{"..", "define"}, {".", "define"}, {"..", "create"}, {"a\nb", "create"}} {
		p := writeDoc(t, dir, "d.xml", doc(c.name))
		if out, errOut, rc := virsh(t, d.URI("test"), c.cmd+" "+p+"; list --all --name"); rc != 0 || !strings.Contains(out, c.name+"\n") {
			t.Errorf("%s %q: rc=%d %q %q", c.cmd, c.name, rc, out, errOut)
		}
	}
	// Networks and pools: '/' refused by the parser, as libvirt's.
	p := writeDoc(t, dir, "n.xml", "<network><name>a/b</name></network>")
	if _, errOut, rc := virsh(t, d.URI("test"), "net-define "+p); rc == 0 || !strings.Contains(errOut, "error: invalid char in name: /") {
		t.Errorf("net-define a/b: rc=%d %q", rc, errOut)
	}
	p = writeDoc(t, dir, "p.xml", "<pool type='dir'><name>../p</name><target><path>/tmp</path></target></pool>")
	if _, errOut, rc := virsh(t, d.URI("test"), "pool-define "+p); rc == 0 || !strings.Contains(errOut, "error: XML error: name ../p cannot contain '/'") {
		t.Errorf("pool-define ../p: rc=%d %q", rc, errOut)
	}
}

// TestHostileNamesQEMU: a guest named ".." once made destroy remove the
// whole run directory, and a transient guest named
// "../../../../elsewhere/victim" wrote and removed files outside the
// daemon's directories. Now the names libvirt refuses are refused, "."
// and ".." run as ordinary guests, and nothing outside the state and run
// directories changes while another guest keeps running.
func TestHostileNamesQEMU(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	mustVirsh(t, uri, "define "+writeDoc(t, dir, "keep.xml", testGuestXML(t, "keep", "", "")))
	mustVirsh(t, uri, "start keep")
	waitState(t, d, "keep", "running (booted)", 30*time.Second)
	before := treeListing(t, d.dir, "state", "run")
	keepFiles := func() []string {
		var out []string
		for _, rel := range treeListing(t, d.dir) {
			if strings.Contains(rel, "keep") {
				out = append(out, rel)
			}
		}
		return out
	}
	keepBefore := keepFiles()

	for _, c := range []struct{ name, cmd, want string }{
		{"a/b", "define", "error: XML error: name a/b cannot contain '/'"},
		{"../../x", "create", "error: XML error: name ../../x cannot contain '/'"},
		{"../../../../elsewhere/victim", "create", "error: XML error: name ../../../../elsewhere/victim cannot contain '/'"},
		{"", "define", "error: missing name information"},
		{"a\nb", "define", "error: invalid char in name: \n"},
	} {
		p := writeDoc(t, dir, "bad.xml", testGuestXML(t, c.name, "", ""))
		out, errOut, rc := virsh(t, uri, c.cmd+" "+p)
		if rc == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s %q: rc=%d %q %q, want %q", c.cmd, c.name, rc, out, errOut, c.want)
		}
	}
	// Accepted names: each runs, is destroyed (and the persistent one
	// undefined) without touching anything but its own files.
	for _, c := range []struct{ name, how string }{{"..", "create"}, {".", "define"}, {"a\nb", "create"}} {
		p := writeDoc(t, dir, "ok.xml", testGuestXML(t, c.name, "", ""))
		if c.how == "define" {
			mustVirsh(t, uri, "define "+p)
			mustVirsh(t, uri, "autostart '"+c.name+"'")
			if _, errOut, rc := virsh(t, uri, "start", c.name); rc != 0 {
				t.Fatalf("start %q: %s", c.name, errOut)
			}
		} else if _, errOut, rc := virsh(t, uri, "create", p); rc != 0 {
			t.Fatalf("create %q: %s", c.name, errOut)
		}
		if out, errOut, rc := virsh(t, uri, "domstate", c.name); rc != 0 || !strings.Contains(out, "running") {
			t.Errorf("%q: %q %q", c.name, out, errOut)
		}
		if _, errOut, rc := virsh(t, uri, "destroy", c.name); rc != 0 {
			t.Errorf("destroy %q: %s", c.name, errOut)
		}
		if c.how == "define" {
			if _, errOut, rc := virsh(t, uri, "undefine", c.name); rc != 0 {
				t.Errorf("undefine %q: %s", c.name, errOut)
			}
		}
	}
	if after := treeListing(t, d.dir, "state", "run"); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("files outside state/run changed:\nbefore %q\nafter  %q", before, after)
	}
	if got := keepFiles(); strings.Join(got, "\n") != strings.Join(keepBefore, "\n") {
		t.Errorf("the other guest's files changed:\nbefore %q\nafter  %q", keepBefore, got)
	}
	if out, _, rc := virsh(t, uri, "domstate keep"); rc != 0 || !strings.Contains(out, "running") {
		t.Errorf("keep: %q", out)
	}
	// Its monitor still answers.
	if out, errOut, rc := virsh(t, uri, "qemu-monitor-command keep --hmp 'info status'"); rc != 0 || !strings.Contains(out, "running") {
		t.Errorf("keep's monitor: rc=%d %q %q", rc, out, errOut)
	}
	// What is left of the guests that ran: their logs only, inside the
	// state directory.
	for _, rel := range treeListing(t, d.dir) {
		if strings.Contains(rel, "..") && !strings.HasPrefix(rel, "state/qemu/log/") {
			t.Errorf("left behind: %q", rel)
		}
	}
}

// TestStaleTempFilesRemoved: the ".NAME.xml.tmp-N" files of writes a
// killed daemon never finished are removed at the next start, from every
// directory the drivers write that way; the real files stay.
func TestStaleTempFilesRemoved(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	dir := t.TempDir()
	mustVirsh(t, uri, "define "+writeDoc(t, dir, "keep.xml", "<domain type='qemu'><name>keep</name><memory>65536</memory><os><type arch='x86_64'>hvm</type></os></domain>"))
	d.cmd.Process.Kill()
	d.cmd.Wait()
	var stale []string
	for _, sub := range []string{"state/qemu", "state/qemu/autostart", "state/qemu/capabilities", "state/qemu/snapshot/keep",
		"run/qemu", "state/network", "state/network/dnsmasq", "run/network", "state/storage", "state/storage/autostart", "run/storage"} {
		p := filepath.Join(d.dir, sub)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{".keep.xml.tmp-123456789", ".default.xml.tmp-42"} {
			f := filepath.Join(p, n)
			if err := os.WriteFile(f, []byte("<half"), 0o600); err != nil {
				t.Fatal(err)
			}
			stale = append(stale, f)
		}
	}
	// Not atomicfile's: kept.
	other := filepath.Join(d.dir, "state/qemu/.keep.xml.tmp-notdigits")
	os.WriteFile(other, nil, 0o600)
	d.launch()
	// The network and storage drivers load at start (their autostart);
	// a first call makes sure they did.
	mustVirsh(t, uri, "net-list --all; pool-list --all")
	for _, f := range stale {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s still there", f)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("%s removed", other)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "state/qemu/keep.xml")); err != nil {
		t.Errorf("definition lost: %v", err)
	}
	if out := mustVirsh(t, uri, "list --all --name"); !strings.Contains(out, "keep") {
		t.Errorf("keep not defined after restart: %q", out)
	}
}

// TestNetworkLineBreaksRefused: a newline in a network's fields once
// became extra lines of dnsmasq's configuration; net-define refuses it.
func TestNetworkLineBreaksRefused(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	dir := t.TempDir()
	for _, c := range []struct{ doc, want string }{
		{"<network><name>n1</name><dns><txt name='x' value='v&#10;dhcp-script=/tmp/evil'/></dns><ip address='10.9.9.1' netmask='255.255.255.0'/></network>",
			"error: invalid char in DNS TXT record value: \n"},
		{"<network><name>n1</name><domain name='d&#10;conf-file=/tmp/evil'/><ip address='10.9.9.1' netmask='255.255.255.0'/></network>",
			"error: invalid char in domain name: \n"},
		{"<network><name>n1\nx</name><ip address='10.9.9.1' netmask='255.255.255.0'/></network>",
			"error: invalid char in name: \n"},
		{"<network><name>n1</name><ip address='10.9.9.1' netmask='255.255.255.0'><dhcp><host mac='52:54:00:00:00:01' name='h&#10;x' ip='10.9.9.5'/></dhcp></ip></network>",
			"error: invalid char in DHCP host name: \n"},
		{"<network><name>n1</name><dns><txt name='a,b' value='v'/></dns></network>",
			"error: prohibited character in DNS TXT record name 'a,b' of network n1"},
	} {
		p := writeDoc(t, dir, "n.xml", c.doc)
		out, errOut, rc := virsh(t, uri, "net-define "+p)
		if rc == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: rc=%d %q %q, want %q", c.doc, rc, out, errOut, c.want)
		}
	}
	if out := mustVirsh(t, uri, "net-list --all --name"); strings.Contains(out, "n1") {
		t.Errorf("a refused network was defined: %q", out)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "state/network/dnsmasq")); err == nil {
		ents, _ := os.ReadDir(filepath.Join(d.dir, "state/network/dnsmasq"))
		if len(ents) > 0 {
			t.Errorf("dnsmasq files written: %v", ents)
		}
	}
}
