package integration

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

var md5Re = regexp.MustCompile(`GV-MEM ([0-9a-f]{32})`)

// guestMemSum is the checksum of a file in the guest's tmpfs, i.e. of
// guest memory.
func guestMemSum(t *testing.T, con *testguest.Console, path string) string {
	t.Helper()
	con.Send(fmt.Sprintf("echo GV-MEM $(md5sum <%s | cut -d' ' -f1)", path))
	m, err := con.ExpectRegexp(md5Re, 3*time.Minute)
	if err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	return m[1]
}

// TestQEMUMigratePostcopy: a guest dirtying its memory faster than a
// 1 MiB/s pre-copy can send moves with --postcopy once migrate-postcopy
// switches it: the source is paused (post-copy) and then gone, the
// destination runs it (post-copy, then migrated) with its memory and disk
// intact; it comes back with --postcopy-after-precopy, and again with
// --timeout-postcopy. libvirt's refusals of post-copy with tunnelled or
// non-live migration, of migrate-postcopy without a migration or
// without --postcopy, and of tuning without its feature, are checked.
func TestQEMUMigratePostcopy(t *testing.T) {
	src, dst := migrateDaemons(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("source daemon:\n%s\ndestination daemon:\n%s", src.Log(), dst.Log())
		}
	})
	dir := t.TempDir()
	image, sock, sock2 := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "console"), filepath.Join(dir, "console2")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "define "+writeXML(t, "pc", noVNC(migrateGuestXML(t, "pc", image, sock))))
	mustVirsh(t, src.URI("qemu"), "start pc")
	con := waitBoot(t, sock)
	want := guestWrite(t, con, "/dev/vda", 21, 1024)
	con.Send("yes GOVIRT-MEMORY | head -c 8000000 >/tmp/gvmem")
	memWant := guestMemSum(t, con, "/tmp/gvmem")
	// The guest rewrites 16 MB of its memory over and over.
	con.Send("(while :; do yes dirty | head -c 16000000 >/tmp/dirty; done) >/dev/null 2>&1 &")

	// Refusals, as libvirt 9.0's.
	for _, c := range []struct{ flags, want string }{
		{"--postcopy --p2p --tunnelled", "post-copy is not supported with tunnelled migration"},
		{"--postcopy --suspend", "post-copy migration is not supported with non-live or paused migration"},
		{"--auto-converge-initial 20", "Turn auto convergence on to tune it"},
		{"--parallel-connections 4", "Turn parallel migration on to tune it"},
		{"--comp-xbzrle-cache 1048576 --compressed --comp-methods mt", "Turn xbzrle compression on to tune it"},
		{"--comp-methods foo --compressed", "Unsupported compression method 'foo'"},
		{"--copy-storage-all --p2p --tunnelled", "migration of non-shared storage is not supported with tunnelled migration"},
	} {
		_, errOut, rc := virsh(t, src.URI("qemu"), fmt.Sprintf("migrate --live %s pc %s", c.flags, dst.URI("qemu")))
		if rc == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("migrate %s: rc=%d %q, want %q", c.flags, rc, errOut, c.want)
		}
		if got := domState(t, src, "pc"); got != "running (booted)" {
			t.Fatalf("source after a refused migration (%s): %q", c.flags, got)
		}
	}
	if _, errOut, rc := virsh(t, src.URI("qemu"), "migrate-postcopy pc"); rc == 0 ||
		!strings.Contains(errOut, "post-copy can only be started while outgoing migration is in progress") {
		t.Errorf("migrate-postcopy without a migration: rc=%d %s", rc, errOut)
	}

	// Without --postcopy, migrate-postcopy is refused mid-way.
	type result struct {
		out string
		rc  int
	}
	done := make(chan result, 1)
	go func() {
		out, rc := migrateXML(t, src, dst, "pc", "--bandwidth 1", sock, sock2)
		done <- result{out, rc}
	}()
	waitJob(t, src, "pc", "Outgoing migration", "Data total:")
	if _, errOut, rc := virsh(t, src.URI("qemu"), "migrate-postcopy pc"); rc == 0 ||
		!strings.Contains(errOut, "switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag") {
		t.Errorf("migrate-postcopy of a pre-copy migration: rc=%d %s", rc, errOut)
	}
	mustVirsh(t, src.URI("qemu"), "domjobabort pc")
	if r := <-done; r.rc == 0 {
		t.Fatalf("aborted migration succeeded: %s", r.out)
	}
	waitState(t, src, "pc", "running (booted)", 30*time.Second)
	waitGone(t, dst, "pc")

	// --postcopy, switched by migrate-postcopy.
	srcEv, dstEv := watchEvents(t, src.URI("qemu")), watchEvents(t, dst.URI("qemu"))
	go func() {
		out, rc := migrateXML(t, src, dst, "pc", "--postcopy --bandwidth 1", sock, sock2)
		done <- result{out, rc}
	}()
	waitJob(t, src, "pc", "Outgoing migration", "Data total:")
	time.Sleep(2 * time.Second) // some pre-copy first
	mustVirsh(t, src.URI("qemu"), "migrate-postcopy pc")
	r := <-done
	if r.rc != 0 {
		t.Fatalf("migrate --postcopy: rc=%d\n%s", r.rc, r.out)
	}
	srcEv.expect(t, []string{"Suspended Post-copy", "Stopped Migrated"}, 30*time.Second)
	dstEv.expect(t, []string{"Started Migrated", "Resumed Post-copy", "Resumed Migrated"}, 30*time.Second)
	if got := domState(t, dst, "pc"); got != "running (migrated)" {
		t.Errorf("destination after post-copy: %q", got)
	}
	if got := domState(t, src, "pc"); got != "shut off (migrated)" {
		t.Errorf("source after post-copy: %q", got)
	}
	con = console(t, sock2)
	if got := guestMemSum(t, con, "/tmp/gvmem"); got != memWant {
		t.Errorf("guest memory after post-copy: %s, want %s", got, memWant)
	}
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("disk after post-copy: %s, want %s", got, want)
	}

	// Back with --postcopy-after-precopy: virsh switches after the first
	// pass (the migration iteration event).
	out, rc := migrateXML(t, dst, src, "pc", "--postcopy --postcopy-after-precopy --bandwidth 5", sock2, sock)
	if rc != 0 {
		t.Fatalf("migrate --postcopy-after-precopy: rc=%d\n%s", rc, out)
	}
	dstEv.expect(t, []string{"Suspended Post-copy", "Stopped Migrated"}, 30*time.Second)
	if got := domState(t, src, "pc"); got != "running (migrated)" {
		t.Errorf("back on the source: %q", got)
	}
	con = console(t, sock)
	if got := guestMemSum(t, con, "/tmp/gvmem"); got != memWant {
		t.Errorf("guest memory after --postcopy-after-precopy: %s, want %s", got, memWant)
	}

	// And once more with --timeout-postcopy.
	out, rc = migrateXML(t, src, dst, "pc", "--postcopy --timeout 12 --timeout-postcopy --bandwidth 1", sock, sock2)
	if rc != 0 {
		t.Fatalf("migrate --timeout-postcopy: rc=%d\n%s", rc, out)
	}
	if got := domState(t, dst, "pc"); got != "running (migrated)" {
		t.Errorf("destination after --timeout-postcopy: %q", got)
	}
	con = console(t, sock2)
	if got := guestMemSum(t, con, "/tmp/gvmem"); got != memWant {
		t.Errorf("guest memory after --timeout-postcopy: %s, want %s", got, memWant)
	}
}
