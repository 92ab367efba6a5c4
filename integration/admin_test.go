package integration

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// heldVirsh is an interactive virsh kept connected until the test ends.
type heldVirsh struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func holdVirsh(t *testing.T, args ...string) *heldVirsh {
	t.Helper()
	cmd := exec.Command("virsh", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &heldVirsh{cmd: cmd, stdin: in}
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	return h
}

// clientIDs lists srv-clients-list's ids with their transports.
func clientIDs(t *testing.T, adm, srv string) map[string]string {
	out := mustAdmin(t, adm, "srv-clients-list", srv)
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			if _, err := strconv.Atoi(f[0]); err == nil {
				m[f[0]] = f[1]
			}
		}
	}
	return m
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestVirtAdmin drives every supported virt-admin command against the
// admin socket with the real virt-admin.
func TestVirtAdmin(t *testing.T) {
	port := freePort(t)
	conf := writeConfig(t, "max_clients = 100", "max_anonymous_clients = 10", "min_workers = 3", "max_workers = 30", "prio_workers = 4")
	d := startAdminDaemon(t, "--config", conf, "--listen-tcp", "127.0.0.1:"+strconv.Itoa(port))
	adm := d.adminSocket()
	if fi, err := os.Stat(adm); err != nil || fi.Mode().Perm() != 0o700 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("admin socket: %v %v", fi.Mode(), err)
	}

	out := mustAdmin(t, adm, "srv-list")
	if !regexpLine(out, `0\s+libvirtd`) || !regexpLine(out, `1\s+admin`) {
		t.Fatalf("srv-list:\n%s", out)
	}
	f := adminFields(mustAdmin(t, adm, "srv-threadpool-info", "libvirtd"))
	if f["minWorkers"] != "3" || f["maxWorkers"] != "30" || f["prioWorkers"] != "4" || f["nWorkers"] != "3" || f["freeWorkers"] != "3" || f["jobQueueDepth"] != "0" {
		t.Fatalf("srv-threadpool-info: %v", f)
	}
	mustAdmin(t, adm, "srv-threadpool-set", "libvirtd", "--min-workers", "2", "--max-workers", "8", "--priority-workers", "1")
	f = adminFields(mustAdmin(t, adm, "srv-threadpool-info", "libvirtd"))
	if f["minWorkers"] != "2" || f["maxWorkers"] != "8" || f["prioWorkers"] != "1" {
		t.Fatalf("after srv-threadpool-set: %v", f)
	}
	if _, errOut, rc := virtAdmin(t, adm, "srv-threadpool-set", "libvirtd", "--min-workers", "9"); rc == 0 || !strings.Contains(errOut, "minWorkers cannot be larger than maxWorkers") {
		t.Fatalf("min > max accepted: %d %s", rc, errOut)
	}
	f = adminFields(mustAdmin(t, adm, "srv-threadpool-info", "admin"))
	if f["minWorkers"] != "5" || f["maxWorkers"] != "20" || f["prioWorkers"] != "0" {
		t.Fatalf("admin srv-threadpool-info: %v", f)
	}
	f = adminFields(mustAdmin(t, adm, "srv-clients-info", "libvirtd"))
	if f["nclients_max"] != "100" || f["nclients_unauth_max"] != "10" || f["nclients"] != "0" {
		t.Fatalf("srv-clients-info: %v", f)
	}
	mustAdmin(t, adm, "srv-clients-set", "libvirtd", "--max-clients", "50", "--max-unauth-clients", "5")
	f = adminFields(mustAdmin(t, adm, "srv-clients-info", "libvirtd"))
	if f["nclients_max"] != "50" || f["nclients_unauth_max"] != "5" {
		t.Fatalf("after srv-clients-set: %v", f)
	}
	if _, errOut, rc := virtAdmin(t, adm, "srv-clients-info", "nosuch"); rc == 0 || !strings.Contains(errOut, "No server named 'nosuch'") {
		t.Fatalf("unknown server: %d %s", rc, errOut)
	}

	// Clients: a read-only unix one, a read-write one, a TCP one.
	holdVirsh(t, "-r", "-c", "test+unix:///default?socket="+d.SockRO)
	holdVirsh(t, "-c", d.URI("test"))
	holdVirsh(t, "-c", "test+tcp://127.0.0.1:"+strconv.Itoa(port)+"/default")
	var ids map[string]string
	eventually(t, 20*time.Second, "three clients listed", func() bool {
		ids = clientIDs(t, adm, "libvirtd")
		return len(ids) == 3
	})
	// Ids are per server and increase from 1 (1 was launch's probe).
	me := strconv.Itoa(os.Getuid())
	var roID, rwID, tcpID string
	for id, tr := range ids {
		if n, _ := strconv.Atoi(id); n < 2 || n > 4 {
			t.Fatalf("srv-clients-list ids: %v", ids)
		}
		if tr == "tcp" {
			tcpID = id
			continue
		}
		var info map[string]string
		eventually(t, 10*time.Second, "client "+id+" opened", func() bool {
			info = adminFields(mustAdmin(t, adm, "client-info", "libvirtd", id))
			return info["readonly"] == "yes" || info["readonly"] == "no"
		})
		if info["id"] != id || info["transport"] != "unix" || info["unix_user_id"] != me || info["unix_process_id"] == "" ||
			info["unix_group_id"] == "" || info["connection_time"] == "" || info["sock_addr"] != "" {
			t.Fatalf("client-info %s: %v", id, info)
		}
		if info["readonly"] == "yes" {
			roID = id
		} else {
			rwID = id
		}
	}
	if roID == "" || rwID == "" || tcpID == "" {
		t.Fatalf("clients: %v", ids)
	}
	info := adminFields(mustAdmin(t, adm, "client-info", "libvirtd", tcpID))
	if info["transport"] != "tcp" || !strings.HasPrefix(info["sock_addr"], "127.0.0.1:") || info["unix_user_id"] != "" {
		t.Fatalf("client-info %s: %v", tcpID, info)
	}
	if _, errOut, rc := virtAdmin(t, adm, "client-info", "libvirtd", "77"); rc == 0 || !strings.Contains(errOut, "No client with matching ID '77'") {
		t.Fatalf("unknown client: %d %s", rc, errOut)
	}
	// Admin clients have their own ids on the admin server.
	if ids := clientIDs(t, adm, "admin"); len(ids) != 1 {
		t.Fatalf("admin srv-clients-list: %v", ids)
	}
	mustAdmin(t, adm, "client-disconnect", "libvirtd", rwID)
	eventually(t, 10*time.Second, "client gone", func() bool {
		_, ok := clientIDs(t, adm, "libvirtd")[rwID]
		return !ok
	})

	// Logging.
	if out := mustAdmin(t, adm, "daemon-log-outputs"); !strings.Contains(out, "2:stderr") {
		t.Fatalf("default outputs: %q", out)
	}
	logFile := filepath.Join(t.TempDir(), "govirtd.log")
	mustAdmin(t, adm, "daemon-log-outputs", "3:stderr 1:file:"+logFile)
	if out := mustAdmin(t, adm, "daemon-log-outputs"); !strings.Contains(out, "3:stderr 1:file:"+logFile) {
		t.Fatalf("outputs: %q", out)
	}
	mustAdmin(t, adm, "daemon-log-filters", "1:rpc 4:qemu")
	if out := mustAdmin(t, adm, "daemon-log-filters"); !strings.Contains(out, "1:rpc 4:qemu") {
		t.Fatalf("filters: %q", out)
	}
	// A debug record from the rpc package now reaches the file.
	r := dialRaw(t, d.SockRO)
	served(t, r, 5*time.Second)
	r.Close()
	mustAdmin(t, adm, "client-disconnect", "libvirtd", roID)
	eventually(t, 10*time.Second, "rpc debug record in the log file", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "level=DEBUG") && strings.Contains(string(b), "rpc: client")
	})
	if strings.Contains(d.Log(), "level=DEBUG") {
		t.Fatal("debug record on the 3:stderr output")
	}
	if _, errOut, rc := virtAdmin(t, adm, "daemon-log-outputs", "9:stderr"); rc == 0 || !strings.Contains(errOut, "Invalid log priority '9'") {
		t.Fatalf("bad output: %d %s", rc, errOut)
	}
	if _, errOut, rc := virtAdmin(t, adm, "daemon-log-filters", "x"); rc == 0 || !strings.Contains(errOut, "Malformed format for filter 'x'") {
		t.Fatalf("bad filter: %d %s", rc, errOut)
	}
	mustAdmin(t, adm, "daemon-log-filters", "")
	if out := mustAdmin(t, adm, "daemon-log-filters"); strings.Contains(out, "rpc") {
		t.Fatalf("filters not cleared: %q", out)
	}
}

