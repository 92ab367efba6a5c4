package integration

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/testguest"
)

// migProxy is a TCP proxy between a source QEMU and the port the
// destination QEMU listens on, which the test can cut (both sides at
// once, as a broken network link does) and which can slow the stream so
// that a post-copy migration is still running when it is cut.
type migProxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

// startMigProxy listens on listen and forwards to target; rate (bytes
// per second, 0 for none) limits the source-to-destination direction.
// (Post-copy is slowed by QEMU's post-copy bandwidth instead: a slow
// link would queue the destination's urgent page requests behind the
// background stream, and its QEMU would stall on them.)
func startMigProxy(t *testing.T, listen, target string, rate int) *migProxy {
	t.Helper()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	p := &migProxy{l: l}
	t.Cleanup(p.cut)
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go throttledCopy(out, in, rate)
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

func throttledCopy(dst, src net.Conn, rate int) {
	defer dst.Close()
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if rate > 0 {
				time.Sleep(time.Duration(n) * time.Second / time.Duration(rate))
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes the listener and every connection.
func (p *migProxy) cut() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// freeMigPort is a TCP port free on 127.0.0.1 and 127.0.0.2.
func freeMigPort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port)); err == nil {
			l2.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// breakPostcopy starts a slow --postcopy migration of name from one
// daemon to the other through a proxy (extra: --p2p or nothing), switches it
// to post-copy, cuts the proxy, and checks that the migration fails and
// both sides are left in libvirt's post-copy failed states.
func breakPostcopy(t *testing.T, from, to *daemon, name, extra, oldSock, sock string) {
	t.Helper()
	port := freeMigPort(t)
	px := startMigProxy(t, fmt.Sprintf("127.0.0.2:%d", port), fmt.Sprintf("127.0.0.1:%d", port), 0)
	type result struct {
		out string
		rc  int
	}
	done := make(chan result, 1)
	go func() {
		out, rc := migrateXML(t, from, to, name, fmt.Sprintf("%s --postcopy --bandwidth 1 --postcopy-bandwidth 1 --migrateuri tcp://127.0.0.2:%d --listen-address 127.0.0.1", extra, port), oldSock, sock)
		done <- result{out, rc}
	}()
	waitJob(t, from, name, "Outgoing migration", "Data total:")
	time.Sleep(2 * time.Second) // some pre-copy first
	mustVirsh(t, from.URI("qemu"), "migrate-postcopy "+name)
	waitState(t, to, name, "running (post-copy)", time.Minute)
	waitState(t, from, name, "paused (post-copy)", 30*time.Second)
	// The destination's vCPUs show RESUME before QEMU answered cont; a
	// link cut while its main loop waits for a page would keep it from
	// answering anything until the resume. The guest answering on its
	// console, a chardev of that same loop, says cont is done.
	consoleAlive(t, sock)
	px.cut()
	select {
	case r := <-done:
		if r.rc == 0 || !strings.Contains(r.out, "failed in post-copy phase") {
			t.Fatalf("migration through a cut link: rc=%d\n%s", r.rc, r.out)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("migrate did not return after the link was cut")
	}
	waitState(t, from, name, "paused (post-copy failed)", time.Minute)
	waitState(t, to, name, "running (post-copy failed)", time.Minute)
}

// consoleAlive waits for the guest to answer on its console at sock, and
// hangs up so that the console can be opened again later.
func consoleAlive(t *testing.T, sock string) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("console %s: %v", sock, err)
	}
	defer c.Close()
	con := testguest.NewConsole(c, c)
	con.Send("echo GV-ALIVE-$((6*7))")
	if _, err := con.Expect("GV-ALIVE-42", 2*time.Minute); err != nil {
		t.Fatalf("guest console during post-copy: %v\n%s", err, con.Output())
	}
}

// resumeMigration runs the resume. The daemons set the post-copy failed
// states when the migration's steps fail, as libvirt, which can be a
// moment before each QEMU noticed the broken link; until then the resume
// is refused with libvirt's "QEMU reports migration is still running"
// and is tried again.
func resumeMigration(t *testing.T, from, to *daemon, name, flags string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, rc := migrate(t, from, to, name, flags)
		if rc == 0 {
			return
		}
		if !strings.Contains(out, "QEMU reports migration is still running") || time.Now().After(deadline) {
			t.Fatalf("migrate %s: rc=%d\n%s", flags, rc, out)
		}
		time.Sleep(time.Second)
	}
}

