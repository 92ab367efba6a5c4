package integration

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const bogusDomain = `<domain type='test'>
  <name>keep</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <metadata>
    <app:info xmlns:app='http://example.org/app'>kept &amp; intact</app:info>
  </metadata>
  <bogus flavour='strange'>text</bogus>
</domain>
`

// TestUnknownXMLKept defines a domain with an element outside libvirt's
// schema and with foreign metadata: without --validate both come back in
// dumpxml, with --validate the define fails naming the element.
func TestUnknownXMLKept(t *testing.T) {
	d := startDaemon(t)
	path := filepath.Join(t.TempDir(), "keep.xml")
	if err := os.WriteFile(path, []byte(bogusDomain), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, rc := virsh(t, d.URI("test"), "define "+path+"; dumpxml keep")
	if rc != 0 {
		t.Fatalf("rc=%d %s %s", rc, out, errOut)
	}
	for _, want := range []string{"<bogus flavour='strange'>text</bogus>", "http://example.org/app", "kept &amp; intact"} {
		if !strings.Contains(out, want) {
			t.Errorf("dumpxml lost %q:\n%s", want, out)
		}
	}
	out, errOut, rc = virsh(t, d.URI("test"), "define --validate "+path)
	if rc == 0 || !strings.Contains(errOut, "bogus") {
		t.Errorf("define --validate: rc=%d stdout=%q stderr=%q, want an error naming <bogus>", rc, out, errOut)
	}
}

// TestMalformedXMLError checks libvirt's error for XML that is not
// well-formed, and that the daemon keeps serving.
func TestMalformedXMLError(t *testing.T) {
	d := startDaemon(t)
	path := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(path, []byte("<domain type='test'><name>x</name"), 0o644)
	_, errOut, rc := virsh(t, d.URI("test"), "define "+path)
	if rc == 0 || !strings.Contains(errOut, "error: Failed to define domain from") {
		t.Errorf("rc=%d stderr=%q", rc, errOut)
	}
	if out, _, rc := virsh(t, d.URI("test"), "list --all --name"); rc != 0 || !strings.Contains(out, "test") {
		t.Errorf("daemon stopped serving after bad XML: rc=%d %q", rc, out)
	}
}

// TestVersionAndConfigFile checks --version, and that a config file's
// settings apply where no flag overrides them: here TCP, which virsh then
// reaches with test+tcp.
func TestVersionAndConfigFile(t *testing.T) {
	out, err := exec.Command(buildDaemon(t), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "govirtd ") {
		t.Fatalf("--version: %v %q", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(t.TempDir(), "govirtd.conf")
	os.WriteFile(cfg, []byte("# test\nlisten_tcp = \""+addr+"\"\nlog_level = debug\n"), 0o644)
	startDaemon(t, "--config", cfg)
	if out, errOut, rc := virsh(t, "test+tcp://"+addr+"/default", "list --all --name"); rc != 0 || !strings.Contains(out, "test") {
		t.Fatalf("tcp from config: rc=%d %q %q", rc, out, errOut)
	}
}

// TestLibvirtSockets starts govirtd in drop-in mode and reaches it through
// libvirt's own socket path with no socket= parameter.
func TestLibvirtSockets(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("drop-in mode binds /run/libvirt: root only")
	}
	if c, err := net.Dial("unix", "/run/libvirt/libvirt-sock"); err == nil {
		c.Close()
		t.Skip("a libvirtd is already listening on /run/libvirt/libvirt-sock")
	}
	startDaemon(t, "--libvirt-sockets")
	out, errOut, rc := virsh(t, "test+unix:///default", "list --all --name")
	if rc != 0 || !strings.Contains(out, "test") {
		t.Fatalf("rc=%d %q %q", rc, out, errOut)
	}
	out, errOut, rc = virsh(t, "test+unix:///default", "-r", "destroy test")
	if rc == 0 || !strings.Contains(errOut, "read only access") {
		t.Fatalf("read-only libvirt socket: rc=%d %q %q", rc, out, errOut)
	}
}
