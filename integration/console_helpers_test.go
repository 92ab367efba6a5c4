package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

// ptyGuestXML is the test guest with its serial console on a pty (what
// virsh console expects), a serial <console> and VNC on autoport; devices
// adds more (e.g. a password).
func ptyGuestXML(t *testing.T, name, graphicsAttrs string) string {
	t.Helper()
	return testGuestXML(t, name, "", fmt.Sprintf(`    <serial type='pty'>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <graphics type='vnc' listen='127.0.0.1' autoport='yes'%s/>
`, graphicsAttrs))
}

func definePTYGuest(t *testing.T, d *daemon, name, graphicsAttrs string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(path, []byte(ptyGuestXML(t, name, graphicsAttrs)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, d.URI("qemu"), "define "+path)
}

// consoleLog is where govirtd logs a guest's console.
func consoleLog(d *daemon, name string) string {
	return filepath.Join(d.dir, "state", "qemu", "log", name+"-console.log")
}

// waitConsoleLog waits until the guest's console log holds want.
func waitConsoleLog(t *testing.T, d *daemon, name, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(consoleLog(d, name))
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("console log of %s lacks %q after %v:\n%s\n%s", name, want, timeout, b, d.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dialQEMU opens a Go client on the QEMU driver.
func dialQEMU(t *testing.T, d *daemon, readOnly bool) *client.Client {
	t.Helper()
	sock := d.Socket
	if readOnly {
		sock = d.SockRO
	}
	uri := "qemu+unix:///system?socket=" + sock
	c, err := client.DialOptions(context.Background(), uri, client.Options{ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func lookupDom(t *testing.T, c *client.Client, name string) remote.NonnullDomain {
	t.Helper()
	var ret struct{ Dom remote.NonnullDomain }
	if err := c.Call(context.Background(), procs.DomainLookupByName, &struct{ Name string }{name}, &ret); err != nil {
		t.Fatal(err)
	}
	return ret.Dom
}

// openConsole opens a console stream with the Go client.
func openConsole(c *client.Client, dom remote.NonnullDomain, flags uint32) (*client.Stream, error) {
	return c.CallStream(context.Background(), procs.DomainOpenConsole,
		&remote.DomainOpenConsoleArgs{Dom: dom, Flags: flags}, nil)
}

// virshConsoleScript runs `virsh console` under a pseudo-terminal (virsh
// refuses to run a console without one), types a command until the
// expected answer shows, then leaves with ^]. With no command it only
// collects what virsh prints until it exits.
const virshConsoleScript = `
import os, pty, select, sys, time
argv, typed, want = sys.argv[1].split("\x1f"), sys.argv[2], sys.argv[3].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf, last, deadline, done = b"", 0.0, time.time() + 60, False
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        buf += data
    if typed and b"Escape character" in buf and not done:
        if want in buf:
            os.write(fd, b"\x1d")
            done = True
        elif time.time() - last > 2:
            os.write(fd, typed.encode() + b"\r")
            last = time.time()
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(buf)
sys.exit(os.waitstatus_to_exitcode(status))
`

// virshConsole runs virsh console (args after the URI) under a pty.
func virshConsole(t *testing.T, uri string, typed, want string, args ...string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	argv := strings.Join(append([]string{"virsh", "-c", uri}, args...), "\x1f")
	cmd := exec.Command("python3", "-c", virshConsoleScript, argv, typed, want)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "VIRSH_DEFAULT_CONNECT_URI=")
	out, err := cmd.Output()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), rc
}