// TestQEMUMigratePostcopyResume: a post-copy migration whose link breaks
// after the switch leaves the source paused (post-copy failed) and the
// destination running (post-copy failed), with the migration job kept on
// both; `virsh migrate --postcopy --postcopy-resume` then finishes it,
// client-driven straight to the destination, and with --p2p through a
// new link after both daemons were restarted; the guest runs on the
// destination with its memory and disk intact while the source's copy is
// gone. Resumes in the wrong state
// or from the wrong side are refused with libvirt 9.0's errors, and so
// are a second migration and domjobabort of the failed one.
func TestQEMUMigratePostcopyResume(t *testing.T) {
	src, dst := migrateDaemons(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("source daemon:\n%s\ndestination daemon:\n%s", src.Log(), dst.Log())
		}
	})
	dir := t.TempDir()
	image, sock, sock2 := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "console"), filepath.Join(dir, "console2")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "define "+writeXML(t, "pr", noVNC(migrateGuestXML(t, "pr", image, sock))))
	mustVirsh(t, src.URI("qemu"), "start pr")
	con := waitBoot(t, sock)
	want := guestWrite(t, con, "/dev/vda", 33, 1024)
	con.Send("yes GOVIRT-RESUME | head -c 8000000 >/tmp/gvmem")
	memWant := guestMemSum(t, con, "/tmp/gvmem")
	con.Send("(while :; do yes dirty | head -c 16000000 >/tmp/dirty; done) >/dev/null 2>&1 &")

	refused := func(d *daemon, cmd, want string) {
		t.Helper()
		_, errOut, rc := virsh(t, d.URI("qemu"), cmd)
		if rc == 0 || !strings.Contains(errOut, want) {
			t.Errorf("%s: rc=%d %q, want %q", cmd, rc, errOut, want)
		}
	}
	// Nothing to resume on a guest that is not being migrated.
	refused(src, "migrate --live --postcopy --postcopy-resume pr "+dst.URI("qemu"), "domain 'pr' is not being migrated")
	refused(src, "domjobabort --postcopy pr", "current job is not outgoing migration in post-copy mode")

	srcEv, dstEv := watchEvents(t, src.URI("qemu")), watchEvents(t, dst.URI("qemu"))
	breakPostcopy(t, src, dst, "pr", "", sock, sock2)
	srcEv.expect(t, []string{"Suspended Post-copy", "Suspended Post-copy Error"}, 30*time.Second)
	dstEv.expect(t, []string{"Resumed Post-copy", "Resumed Post-copy Error"}, 30*time.Second)
	// The jobs stay: the destination's is incoming, the source's cannot
	// be aborted nor replaced.
	refused(dst, "migrate --live --postcopy --postcopy-resume pr "+src.URI("qemu"), "domain 'pr' is not being migrated")
	refused(src, "migrate --live pr "+dst.URI("qemu"), "another migration job is already running for domain 'pr'")
	refused(src, "domjobabort pr", "cannot abort migration in post-copy mode")
	if out := mustVirsh(t, src.URI("qemu"), "domjobinfo pr"); !strings.Contains(out, "Outgoing migration") {
		t.Errorf("source job while post-copy failed:\n%s", out)
	}

	// Client-driven resume, straight to the destination's QEMU.
	resumeMigration(t, src, dst, "pr", "--postcopy --postcopy-resume --postcopy-bandwidth 1000")
	srcEv.expect(t, []string{"Suspended Post-copy Error", "Suspended Post-copy", "Stopped Migrated"}, 30*time.Second)
	dstEv.expect(t, []string{"Resumed Post-copy Error", "Resumed Post-copy", "Resumed Migrated"}, 30*time.Second)
	if got := domState(t, dst, "pr"); got != "running (migrated)" {
		t.Errorf("destination after the resume: %q", got)
	}
	if got := domState(t, src, "pr"); got != "shut off (migrated)" {
		t.Errorf("source after the resume: %q", got)
	}
	con = console(t, sock2)
	if got := guestMemSum(t, con, "/tmp/gvmem"); got != memWant {
		t.Errorf("guest memory after the resume: %s, want %s", got, memWant)
	}
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("disk after the resume: %s, want %s", got, want)
	}
	refused(dst, "migrate --live --postcopy --postcopy-resume pr "+src.URI("qemu"), "domain 'pr' is not being migrated")

	// Back with --p2p, broken again; both daemons crash and restart,
	// and find the migration where it was; it is resumed through a new
	// link.
	breakPostcopy(t, dst, src, "pr", "--p2p", sock2, sock)
	dst.crashRestart()
	src.crashRestart()
	dst.waitRecovered()
	src.waitRecovered()
	if got := domState(t, dst, "pr"); got != "paused (post-copy failed)" {
		t.Errorf("p2p source after a restart: %q", got)
	}
	if got := domState(t, src, "pr"); got != "running (post-copy failed)" {
		t.Errorf("p2p destination after a restart: %q", got)
	}
	port := freeMigPort(t)
	startMigProxy(t, fmt.Sprintf("127.0.0.2:%d", port), fmt.Sprintf("127.0.0.1:%d", port), 0)
	resumeMigration(t, dst, src, "pr", fmt.Sprintf("--p2p --postcopy --postcopy-resume --postcopy-bandwidth 1000 --migrateuri tcp://127.0.0.2:%d --listen-address 127.0.0.1", port))
	if got := domState(t, src, "pr"); got != "running (migrated)" {
		t.Errorf("back on the source after the p2p resume: %q", got)
	}
	waitGone(t, dst, "pr")
	con = console(t, sock)
	if got := guestMemSum(t, con, "/tmp/gvmem"); got != memWant {
		t.Errorf("guest memory after the p2p resume: %s, want %s", got, memWant)
	}
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("disk after the p2p resume: %s, want %s", got, want)
	}
}
