package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// p2pDaemons starts two govirtd: the source also listens on TCP (auth
// none) and the destination on TLS, so that each can be the other's peer
// over the network transports.
func p2pDaemons(t *testing.T) (src, dst *daemon, srcTCP, dstTLS string) {
	t.Helper()
	s := newTLSSetup(t)
	sp := freePort(t)
	src = startDaemon(t, "--listen-tcp", "127.0.0.1:"+strconv.Itoa(sp))
	dst, addr := startTLSDaemon(t, s)
	t.Cleanup(func() {
		killGuests(src)
		killGuests(dst)
		if t.Failed() {
			t.Logf("source daemon:\n%s\ndestination daemon:\n%s", src.Log(), dst.Log())
		}
	})
	return src, dst, fmt.Sprintf("qemu+tcp://127.0.0.1:%d/system", sp), tlsURI("qemu", addr, s.good)
}

// migrateP2P runs virsh migrate --p2p from `from` to the peer URI
// dconnURI, with the destination's console on sock.
func migrateP2P(t *testing.T, from *daemon, dconnURI, name, flags, oldSock, sock string) (string, int) {
	t.Helper()
	doc := mustVirsh(t, from.URI("qemu"), "dumpxml --migratable "+name)
	path := writeXML(t, name+"-dest", strings.Replace(doc, oldSock, sock, 1))
	out, errOut, rc := virsh(t, from.URI("qemu"), fmt.Sprintf("migrate --live --p2p --verbose %s --xml %s %s %s", flags, path, name, dconnURI))
	return out + errOut, rc
}

// TestQEMUMigrateP2P: the source daemon drives the migration itself
// (virsh migrate --p2p): a domjobabort leaves the guest running on the
// source only, and so does the destination daemon's death; Nova's flags (live, p2p, persist-dest, undefine-source)
// over a unix socket move the guest with its data; it comes back
// --tunnelled over TCP, its migration stream through the daemons' RPC
// connection.
func TestQEMUMigrateP2P(t *testing.T) {
	src, dst, srcTCP, dstTLS := p2pDaemons(t)
	dir := t.TempDir()
	image, sock, sock2 := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "console"), filepath.Join(dir, "console2")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "define "+writeXML(t, "p2p", noVNC(migrateGuestXML(t, "p2p", image, sock))))
	mustVirsh(t, src.URI("qemu"), "start p2p")
	con := waitBoot(t, sock)
	want := guestWrite(t, con, "/dev/vda", 11, 1024)

	// Aborted: the guest stays on the source, the destination has none.
	done := make(chan string, 1)
	go func() {
		out, rc := migrateP2P(t, src, dst.URI("qemu"), "p2p", "--bandwidth 1", sock, sock2)
		done <- fmt.Sprintf("rc=%d %s", rc, out)
	}()
	waitJob(t, dst, "p2p", "Incoming migration")
	waitJob(t, src, "p2p", "Outgoing migration", "Data total:")
	mustVirsh(t, src.URI("qemu"), "domjobabort p2p")
	if r := <-done; !strings.Contains(r, "operation aborted: migration out job: canceled by client") {
		t.Fatalf("aborted p2p migration: %s\n%s", r, src.Log())
	}
	if got := domState(t, src, "p2p"); got != "running (booted)" {
		t.Fatalf("source after an aborted migration: %q\n%s", got, src.Log())
	}
	waitGone(t, dst, "p2p")
	if out, _, _ := virsh(t, src.URI("qemu"), "domjobinfo p2p"); !strings.Contains(out, "None") {
		t.Errorf("job left on the source: %q", out)
	}
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after the aborted migration: %s, want %s", got, want)
	}

	// The destination daemon dies mid-way: the source loses its
	// connection, cancels QEMU's migration and runs the guest again; the
	// restarted destination kills its half-migrated guest.
	go func() {
		out, rc := migrateP2P(t, src, dst.URI("qemu"), "p2p", "--bandwidth 1", sock, sock2)
		done <- fmt.Sprintf("rc=%d %s", rc, out)
	}()
	waitJob(t, src, "p2p", "Outgoing migration", "Data total:")
	dst.crashRestart()
	if r := <-done; !strings.Contains(r, "Lost connection to destination host") {
		t.Fatalf("p2p migration to a dead daemon: %s\n%s", r, src.Log())
	}
	waitState(t, src, "p2p", "running (booted)", 30*time.Second)
	waitGone(t, dst, "p2p")

	// Nova's flags.
	out, rc := migrateP2P(t, src, dst.URI("qemu"), "p2p", "--persistent --undefinesource", sock, sock2)
	if rc != 0 {
		t.Fatalf("migrate --p2p: rc=%d\n%s\nsource:\n%s\ndestination:\n%s", rc, out, src.Log(), dst.Log())
	}
	if !strings.Contains(out, "Migration: [100 %]") {
		t.Errorf("no progress in verbose output: %q", out)
	}
	if got := domState(t, dst, "p2p"); got != "running (migrated)" {
		t.Errorf("destination: %q", got)
	}
	if got := domState(t, src, "p2p"); !strings.Contains(got, "failed to get domain") {
		t.Errorf("--undefinesource left the guest on the source: %q", got)
	}
	if out := mustVirsh(t, dst.URI("qemu"), "dominfo p2p"); !strings.Contains(out, "Persistent:     yes") {
		t.Errorf("destination guest should be persistent:\n%s", out)
	}
	con = console(t, sock2)
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after migration: %s, want %s", got, want)
	}
	want = guestWrite(t, con, "/dev/vda", 12, 1024)

	// Back, tunnelled, over TCP.
	out, rc = migrateP2P(t, dst, srcTCP, "p2p", "--tunnelled --persistent --undefinesource", sock2, sock)
	if rc != 0 {
		t.Fatalf("migrate --p2p --tunnelled: rc=%d\n%s\nsource:\n%s\ndestination:\n%s", rc, out, dst.Log(), src.Log())
	}
	if got := domState(t, src, "p2p"); got != "running (migrated)" {
		t.Errorf("back on the source: %q", got)
	}
	if got := domState(t, dst, "p2p"); !strings.Contains(got, "failed to get domain") {
		t.Errorf("left on the other side: %q", got)
	}
	con = console(t, sock)
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after the tunnelled migration: %s, want %s", got, want)
	}
	want = guestWrite(t, con, "/dev/vda", 13, 1024)

	// Over TLS, the source daemon presenting the client certificate of
	// the URI's pkipath.
	out, rc = migrateP2P(t, src, dstTLS, "p2p", "--tunnelled", sock, sock2)
	if rc != 0 {
		t.Fatalf("migrate --p2p over TLS: rc=%d\n%s\nsource:\n%s\ndestination:\n%s", rc, out, src.Log(), dst.Log())
	}
	if got := domState(t, dst, "p2p"); got != "running (migrated)" {
		t.Errorf("destination after TLS: %q", got)
	}
	if got := domState(t, src, "p2p"); got != "shut off (migrated)" {
		t.Errorf("source after TLS (persistent, kept): %q", got)
	}
	con = console(t, sock2)
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after the TLS migration: %s, want %s", got, want)
	}
	mustVirsh(t, dst.URI("qemu"), "destroy p2p")
}

