package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeConfig writes a govirtd config file of key = value lines.
func writeConfig(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "govirtd.conf")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// adminSocket is the admin socket startDaemon's daemons get when started
// with withAdmin.
func (d *daemon) adminSocket() string { return filepath.Join(d.dir, "admin-sock") }

// withAdmin is the startDaemon flag that puts the admin socket in the
// daemon's temp dir (short enough for a unix socket path).
func withAdmin(d string) []string { return []string{"--admin-socket", filepath.Join(d, "admin-sock")} }

// startAdminDaemon starts govirtd with its admin socket in its temp dir.
func startAdminDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "gv")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, dir: dir, Socket: filepath.Join(dir, "sock"), SockRO: filepath.Join(dir, "sock-ro")}
	d.argv = append([]string{"--state-dir", filepath.Join(dir, "state"), "--run-dir", filepath.Join(dir, "run"),
		"--socket", d.Socket, "--socket-ro", d.SockRO}, withAdmin(dir)...)
	d.argv = append(d.argv, extra...)
	d.launch()
	t.Cleanup(d.stop)
	return d
}

var (
	plainOnce sync.Once
	plainBin  string
	plainErr  error
)

// startDaemonNoRace is startDaemon with govirtd built without the race
// detector, whose shadow memory would swamp memory measurements.
func startDaemonNoRace(t *testing.T, extra ...string) *daemon {
	t.Helper()
	buildDaemon(t) // makes binDir
	plainOnce.Do(func() {
		plainBin = filepath.Join(binDir, "govirtd-norace")
		if out, err := exec.Command("go", "build", "-o", plainBin, "govirt/cmd/govirtd").CombinedOutput(); err != nil {
			plainErr = fmt.Errorf("building govirtd: %v\n%s", err, out)
		}
	})
	if plainErr != nil {
		t.Fatal(plainErr)
	}
	dir, err := os.MkdirTemp("", "gv")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, dir: dir, Socket: filepath.Join(dir, "sock"), SockRO: filepath.Join(dir, "sock-ro"), bin: plainBin}
	d.argv = append([]string{"--state-dir", filepath.Join(dir, "state"), "--run-dir", filepath.Join(dir, "run"),
		"--socket", d.Socket, "--socket-ro", d.SockRO}, extra...)
	d.launch()
	t.Cleanup(d.stop)
	return d
}

// virtAdmin runs the real virt-admin against the daemon's admin socket.
func virtAdmin(t *testing.T, sock string, args ...string) (string, string, int) {
	t.Helper()
	if _, err := exec.LookPath("virt-admin"); err != nil {
		t.Skip("virt-admin not installed (Debian libvirt-clients)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "virt-admin", append([]string{"-c", "libvirtd:///system?socket=" + sock}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	err := cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("virt-admin %v: %v", args, err)
	}
	return out.String(), errb.String(), rc
}

// mustAdmin is virtAdmin that fails the test on a non-zero exit.
func mustAdmin(t *testing.T, sock string, args ...string) string {
	t.Helper()
	out, errOut, rc := virtAdmin(t, sock, args...)
	if rc != 0 {
		t.Fatalf("virt-admin %v: rc %d: %s%s", args, rc, out, errOut)
	}
	return out
}

// adminFields parses virt-admin's "name : value" listings.
func adminFields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// pingFrame is a keepalive PING, which the daemon answers (with PONG) on
// any connection it serves, opened or not.
func pingFrame() []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint32(b[0:], 28)
	binary.BigEndian.PutUint32(b[4:], 0x6b656570)
	binary.BigEndian.PutUint32(b[8:], 1)
	binary.BigEndian.PutUint32(b[12:], 1) // PING
	binary.BigEndian.PutUint32(b[16:], 2) // MESSAGE
	return b
}

// served reports whether the daemon answers a ping on nc within wait.
func served(t *testing.T, nc net.Conn, wait time.Duration) bool {
	t.Helper()
	if _, err := nc.Write(pingFrame()); err != nil {
		return false
	}
	nc.SetReadDeadline(time.Now().Add(wait))
	defer nc.SetReadDeadline(time.Time{})
	var buf [28]byte
	for {
		if _, err := readFull(nc, buf[:]); err != nil {
			return false
		}
		if binary.BigEndian.Uint32(buf[4:]) == 0x6b656570 && binary.BigEndian.Uint32(buf[12:]) == 2 {
			return true
		}
	}
}

func readFull(nc net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := nc.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// dialRaw connects without opening anything: an anonymous client.
func dialRaw(t *testing.T, path string) net.Conn {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// procStatus reads a field (in kB for sizes) of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// regexpLine reports whether some line of out is pat (surrounding blanks
// allowed).
func regexpLine(out, pat string) bool {
	return regexp.MustCompile(`(?m)^\s*` + pat + `\s*$`).MatchString(out)
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
