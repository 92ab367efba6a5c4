package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"govirt/testguest"
)

// TestQEMUMigrateTray: a CD-ROM tray the guest opened stays open after a
// migration between two govirtd daemons, and back (issue 18), as
// TestQEMUMigrateLibvirtdTray with libvirtd. The destination starts QEMU
// with the tray closed (the definition says nothing of it); the stream
// carries the guest's tray state and the destination reads it back once
// the incoming migration completed, before Finish returns, so the live
// XML shows it as soon as virsh migrate returns, with no tray event to
// wait for.
func TestQEMUMigrateTray(t *testing.T) {
	src, dst := migrateDaemons(t)
	dir := t.TempDir()
	image, sock := filepath.Join(dir, "disk.qcow2"), filepath.Join(dir, "con0")
	qemuImg(t, "create", "-q", "-f", "qcow2", image, "64M")
	cd := rawImage(t, dir, "cd.img", "1M")
	doc := migrateGuestXML(t, "mtray", image, sock)
	doc = strings.Replace(doc, "</disk>\n", `</disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='`+cd+`'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
`, 1)
	mustVirsh(t, src.URI("qemu"), "create "+writeXML(t, "mtray", doc))
	con := console(t, sock)
	if _, err := con.Expect(testguest.ReadyMarker, bootTimeout()); err != nil {
		t.Fatalf("%v\n%s", err, con.Output())
	}
	con.Send("gv-eject /dev/sr0")
	if _, err := con.Expect("GV-EJECT /dev/sr0 ok", 60*time.Second); err != nil {
		t.Fatalf("gv-eject: %v\n%s", err, con.Output())
	}
	const open = "<target dev='sda' bus='sata' tray='open'/>"
	// The guest's eject reaches the source's XML through QEMU's event.
	var got string
	for i := 0; i < 100 && !strings.Contains(got, open); i++ {
		time.Sleep(100 * time.Millisecond)
		got = mustVirsh(t, src.URI("qemu"), "dumpxml mtray")
	}
	if !strings.Contains(got, open) {
		t.Fatalf("no open tray on the source after the guest's eject:\n%s", got)
	}
	legs := []struct{ from, to *daemon }{{src, dst}, {dst, src}}
	for i, l := range legs {
		next := filepath.Join(dir, "con"+string(rune('1'+i)))
		if out, rc := migrateXML(t, l.from, l.to, "mtray", "", sock, next); rc != 0 {
			t.Fatalf("leg %d: rc=%d\n%s\nsource:\n%s", i+1, rc, out, tail(l.from.Log(), 3000))
		}
		sock = next
		if st := domState(t, l.to, "mtray"); st != "running (migrated)" {
			t.Fatalf("leg %d: destination: %q", i+1, st)
		}
		// No wait: the tray is read back before Finish returns.
		if doc := mustVirsh(t, l.to.URI("qemu"), "dumpxml mtray"); !strings.Contains(doc, open) {
			t.Errorf("leg %d: no open tray on the destination:\n%s", i+1, doc)
		}
		c := console(t, sock)
		c.Send("gv-sum /dev/vda 64")
		if _, err := c.Expect("GV-SUM /dev/vda ", 60*time.Second); err != nil {
			t.Errorf("leg %d: guest after the migration: %v", i+1, err)
		}
	}
	mustVirsh(t, src.URI("qemu"), "destroy mtray")
}
