package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// memlockOf is the hard RLIMIT_MEMLOCK of a process, in bytes (-1:
// unlimited).
func memlockOf(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Max locked memory\s+(\S+)\s+(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no locked memory limit in\n%s", b)
	}
	if string(m[2]) == "unlimited" {
		return -1
	}
	n, _ := strconv.ParseInt(string(m[2]), 10, 64)
	return n
}

// TestQEMUMigrateZeroCopy: a --parallel --zerocopy migration raises the
// source QEMU's locked-memory limit to the guest's memory while it runs
// (libvirt 9.0's qemuMigrationSrcRun: zero-copy sends need the pages in
// flight locked), puts the old limit back when it is aborted, and
// completes between two govirtd daemons. On a host where this daemon may
// not raise it (no CAP_SYS_RESOURCE, as in this project's containers) the
// migration fails with libvirt's error and the guest runs on the source
// with its limit unchanged.
func TestQEMUMigrateZeroCopy(t *testing.T) {
	src, dst := migrateDaemons(t)
	dir := t.TempDir()
	name := fmt.Sprintf("gvzc-%d", os.Getpid())
	image, sock := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "con0")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	mustVirsh(t, src.URI("qemu"), "create "+writeXML(t, name, migrateGuestXML(t, name, image, sock)))
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	want := guestWrite(t, con, "/dev/vda", 23, 1024)
	pid := qemuPidOf(t, name)
	before := memlockOf(t, pid)
	const guestBytes = 128 << 20
	if before < 0 || before >= guestBytes {
		t.Skipf("QEMU may already lock %d bytes", before)
	}
	// A slow migration, aborted: the limit is raised while it runs and
	// back afterwards.
	done := make(chan string, 1)
	go func() {
		out, _ := migrateXML(t, src, dst, name, "--parallel --zerocopy --bandwidth 1", sock, filepath.Join(dir, "con1"))
		done <- out
	}()
	for i := 0; ; i++ {
		out, _, _ := virsh(t, src.URI("qemu"), "domjobinfo "+name)
		if strings.Contains(out, "Data total:") {
			break
		}
		select {
		case out := <-done:
			// The host refused: libvirt's error, nothing changed.
			msg := fmt.Sprintf("error: cannot limit locked memory of process %d to %d: Operation not permitted", pid, guestBytes)
			if !strings.Contains(out, msg) {
				t.Fatalf("the migration ended early:\n%s\nwant %q\nsource:\n%s", out, msg, tail(src.Log(), 3000))
			}
			if st := domState(t, src, name); !strings.HasPrefix(st, "running") {
				t.Errorf("source after the refused migration: %q", st)
			}
			if got := memlockOf(t, pid); got != before {
				t.Errorf("locked memory limit after the refused migration: %d, want %d", got, before)
			}
			if _, _, rc := virsh(t, dst.URI("qemu"), "domstate "+name); rc == 0 {
				t.Errorf("%s left on the destination", name)
			}
			if got := guestSum(t, con, "/dev/vda", 1024); got != want {
				t.Errorf("disk data after the refused migration: %s, want %s", got, want)
			}
			mustVirsh(t, src.URI("qemu"), "destroy "+name)
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i > 300 {
			t.Fatalf("no migration job on the source: %s", out)
		}
	}
	if got := memlockOf(t, pid); got != guestBytes {
		t.Errorf("locked memory limit during the migration: %d, want %d", got, guestBytes)
	}
	mustVirsh(t, src.URI("qemu"), "domjobabort "+name)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the aborted migration did not end")
	}
	if got := memlockOf(t, pid); got != before {
		t.Errorf("locked memory limit after the aborted migration: %d, want %d", got, before)
	}
	// The whole migration, zero-copy.
	if out, rc := migrateXML(t, src, dst, name, "--parallel --zerocopy", sock, filepath.Join(dir, "con2")); rc != 0 {
		t.Fatalf("migrate --parallel --zerocopy: rc=%d\n%s\nsource:\n%s", rc, out, tail(src.Log(), 3000))
	}
	if st := domState(t, dst, name); st != "running (migrated)" {
		t.Fatalf("destination: %q", st)
	}
	if got := guestSum(t, console(t, filepath.Join(dir, "con2")), "/dev/vda", 1024); got != want {
		t.Errorf("disk data after the migration: %s, want %s", got, want)
	}
	mustVirsh(t, dst.URI("qemu"), "destroy "+name)
}

// TestQEMUMigrateLibvirtdZeroCopy compares the refusal with libvirtd
// 9.0's on this host: a guest moved to libvirtd, then migrated back
// with --parallel --zerocopy, gets the same error from libvirtd's source
// when the host does not let it raise its QEMU's locked-memory limit
// (else it arrives on govirtd): the text TestQEMUMigrateZeroCopy expects
// of govirtd's source.
func TestQEMUMigrateLibvirtdZeroCopy(t *testing.T) {
	d, uri, dir := startBesideLibvirtd(t)
	name := fmt.Sprintf("gvzc-lv-%d", os.Getpid())
	_, sock, _ := lvGuest(t, d, name, dir, "")
	next := filepath.Join(dir, "con1")
	lvMove(t, d, uri, libvirtdURI, name, "--unsafe", sock, next, "", "")
	sock = next
	pid := qemuPidOf(t, name)
	const guestBytes = 128 << 20
	if before := memlockOf(t, pid); before < 0 || before >= guestBytes {
		t.Skipf("libvirtd's QEMU may already lock %d bytes", before)
	}
	doc := mustVirsh(t, libvirtdURI, "dumpxml --migratable "+name)
	path := writeXML(t, "zc-back", strings.Replace(doc, sock, filepath.Join(dir, "con2"), 1))
	cmd := fmt.Sprintf("migrate --live --unsafe --parallel --zerocopy %s %s --xml %s --migrateuri tcp://127.0.0.1:%d", name, uri, path, freePort(t))
	_, lvErr, rc := virsh(t, libvirtdURI, cmd)
	if rc == 0 {
		if st := domState(t, d, name); st != "running (migrated)" {
			t.Fatalf("after libvirtd's zero-copy migration: %q", st)
		}
		mustVirsh(t, uri, "destroy "+name)
		t.Skip("libvirtd could raise its QEMU's limit: nothing to compare")
	}
	lvWant := fmt.Sprintf("cannot limit locked memory of process %d to %d: Operation not permitted", pid, guestBytes)
	if !strings.Contains(lvErr, lvWant) {
		t.Fatalf("libvirtd's zero-copy migration failed otherwise: %s", lvErr)
	}
	if st := libvirtdState(t, name); !strings.HasPrefix(st, "running") {
		t.Errorf("libvirtd's guest after the refusal: %q", st)
	}
	mustVirsh(t, libvirtdURI, "destroy "+name)
}
