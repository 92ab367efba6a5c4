package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQemuOpenChannel: python-libvirt's openChannel gets a stream to a
// virtio channel's unix socket, found by target name or alias; bytes go
// both ways with the guest's /dev/vportNpM; a second open is refused as
// libvirt's "Active channel stream exists", a forced one takes over; a
// missing channel and a pty channel fail with libvirt's errors.
func TestQemuOpenChannel(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	conSock := filepath.Join(dir, "con.sock")
	chanSock := filepath.Join(dir, "chan.sock")
	xml := testGuestXML(t, "chan1", "", `    <serial type='unix'>
      <source mode='bind' path='`+conSock+`'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <source mode='bind' path='`+chanSock+`'/>
      <target type='virtio' name='org.govirt.test'/>
    </channel>
    <channel type='pty'>
      <target type='virtio' name='org.govirt.pty'/>
    </channel>
`)
	path := filepath.Join(dir, "chan1.xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustVirsh(t, uri, "define "+path)

	// Not running: libvirt's virDomainObjCheckActive.
	out, rc := runTool(t, time.Minute, nil, "/usr/bin/python3", "testdata/python/open_channel.py", uri, "chan1")
	if rc == 0 || !strings.Contains(out, "Requested operation is not valid: domain is not running") {
		t.Errorf("openChannel on a shut-off guest: rc=%d\n%s", rc, out)
	}

	mustVirsh(t, uri, "start chan1")
	con := console(t, conSock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("guest did not boot: %v\n%s", err, con.Output())
	}
	// The port named org.govirt.test.
	port := `/dev/$(basename $(dirname $(grep -l org.govirt.test /sys/class/virtio-ports/*/name)))`
	if err := con.Send(`P=` + port + `; echo GV-PORT $P`); err != nil {
		t.Fatal(err)
	}
	if _, err := con.Expect("GV-PORT /dev/vport", 30*time.Second); err != nil {
		t.Fatalf("no virtio port: %v\n%s", err, con.Output())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/python/open_channel.py", uri, "chan1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 32)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	next := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("script ended before %q: %q\n%s", prefix, got, stderr.String())
				}
				got = append(got, l)
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-time.After(time.Minute):
				t.Fatalf("no %q from the script: %q", prefix, got)
			}
		}
	}
	next("OPEN")
	// Read only once the host end is connected: a guest reading a port
	// nobody holds gets end of file at once.
	if err := con.Send(`head -n1 $P > /tmp/in; echo GV-CHAN-IN $(cat /tmp/in)`); err != nil {
		t.Fatal(err)
	}
	if _, err := con.Expect("GV-CHAN-IN hello-from-host", 30*time.Second); err != nil {
		t.Fatalf("guest did not get the host's line: %v\n%s", err, con.Output())
	}
	if err := con.Send(`echo GV-FROM-GUEST > $P`); err != nil {
		t.Fatal(err)
	}
	next("GOT GV-FROM-GUEST")
	next("FORCED True")
	next("OLD")
	for l := range lines {
		got = append(got, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("script: %v\n%s", err, stderr.String())
	}
	want := []string{
		"ERR nosuch 1 internal error: cannot find channel nosuch",
		"ERR org.govirt.pty 1 internal error: channel org.govirt.pty is not using a UNIX socket",
		"OPEN",
		"ERR org.govirt.test 9 operation failed: Active channel stream exists for this domain",
		"ERR channel0 9 operation failed: Active channel stream exists for this domain",
		"GOT GV-FROM-GUEST",
		"FORCED True",
		"OLD ",
	}
	if len(got) != len(want) {
		t.Fatalf("script printed %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
}
