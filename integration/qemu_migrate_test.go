package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"govirt/testguest"
)

// migrateDaemons starts a source and a destination govirtd on the same
// host, each with its own directories and sockets.
func migrateDaemons(t *testing.T) (src, dst *daemon) {
	t.Helper()
	src, dst = startDaemon(t), startDaemon(t)
	t.Cleanup(func() { killGuests(src); killGuests(dst) })
	return src, dst
}

// migrateGuestXML is a guest on a shared qcow2 image with its serial
// console on a socket outside both daemons' directories: after the
// migration the destination's QEMU serves it.
func migrateGuestXML(t *testing.T, name, image, sock string) string {
	t.Helper()
	disk := fmt.Sprintf(`<disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
`, image)
	return strings.Replace(guestXML(t, name, sock, ""), "<devices>\n", "<devices>\n    "+disk, 1)
}

func writeXML(t *testing.T, name, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func domState(t *testing.T, d *daemon, name string) string {
	t.Helper()
	out, errOut, rc := virsh(t, d.URI("qemu"), "domstate --reason "+name)
	if rc != 0 {
		return "error: " + strings.TrimSpace(errOut)
	}
	return strings.TrimSpace(out)
}

func migrate(t *testing.T, from, to *daemon, name, flags string) (string, int) {
	t.Helper()
	out, errOut, rc := virsh(t, from.URI("qemu"), fmt.Sprintf("migrate --live --verbose %s %s %s", flags, name, to.URI("qemu")))
	return out + errOut, rc
}

// migrateXML migrates with the destination's serial console on sock
// (--xml): two QEMUs cannot serve one socket path, and the source's
// removes its own when it quits.
func migrateXML(t *testing.T, from, to *daemon, name, flags, oldSock, sock string) (string, int) {
	t.Helper()
	doc := mustVirsh(t, from.URI("qemu"), "dumpxml --migratable "+name)
	if !strings.Contains(doc, oldSock) {
		t.Fatalf("console %s not in\n%s", oldSock, doc)
	}
	path := writeXML(t, name+"-dest", strings.Replace(doc, oldSock, sock, 1))
	return migrate(t, from, to, name, flags+" --xml "+path)
}

// waitJob waits until domjobinfo shows a job of that operation.
func waitJob(t *testing.T, d *daemon, name string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		out, _, _ = virsh(t, d.URI("qemu"), "domjobinfo "+name)
		ok := strings.Contains(out, "Unbounded")
		for _, w := range want {
			ok = ok && strings.Contains(out, w)
		}
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("domjobinfo %s never showed %q: %s", name, want, out)
}

// TestQEMUMigrateTransient migrates a running transient guest: a
// destination that refuses the guest leaves it running on the source; a
// migration that works moves it with its disk data and a working console,
// and it is gone from the source.
func TestQEMUMigrateTransient(t *testing.T) {
	src, dst := migrateDaemons(t)
	dir := t.TempDir()
	image, sock := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "console")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "create "+writeXML(t, "mig1", migrateGuestXML(t, "mig1", image, sock)))
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	want := guestWrite(t, con, "/dev/vda", 7, 1024)

	// The destination has another guest of that name: it refuses.
	mustVirsh(t, dst.URI("qemu"), "define "+writeXML(t, "other", testGuestXML(t, "mig1", "", "")))
	out, rc := migrate(t, src, dst, "mig1", "")
	if rc == 0 || !strings.Contains(out, "already defined with uuid") {
		t.Fatalf("migration onto a different guest: rc=%d\n%s", rc, out)
	}
	if got := domState(t, src, "mig1"); got != "running (booted)" {
		t.Fatalf("source after a refused migration: %q\n%s", got, src.Log())
	}
	if got := domState(t, dst, "mig1"); got != "shut off (unknown)" {
		t.Errorf("destination's own guest: %q", got)
	}
	mustVirsh(t, dst.URI("qemu"), "undefine mig1")

	// A slow migration shows in domjobinfo on both sides; domjobabort
	// cancels it and the guest keeps running on the source.
	type result struct {
		out string
		rc  int
	}
	done := make(chan result, 1)
	go func() {
		out, rc := migrate(t, src, dst, "mig1", "--bandwidth 1")
		done <- result{out, rc}
	}()
	waitJob(t, dst, "mig1", "Incoming migration")
	waitJob(t, src, "mig1", "Outgoing migration", "Data total:")
	if _, errOut, rc := virsh(t, dst.URI("qemu"), "domjobabort mig1"); rc == 0 || !strings.Contains(errOut, "cannot abort incoming migration") {
		t.Errorf("domjobabort on the destination: rc=%d %s", rc, errOut)
	}
	mustVirsh(t, src.URI("qemu"), "domjobabort mig1")
	r := <-done
	if r.rc == 0 || !strings.Contains(r.out, "operation aborted: migration out job: canceled by client") {
		t.Fatalf("aborted migration: rc=%d\n%s", r.rc, r.out)
	}
	if got := domState(t, src, "mig1"); got != "running (booted)" {
		t.Fatalf("source after an aborted migration: %q\n%s", got, src.Log())
	}
	if got := domState(t, dst, "mig1"); !strings.Contains(got, "failed to get domain") {
		t.Errorf("destination after an aborted migration: %q", got)
	}

	sock2 := filepath.Join(dir, "console2")
	out, rc = migrateXML(t, src, dst, "mig1", "", sock, sock2)
	if rc != 0 {
		t.Fatalf("migrate: rc=%d\n%s\nsource:\n%s\ndestination:\n%s", rc, out, src.Log(), dst.Log())
	}
	if !strings.Contains(out, "Migration: [100 %]") {
		t.Errorf("no progress in verbose output: %q", out)
	}
	if got := domState(t, dst, "mig1"); got != "running (migrated)" {
		t.Errorf("destination: %q", got)
	}
	if got := domState(t, src, "mig1"); !strings.Contains(got, "failed to get domain") {
		t.Errorf("source still has the transient guest: %q", got)
	}
	if out := mustVirsh(t, dst.URI("qemu"), "dominfo mig1"); !strings.Contains(out, "Persistent:     no") {
		t.Errorf("destination guest should be transient:\n%s", out)
	}
	con = console(t, sock2)
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after migration: %s, want %s", got, want)
	}
	want = guestWrite(t, con, "/dev/vda", 8, 512)

	// Both sides survive a restart; the destination keeps the guest.
	dst.crashRestart()
	if got := domState(t, dst, "mig1"); got != "running (migrated)" {
		t.Errorf("destination after a restart: %q", got)
	}

	// Back under another name, paused.
	out, rc = migrateXML(t, dst, src, "mig1", "--suspend --dname mig1b", sock2, sock)
	if rc != 0 {
		t.Fatalf("migrate back: rc=%d\n%s\n%s", rc, out, src.Log())
	}
	if got := domState(t, src, "mig1b"); got != "paused (user)" {
		t.Errorf("--suspend --dname: %q", got)
	}
	if got := domState(t, dst, "mig1"); !strings.Contains(got, "failed to get domain") {
		t.Errorf("left on the other side: %q", got)
	}
	mustVirsh(t, src.URI("qemu"), "resume mig1b")
	con = console(t, sock)
	if got := guestSum(t, con, "/dev/vda", 512); got != want {
		t.Errorf("data after migrating back: %s, want %s", got, want)
	}
	mustVirsh(t, src.URI("qemu"), "destroy mig1b")
}