// TestDaemonTimeout: after daemon-timeout N the daemon exits N seconds
// after its last client left.
func TestDaemonTimeout(t *testing.T) {
	d := startAdminDaemon(t)
	held := holdVirsh(t, "-c", d.URI("test"))
	mustAdmin(t, d.adminSocket(), "daemon-timeout", "--timeout", "1")
	time.Sleep(2 * time.Second)
	if err := d.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatal("daemon exited while a client was connected")
	}
	held.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not exit after its timeout")
	}
	if !strings.Contains(d.Log(), "no clients for the daemon timeout") {
		t.Fatalf("log: %s", d.Log())
	}
	// stop() must not wait for it again: hand it an exited stand-in.
	d.cmd = exec.Command("true")
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
}

// TestRunDirModes: the run directory is 0755 as libvirt's, so a non-root
// user reaches the read-only socket; the read-write and admin sockets
// (0700) refuse it.
func TestRunDirModes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to another user")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed (util-linux)")
	}
	dir, err := os.MkdirTemp("", "gv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	d := &daemon{t: t, dir: dir, Socket: filepath.Join(run, "govirt-sock"), SockRO: filepath.Join(run, "govirt-sock-ro")}
	d.argv = []string{"--state-dir", filepath.Join(dir, "state"), "--run-dir", run}
	d.launch()
	t.Cleanup(d.stop)
	for path, want := range map[string]os.FileMode{
		run: 0o755, filepath.Join(dir, "state"): 0o700, d.Socket: 0o700, d.SockRO: 0o777, filepath.Join(run, "govirt-admin-sock"): 0o700,
	} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode().Perm(), want, err)
		}
	}
	home := t.TempDir()
	os.Chmod(home, 0o777)
	asNobody := func(args ...string) (string, int) {
		cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, args...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "LC_ALL=C", "XDG_CACHE_HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_RUNTIME_DIR=" + home}
		out, err := cmd.CombinedOutput()
		rc := 0
		if ee, ok := err.(*exec.ExitError); ok {
			rc = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), rc
	}
	if out, rc := asNobody("virsh", "-r", "-c", "test+unix:///default?socket="+d.SockRO, "list", "--all"); rc != 0 || !strings.Contains(out, "test") {
		t.Fatalf("read-only socket as nobody: rc %d\n%s", rc, out)
	}
	if out, rc := asNobody("virsh", "-c", "test+unix:///default?socket="+d.Socket, "list", "--all"); rc == 0 || !strings.Contains(out, "Permission denied") {
		t.Fatalf("read-write socket as nobody: rc %d\n%s", rc, out)
	}
	if out, rc := asNobody("virt-admin", "-c", "libvirtd:///system?socket="+filepath.Join(run, "govirt-admin-sock"), "srv-list"); rc == 0 {
		t.Fatalf("admin socket as nobody: rc %d\n%s", rc, out)
	}
}