// TestQEMUMigrateCopyStorage migrates a guest whose disk the destination
// does not share (--copy-storage-all): the destination creates the
// missing image in its own directory, the source mirrors the disk into it
// over NBD before the memory moves, and the guest reads its data there.
// It comes back peer-to-peer with --migrate-disks onto its old, now stale
// image.
func TestQEMUMigrateCopyStorage(t *testing.T) {
	src, dst := migrateDaemons(t)
	srcDir, dstDir := t.TempDir(), t.TempDir()
	image, sock := filepath.Join(srcDir, "disk.qcow2"), filepath.Join(srcDir, "console")
	image2, sock2 := filepath.Join(dstDir, "disk.qcow2"), filepath.Join(dstDir, "console")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "create "+writeXML(t, "cs", noVNC(migrateGuestXML(t, "cs", image, sock))))
	con := waitBoot(t, sock)
	want := guestWrite(t, con, "/dev/vda", 21, 2048)

	doc := mustVirsh(t, src.URI("qemu"), "dumpxml --migratable cs")
	doc = strings.Replace(strings.Replace(doc, sock, sock2, 1), image, image2, 1)
	out, errOut, rc := virsh(t, src.URI("qemu"), "migrate --live --verbose --copy-storage-all --xml "+writeXML(t, "cs-dest", doc)+" cs "+dst.URI("qemu"))
	if rc != 0 {
		t.Fatalf("migrate --copy-storage-all: rc=%d\n%s%s\nsource:\n%s\ndestination:\n%s", rc, out, errOut, src.Log(), dst.Log())
	}
	info := qemuImgInfo(t, image2)
	if !strings.Contains(info, "file format: qcow2") || !strings.Contains(info, "virtual size: 64 MiB") {
		t.Errorf("destination image:\n%s", info)
	}
	if got := domState(t, dst, "cs"); got != "running (migrated)" {
		t.Errorf("destination: %q", got)
	}
	con = console(t, sock2)
	if got := guestSum(t, con, "/dev/vda", 2048); got != want {
		t.Errorf("data after the storage migration: %s, want %s", got, want)
	}
	want = guestWrite(t, con, "/dev/vda", 22, 2048)

	doc = mustVirsh(t, dst.URI("qemu"), "dumpxml --migratable cs")
	doc = strings.Replace(strings.Replace(doc, sock2, sock, 1), image2, image, 1)
	out, errOut, rc = virsh(t, dst.URI("qemu"), "migrate --live --p2p --copy-storage-all --migrate-disks vda --xml "+writeXML(t, "cs-back", doc)+" cs "+src.URI("qemu"))
	if rc != 0 {
		t.Fatalf("migrate back: rc=%d\n%s%s\nsource:\n%s\ndestination:\n%s", rc, out, errOut, dst.Log(), src.Log())
	}
	con = console(t, sock)
	if got := guestSum(t, con, "/dev/vda", 2048); got != want {
		t.Errorf("data after migrating back: %s, want %s", got, want)
	}
	mustVirsh(t, src.URI("qemu"), "destroy cs")
}

func qemuImgInfo(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "-U", path).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// waitBoot waits for the test guest on the console at sock, allowing a
// loaded host (several TCG guests on two cores) more than bootTimeout.
func waitBoot(t *testing.T, sock string) *testguest.Console {
	t.Helper()
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, 3*bootTimeout()); err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	return con
}

// noVNC drops the guest's VNC display: autoport picks 5900 and up, which
// the QEMUs of other daemons on the host may take at the same moment.
func noVNC(doc string) string {
	return strings.Replace(doc, "<graphics type='vnc' listen='127.0.0.1' autoport='yes'/>", "", 1)
}