// TestQEMUMigratePersistent migrates a persistent guest with
// --persistent (the source keeps its definition, shut off) and back with
// --persistent --undefinesource (the other side forgets it).
func TestQEMUMigratePersistent(t *testing.T) {
	src, dst := migrateDaemons(t)
	dir := t.TempDir()
	image, sock := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "console")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "define "+writeXML(t, "mig2", migrateGuestXML(t, "mig2", image, sock)))
	con := bootDiskGuest(t, src, "mig2", sock)
	want := guestWrite(t, con, "/dev/vda", 3, 1024)
	srcEv, dstEv := watchEvents(t, src.URI("qemu")), watchEvents(t, dst.URI("qemu"))

	sock2 := filepath.Join(dir, "console2")
	// The destination's definition comes from --persistent-xml.
	pdoc := mustVirsh(t, src.URI("qemu"), "dumpxml --inactive mig2")
	pdoc = strings.Replace(pdoc, "</name>", "</name>\n  <description>moved</description>", 1)
	out, rc := migrateXML(t, src, dst, "mig2", "--persistent --persistent-xml "+writeXML(t, "mig2-p", pdoc), sock, sock2)
	if rc != 0 {
		t.Fatalf("migrate: rc=%d\n%s\nsource:\n%s\ndestination:\n%s", rc, out, src.Log(), dst.Log())
	}
	if got := domState(t, src, "mig2"); got != "shut off (migrated)" {
		t.Errorf("source: %q", got)
	}
	if got := domState(t, dst, "mig2"); got != "running (migrated)" {
		t.Errorf("destination: %q", got)
	}
	if out := mustVirsh(t, dst.URI("qemu"), "dominfo mig2"); !strings.Contains(out, "Persistent:     yes") {
		t.Errorf("destination guest should be persistent:\n%s", out)
	}
	if out := mustVirsh(t, dst.URI("qemu"), "dumpxml --inactive mig2"); !strings.Contains(out, "<description>moved</description>") {
		t.Errorf("--persistent-xml not used:\n%s", out)
	}
	srcEv.expect(t, []string{
		"'lifecycle' for domain 'mig2': Suspended Migrated",
		"'lifecycle' for domain 'mig2': Stopped Migrated",
	}, 10*time.Second)
	dstEv.expect(t, []string{
		"'lifecycle' for domain 'mig2': Started Migrated",
		"'lifecycle' for domain 'mig2': Defined Added",
		"'lifecycle' for domain 'mig2': Resumed Migrated",
	}, 10*time.Second)
	con = console(t, sock2)
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after migration: %s, want %s", got, want)
	}
	want = guestWrite(t, con, "/dev/vda", 4, 1024)

	// Back, forgetting it on the way, to a --migrateuri without a port.
	out, rc = migrateXML(t, dst, src, "mig2", "--persistent --undefinesource --migrateuri tcp://127.0.0.1", sock2, sock)
	if rc != 0 {
		t.Fatalf("migrate back: rc=%d\n%s\nsource:\n%s\ndestination:\n%s", rc, out, dst.Log(), src.Log())
	}
	if got := domState(t, dst, "mig2"); !strings.Contains(got, "failed to get domain") {
		t.Errorf("--undefinesource left the guest: %q", got)
	}
	if got := domState(t, src, "mig2"); got != "running (migrated)" {
		t.Errorf("back on the source: %q", got)
	}
	dstEv.expect(t, []string{
		"'lifecycle' for domain 'mig2': Stopped Migrated",
		"'lifecycle' for domain 'mig2': Undefined Removed",
	}, 10*time.Second)
	srcEv.expect(t, []string{
		"'lifecycle' for domain 'mig2': Started Migrated",
		"'lifecycle' for domain 'mig2': Defined Updated",
		"'lifecycle' for domain 'mig2': Resumed Migrated",
	}, 10*time.Second)
	con = console(t, sock)
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after migrating back: %s, want %s", got, want)
	}
	src.crashRestart()
	if got := domState(t, src, "mig2"); got != "running (migrated)" {
		t.Errorf("after a restart: %q", got)
	}
	mustVirsh(t, src.URI("qemu"), "destroy mig2")
	if got := domState(t, src, "mig2"); got != "shut off (destroyed)" {
		t.Errorf("persistent guest after destroy: %q", got)
	}
}

