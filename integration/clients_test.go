package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPythonLifecycle runs a domain lifecycle through python-libvirt, with
// events delivered through virEventRegisterDefaultImpl.
func TestPythonLifecycle(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import libvirt").Run(); err != nil {
		t.Skip("python3-libvirt not installed")
	}
	d := startDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/python/lifecycle.py", d.URI("test")).CombinedOutput()
	if err != nil {
		t.Fatalf("python lifecycle failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ok") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}

// TestVirshEventLoop watches `virsh event --loop --all` while another
// connection defines, starts and destroys a domain.
func TestVirshEventLoop(t *testing.T) {
	d := startDaemon(t)
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ev := exec.CommandContext(ctx, "virsh", "-c", d.URI("test"), "event", "--loop", "--all")
	stdout, err := ev.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ev.Process.Kill(); ev.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// One virsh invocation for all three steps: the test driver's state
	// lives as long as a connection is open, and the watcher holds one.
	files, _ := filepath.Abs("testdata/files")
	cmds := "define " + files + "/dom.xml; start demo; destroy demo"
	time.Sleep(time.Second)
	if out, errOut, rc := virsh(t, d.URI("test"), cmds); rc != 0 {
		t.Fatalf("virsh %s: rc=%d %s %s", cmds, rc, out, errOut)
	}
	want := []string{
		"event 'lifecycle' for domain 'demo': Defined Added",
		"event 'lifecycle' for domain 'demo': Started Booted",
		"event 'lifecycle' for domain 'demo': Stopped Destroyed",
	}
	var got []string
	timeout := time.After(15 * time.Second)
	for len(got) < len(want) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("virsh event ended; got %q", got)
			}
			if strings.HasPrefix(l, "event ") {
				got = append(got, l)
			}
		case <-timeout:
			t.Fatalf("timed out; got %q, want %q", got, want)
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestReadOnlyRefused checks that `virsh -r` and the read-only socket are
// refused every change with libvirt's error, and still read.
func TestReadOnlyRefused(t *testing.T) {
	d := startDaemon(t)
	files, _ := filepath.Abs("testdata/files")
	roSock := "test+unix:///default?socket=" + d.SockRO
	for _, tc := range []struct {
		uri  string
		args []string
	}{
		{d.URI("test"), []string{"-r", "destroy test"}},
		{d.URI("test"), []string{"-r", "define " + files + "/dom.xml"}},
		{roSock, []string{"suspend test"}},
		{roSock, []string{"net-destroy default"}},
		{roSock, []string{"pool-destroy default-pool"}},
		{roSock, []string{"vol-create-as default-pool v1 1M"}},
	} {
		out, errOut, rc := virsh(t, tc.uri, tc.args...)
		if rc == 0 || !strings.Contains(errOut, "operation forbidden: read only access prevents vir") {
			t.Errorf("%v: rc=%d stdout=%q stderr=%q, want operation forbidden", tc.args, rc, out, errOut)
		}
	}
	out, errOut, rc := virsh(t, roSock, "list --all")
	if rc != 0 || !strings.Contains(out, "test") {
		t.Errorf("read-only list: rc=%d %q %q", rc, out, errOut)
	}
}

// TestVolumeStreamRoundTrip uploads 64 MiB with vol-upload and downloads it
// again with vol-download, byte for byte.
func TestVolumeStreamRoundTrip(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.img")
	outPath := filepath.Join(dir, "out.img")
	data := make([]byte, 64<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := "vol-create-as default-pool big 64M; vol-upload big " + in + " --pool default-pool; vol-download big " + outPath + " --pool default-pool"
	if out, errOut, rc := virsh(t, d.URI("test"), cmd); rc != 0 {
		t.Fatalf("rc=%d %s %s", rc, out, errOut)
	}
	got, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(data) || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
	}
}
