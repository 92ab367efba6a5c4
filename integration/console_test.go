package integration

import (
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"govirt/remote"
	"govirt/rpc/procs"
	"govirt/testguest"
)

// TestQemuConsole: the pty path is in the live XML, a console stream
// reaches the guest's shell (Go client and real virsh under a pty), a
// second session is refused unless forced, a forced one takes over, the
// output is logged, and read-only connections are refused.
func TestQemuConsole(t *testing.T) {
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	definePTYGuest(t, d, "g1", "")
	mustVirsh(t, uri, "start g1")

	xml := mustVirsh(t, uri, "dumpxml g1")
	m := regexp.MustCompile(`<console type='pty' tty='(/dev/pts/\d+)'>\s*<source path='(/dev/pts/\d+)'/>`).FindStringSubmatch(xml)
	if m == nil || m[1] != m[2] {
		t.Fatalf("live XML lacks the console's pty:\n%s", xml)
	}
	if !strings.Contains(xml, "<serial type='pty'>\n      <source path='"+m[1]+"'/>") {
		t.Errorf("live XML lacks the serial's pty %s:\n%s", m[1], xml)
	}
	if inactive := mustVirsh(t, uri, "dumpxml --inactive g1"); strings.Contains(inactive, "/dev/pts/") {
		t.Errorf("inactive XML shows a pty:\n%s", inactive)
	}
	// The log sees the boot even though no client is attached.
	waitConsoleLog(t, d, "g1", testguest.ReadyMarker, bootTimeout())

	c := dialQEMU(t, d, false)
	dom := lookupDom(t, c, "g1")
	st, err := openConsole(c, dom, 0)
	if err != nil {
		t.Fatalf("open console: %v", err)
	}
	con := testguest.NewConsole(st, st)
	if err := con.Send("echo GV-$((6*7))"); err != nil {
		t.Fatal(err)
	}
	if _, err := con.Expect("GV-42", 30*time.Second); err != nil {
		t.Fatalf("no answer on the console: %v", err)
	}

	// A second session, Go client and virsh alike, is refused.
	if _, err := openConsole(dialQEMU(t, d, false), dom, 0); err == nil ||
		!strings.Contains(err.Error(), "Active console session exists for this domain") {
		t.Errorf("second console: %v", err)
	}
	out, rc := virshConsole(t, uri, "", "", "console", "g1")
	if rc == 0 || !strings.Contains(out, "error: operation failed: Active console session exists for this domain") {
		t.Errorf("virsh console while busy: rc=%d\n%s", rc, out)
	}

	// virsh --force takes over: the Go session ends, virsh talks to the shell.
	out, rc = virshConsole(t, uri, "echo GV-$((6*7))", "GV-42", "console", "--force", "g1")
	if rc != 0 || !strings.Contains(out, "Connected to domain 'g1'") || !strings.Contains(out, "GV-42") {
		t.Fatalf("virsh console --force: rc=%d\n%s\n%s", rc, out, d.Log())
	}
	ended := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, st); ended <- err }()
	select {
	case err := <-ended:
		// As with libvirtd, the session taken over fails.
		if err == nil || !strings.Contains(err.Error(), "stream had I/O failure") {
			t.Errorf("taken-over console stream ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the taken-over console stream did not end")
	}

	// virsh left with ^]: the console is free again, without force.
	out, rc = virshConsole(t, uri, "echo GV-$((7*6))0", "GV-420", "console", "g1")
	if rc != 0 || !strings.Contains(out, "GV-420") {
		t.Errorf("virsh console after the forced one left: rc=%d\n%s", rc, out)
	}
	waitConsoleLog(t, d, "g1", "GV-420", 5*time.Second)

	// Read-only connections may not open consoles.
	ro := dialQEMU(t, d, true)
	if _, err := openConsole(ro, dom, 0); err == nil || !strings.Contains(err.Error(), "read only access prevents virDomainOpenConsole") {
		t.Errorf("read-only console: %v", err)
	}

	// An unknown device name gets libvirt's error.
	name := "nope"
	_, err = c.CallStream(context.Background(), procs.DomainOpenConsole,
		&remote.DomainOpenConsoleArgs{Dom: dom, DevName: &name}, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot find character device nope") {
		t.Errorf("unknown console device: %v", err)
	}

	// Stopping the guest ends the log's writer; the file stays.
	mustVirsh(t, uri, "destroy g1")
	if _, err := os.Stat(consoleLog(d, "g1")); err != nil {
		t.Error(err)
	}
}