// TestQEMUMigrateDaemonRestart kills either daemon in the middle of a
// migration: the restarted destination kills its half-migrated guest, the
// restarted source cancels the migration, and either way the guest keeps
// running on the source with its data. So it does when virsh dies; when
// the source's QEMU dies, both sides forget the guest.
func TestQEMUMigrateDaemonRestart(t *testing.T) {
	src, dst := migrateDaemons(t)
	dir := t.TempDir()
	image, sock := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "console")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "create "+writeXML(t, "mig3", migrateGuestXML(t, "mig3", image, sock)))
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	want := guestWrite(t, con, "/dev/vda", 5, 1024)

	for _, victim := range []*daemon{dst, src} {
		done := make(chan int, 1)
		go func() {
			_, rc := migrateXML(t, src, dst, "mig3", "--bandwidth 1", sock, filepath.Join(dir, "console2"))
			done <- rc
		}()
		waitJob(t, src, "mig3", "Outgoing migration", "Data total:")
		victim.crashRestart()
		select {
		case rc := <-done:
			if rc == 0 {
				t.Fatalf("migration survived a daemon crash")
			}
		case <-time.After(45 * time.Second):
			t.Fatalf("virsh migrate did not fail after the daemon crash")
		}
		if !strings.Contains(victim.Log(), "recovering an interrupted migration") {
			t.Errorf("restarted daemon did not recover the migration:\n%s", victim.Log())
		}
		waitState(t, src, "mig3", "running (booted)", 30*time.Second)
		waitGone(t, dst, "mig3")
		if out, _, _ := virsh(t, src.URI("qemu"), "domjobinfo mig3"); !strings.Contains(out, "None") {
			t.Errorf("job left on the source: %q", out)
		}
	}
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after the failed migrations: %s, want %s", got, want)
	}

	// virsh dies mid-migration: its connections close, the destination
	// kills its guest and the source keeps running it.
	doc := mustVirsh(t, src.URI("qemu"), "dumpxml --migratable mig3")
	xmlPath := writeXML(t, "mig3-dest", strings.Replace(doc, sock, filepath.Join(dir, "console2"), 1))
	cmd := exec.Command("virsh", "-c", src.URI("qemu"), "migrate --live --bandwidth 1 --xml "+xmlPath+" mig3 "+dst.URI("qemu"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitJob(t, src, "mig3", "Outgoing migration", "Data total:")
	cmd.Process.Kill()
	cmd.Wait()
	waitGone(t, dst, "mig3")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, _ := virsh(t, src.URI("qemu"), "domjobinfo mig3")
		if strings.Contains(out, "None") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("source job left after virsh died: %s\n%s", out, src.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := domState(t, src, "mig3"); got != "running (booted)" {
		t.Fatalf("source after virsh died: %q", got)
	}
	if got := guestSum(t, con, "/dev/vda", 1024); got != want {
		t.Errorf("data after virsh died: %s, want %s", got, want)
	}

	// The source's QEMU dies mid-migration: both sides forget the guest.
	done := make(chan int, 1)
	go func() {
		_, rc := migrateXML(t, src, dst, "mig3", "--bandwidth 1", sock, filepath.Join(dir, "console2"))
		done <- rc
	}()
	waitJob(t, src, "mig3", "Outgoing migration", "Data total:")
	if err := syscall.Kill(guestPID(t, src, "mig3"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if rc := <-done; rc == 0 {
		t.Fatal("migration survived the death of QEMU")
	}
	waitGone(t, src, "mig3")
	waitGone(t, dst, "mig3")
}

// waitGone waits until d no longer knows the guest.
func waitGone(t *testing.T, d *daemon, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(domState(t, d, name), "failed to get domain") {
		if time.Now().After(deadline) {
			t.Fatalf("guest %s still there: %q\n%s", name, domState(t, d, name), d.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
